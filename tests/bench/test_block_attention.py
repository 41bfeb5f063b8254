"""bench/block_attention.py: where each passage of a prompt begins and ends in its tokens."""

from __future__ import annotations

from assistant.prompts import ANSWER_SYSTEM
from bench.block_attention import passage_spans


class _Chars:
    """A tokenizer whose tokens are the characters of the text, or fixed pieces where given."""

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces

    def detokenize(self, tokens: list[int], special: bool = False) -> bytes:
        return "".join(self.pieces[t] for t in tokens).encode("utf-8")


def _spans(prompt: str, pieces: list[str]) -> list[tuple[int, int]] | None:
    return passage_spans(_Chars(pieces), prompt, list(range(len(pieces))))


def test_passages_run_from_each_opening_tag_to_the_last_closing_one() -> None:
    prompt = "系统\n<资料 编号=1>\n甲\n</资料>\n<资料 编号=2>\n乙\n</资料>\n问题：？"
    spans = _spans(prompt, list(prompt))
    first, second = prompt.index("<资料 编号=1>"), prompt.index("<资料 编号=2>")
    assert spans == [(first, second), (second, prompt.rindex("</资料>") + len("</资料>"))]


def test_the_tags_the_rules_name_are_no_passage() -> None:
    prompt = f"{ANSWER_SYSTEM}\n<资料 编号=1>\n甲\n</资料>\n问题：？"
    start = prompt.index("\n<资料 编号=1>\n") + 1
    assert _spans(prompt, list(prompt)) == [(start, prompt.rindex("</资料>") + len("</资料>"))]


def test_a_token_across_a_boundary_belongs_to_the_passage_it_starts() -> None:
    prompt = "问：\n<资料 编号=1>甲</资料>\n答"
    pieces = ["问：", "\n<", "资料 编号=1>", "甲</", "资料>\n", "答"]
    assert _spans(prompt, pieces) == [(1, 5)]


def test_no_passage_and_tokens_that_do_not_spell_the_prompt() -> None:
    assert _spans("只有问题", list("只有问题")) == []
    assert _spans("<资料 编号=1>甲</资料>", list("<资料 编号=1>乙乙</资料>")) is None
