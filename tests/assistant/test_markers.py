"""Citation markers: the forms a model writes, and the sentence each belongs to."""

from __future__ import annotations

import pytest

from assistant.markers import cited_numbers, renumbered, split_answer, with_markers
from core.types import Citation


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("条例将于9月1日起施行[1]。", [(1,)]),
        ("条例将于9月1日起施行【2】。", [(2,)]),
        ("条例将于9月1日起施行［3］。", [(3,)]),
        ("条例将于9月1日起施行［１］。", [(1,)]),
        ("条例将于9月1日起施行[1,2]。", [(1, 2)]),
        ("条例将于9月1日起施行[1、3]。", [(1, 3)]),
        ("条例将于9月1日起施行[1][2]。", [(1, 2)]),
        ("条例将于9月1日起施行。[2]条例共五十八条。【1】", [(2,), (1,)]),
        ("条例将于9月1日起施行[资料1]。", [(1,)]),
        ("条例将于9月1日起施行（资料2）。", [(2,)]),
        ("条例将于9月1日起施行。[编号=3]", [(3,)]),
        ("条例分为四类(1)可回收物。", [()]),
        ("条例将于9月1日起施行。", [()]),
        # a reply that opens with a marker writes each marker before its sentence
        ("[1]条例将于9月1日起施行。[2]条例共五十八条。", [(1,), (2,)]),
        ("[1]条例将于9月1日起施行。\n[2]条例共五十八条。[3]", [(1,), (2, 3)]),
        # markers on a line of their own cite the sentence before it (the local model wrote this)
        ("条例将于9月1日起施行。\n[1][2]", [(1, 2)]),
        ("条例将于9月1日起施行[1]。\n\n[2]", [(1, 2)]),
        # the source named in words at the head of a sentence is its citation, not a fact to check
        ("根据资料编号为2的资料，条例共五十八条。", [(2,)]),
        ("资料3显示，条例共五十八条[1]。", [(1, 3)]),
        ("资料3和资料1都说条例共五十八条。", [()]),
        ("根据资料[1]和[2]，条例共五十八条。", [(1, 2)]),
        # the prompt's own labels ("正文：", "标题：") copied into the reference
        ("[1]根据资料编号为1的正文，条例共五十八条。[2]根据资料编号为2的标题，条例已通过。", [(1,), (2,)]),
    ],
)
def test_marker_forms_are_parsed_and_attached_to_their_sentence(reply: str, expected: list[tuple[int, ...]]) -> None:
    sentences = [s for s in split_answer(reply) if not s.separator]
    assert [s.cited for s in sentences] == expected
    assert all("[" not in s.text and "【" not in s.text and "［" not in s.text for s in sentences)


@pytest.mark.parametrize(
    "reference", ["根据资料编号为2的资料，", "根据资料编号为2的正文，", "资料2显示，", "根据资料[2]，"]
)
def test_a_reference_to_the_source_is_not_left_in_the_sentence(reference: str) -> None:
    assert [(s.text, s.cited) for s in split_answer(reference + "条例共五十八条。")] == [("条例共五十八条。", (2,))]


def test_sources_named_inside_a_sentence_leave_their_word_and_cite_it() -> None:
    """A list of the model's ended "这些要求都是根据资料[1]、[2]、[3]、[4]中…", shown as "资料、、、中"."""
    reply = "这些要求都是根据资料[1]、[2]、[3]和[4]中的内容提出来的。"
    assert [(s.text, s.cited) for s in split_answer(reply)] == [
        ("这些要求都是根据资料中的内容提出来的。", (1, 2, 3, 4))
    ]
    # markers after anything else than a source word are only stripped
    assert split_answer("条例共五十八条[1]、九章[2]。")[0].text == "条例共五十八条、九章。"


def test_cited_numbers_order_and_ranges() -> None:
    assert cited_numbers("甲[2]乙[1,2]丙【3】丁[4-5]") == [2, 1, 3, 4, 5]


def _cited(n: int) -> Citation:
    return Citation(n, n, f"a{n}", "", "2024-02-02", 0, "原文", 0, 2, True)


def test_sources_are_renumbered_in_reading_order_after_those_shown_above() -> None:
    text, citations, numbers = renumbered("甲[2]。乙[1][2]。", [_cited(2), _cited(1)], {})
    assert text == "甲[1]。乙[2][1]。" and [c.n for c in citations] == [1, 2] and numbers == {2: 1, 1: 2}
    # the quotation above showed prompt source 2 as [1], and a source this prompt does not hold as [2]
    text, citations, numbers = renumbered("甲[1]。乙[2]。", [_cited(1), _cited(2)], {2: 1}, shown=2)
    assert text == "甲[3]。乙[1]。" and [c.n for c in citations] == [3, 1] and numbers == {2: 1, 1: 3}


def test_a_comma_before_the_full_stop_goes_with_the_marker() -> None:
    # "…一批”，[1]。" from the model: the marker takes the comma's place, the sentence ends once
    assert with_markers("切实做到“更新改造一批”，。", [1]) == "切实做到“更新改造一批”[1]。"
    assert with_markers("条例将于9月1日起施行。", [1]) == "条例将于9月1日起施行[1]。"
    assert with_markers("条例共九章、五十八条，", [1]) == "条例共九章、五十八条[1]，"  # no stop: join_sentences ends it
