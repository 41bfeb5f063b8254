from __future__ import annotations

import random

from bench.load import ChatEndpoints, Record, Run, by_asking, find_endpoints, type_question


def test_questions_asked_again_are_told_apart_from_first_askings() -> None:
    records = [
        Record(0, "垃圾分类条例什么时候施行？", 0.0, latency=9.0, outcome="answer"),
        Record(1, "武高新规上工业总产值是多少？", 1.0, latency=12.0, outcome="answer"),
        Record(2, "垃圾分类条例什么时候施行？", 5.0, latency=0.1, outcome="answer"),  # by another resident
        Record(0, "垃圾分类条例什么时候施行？", 20.0, latency=None, outcome="error:timeout"),
        Record(1, "今年有几场演出？", 21.0, latency=3.0, outcome="refusal"),
    ]
    split = by_asking(list(reversed(records)))  # in the order they were sent, not the order they ended
    assert split["first_asked"] == {"questions": 3, "latency_p50_s": 9.0, "under_1_s": 0}
    assert split["asked_again"] == {"questions": 2, "latency_p50_s": 0.1, "under_1_s": 1}


def test_a_run_without_repeats_says_so() -> None:
    split = by_asking([Record(0, "问题一？", 0.0, latency=2.0, outcome="answer")])
    assert split["asked_again"] == {"questions": 0, "latency_p50_s": None, "under_1_s": 0}


def test_the_typing_event_is_found_beside_the_chat_steps() -> None:
    config = {
        "components": [{"id": 1, "props": {"elem_id": "question"}}, {"id": 2, "props": {"elem_id": "chat"}}],
        "dependencies": [
            {"id": 10, "inputs": [1, 3], "queue": False, "targets": [[1, "submit"]]},
            {"id": 11, "inputs": [3, 2], "trigger_after": 10},
            {"id": 12, "inputs": [], "trigger_after": 11},
            {"id": 13, "inputs": [1, 2], "queue": False, "targets": [[1, "input"]]},
        ],
    }
    assert find_endpoints(config) == ChatEndpoints(take=10, respond=11, done=12, typing=13)
    config["dependencies"].pop()  # an app without it: questions are typed, no event is sent
    assert find_endpoints(config).typing is None


class _Posts:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    def post(self, url: str, json: dict) -> _Posts:
        self.sent.append(json)
        return self

    def raise_for_status(self) -> None:
        pass


def test_a_resident_types_a_question_a_word_at_a_time(monkeypatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("bench.load.time.sleep", slept.append)
    run = Run("http://127.0.0.1:7860", ChatEndpoints(1, 2, 3, typing=4), 0.0, 10.0, 1, (2.0, 8.0), 0.0, typing_cps=2.0)
    client, history = _Posts(), [{"role": "user", "content": "前一个问题"}]
    type_question(client, run, "s1", "垃圾分类条例什么时候施行？", history, random.Random(0))  # 13 characters
    assert [p["data"][0] for p in client.sent] == [
        "垃圾",
        "垃圾分类",
        "垃圾分类条例",
        "垃圾分类条例什么",
        "垃圾分类条例什么时候",
        "垃圾分类条例什么时候施行",
        "垃圾分类条例什么时候施行？",
    ]
    assert {p["fn_index"] for p in client.sent} == {4} and all(p["data"][1] == history for p in client.sent)
    assert len(slept) == 7 and all(0.5 <= s <= 1.5 for s in slept)  # ~a second a word of two at 2 a second

    client = _Posts()
    type_question(client, Run(**{**vars(run), "typing_cps": 0.0}), "s1", "问题？", [], random.Random(0))
    assert client.sent == []  # not typed: sent at once
