"""bench/followups.py: what counts as searched right, and the conversations it reads."""

from __future__ import annotations

import json

from bench.followups import CONVERSATIONS, searched_right

PARK = [["口袋公园在哪里？", "果蔬艺术空间口袋公园位于武南路凤栖路西北角[1]。"]]


def test_a_follow_up_names_the_topic_and_keeps_its_own_words() -> None:
    conversation = {"kind": "follow_up", "history": PARK, "question": "面积多大？", "topic": "口袋公园"}
    conversation["keep"] = ["面积"]
    assert searched_right(conversation, "口袋公园 面积多大？")
    assert not searched_right(conversation, "面积多大？")  # no topic
    assert not searched_right(conversation, "口袋公园在哪里？")  # the last question again


def test_another_question_brings_in_nothing_of_the_conversation() -> None:
    conversation = {"kind": "new_topic", "history": PARK, "question": "武高新税收多少？"}
    assert searched_right(conversation, "武高新税收多少？")
    assert searched_right(conversation, "武高新区的税收是多少？")  # said otherwise, nothing carried over
    assert not searched_right(conversation, "口袋公园 武高新税收多少？")


def test_the_conversations_are_well_formed() -> None:
    rows = [json.loads(line) for line in CONVERSATIONS.read_text(encoding="utf-8").splitlines()]
    assert len({r["id"] for r in rows}) == len(rows) >= 20
    assert {r["split"] for r in rows} == {"dev", "held_out"} and {r["kind"] for r in rows} == {"follow_up", "new_topic"}
    for r in rows:
        assert r["question"].strip() and all(len(turn) == 2 for turn in r["history"])
        assert (r["kind"] == "follow_up") == bool(r.get("topic")), r["id"]


def test_the_conversations_are_a_question_set_for_newsqa_eval_too() -> None:
    from eval.questions import load_questions

    questions = load_questions(CONVERSATIONS)
    assert len(questions) >= 20 and all(q.history for q in questions)
    assert [q.id for q in questions if not q.answerable] == ["conv-11"]  # the page does not say
    assert all(q.answers and q.gold_titles for q in questions if q.answerable)
