"""Chinese text helpers: sentences, normalisation, bigrams, numerals, question words."""

from __future__ import annotations

import pytest

from core.text import (
    ASKS_FOR_NUMBER,
    QUESTION_WORDS,
    SENTENCE,
    bigrams,
    is_question,
    normalise,
    numeral_value,
    sentence_spans,
    simplified,
    simplified_history,
)


def test_a_sentence_keeps_its_end_marks_and_closing_quote() -> None:
    text = "他说：“条例九月施行。”记者问：真的吗？！是的；\n第二段"
    assert [m.group() for m in SENTENCE.finditer(text)] == [
        "他说：“条例九月施行。”",
        "记者问：真的吗？！",
        "是的；",
        "第二段",
    ]


def test_sentence_spans_leave_out_surrounding_whitespace() -> None:
    text = "  第一句。 第二句！\n\n 第三句"
    assert [text[s:e] for s, e in sentence_spans(text)] == ["第一句。", "第二句！", "第三句"]


def test_normalise_full_width_thousands_and_spaces() -> None:
    assert normalise("产值近１,３００亿元， 占比 68％") == "产值近1300亿元,占比68%"
    # digits on either side of a space stay two numbers
    assert normalise("14:37 3月10日") == "14:37|3月10日"


def test_bigrams_never_span_punctuation_or_space() -> None:
    assert bigrams("条例施行，共58条") == {"条例", "例施", "施行", "共5", "58", "8条"}
    assert bigrams("a_b 中") == {"a_", "_b"}
    assert bigrams("a_b 中", letters_only=True) == frozenset()


@pytest.mark.parametrize(
    ("numeral", "value"),
    [
        ("3", 3),
        ("２０２４", 2024),
        ("三", 3),
        ("两", 2),
        ("〇", 0),
        ("十", 10),
        ("十二", 12),
        ("二十", 20),
        ("二十一", 21),
        ("五十八", 58),
        ("九", 9),
        ("两百", 200),
        ("一百零五", 105),
        ("一千三百", 1300),
        ("二〇二三", 2023),
    ],
)
def test_numeral_values(numeral: str, value: int) -> None:
    assert numeral_value(numeral) == value
    assert numeral_value(numeral, strict=False) == value


@pytest.mark.parametrize(("numeral", "lenient"), [("三三十", 30), ("十十", 20), ("两两", 22), ("两三", 23), ("", None)])
def test_a_malformed_numeral_has_a_value_only_when_not_strict(numeral: str, lenient: int | None) -> None:
    assert numeral_value(numeral) is None
    assert numeral_value(numeral, strict=False) == lenient


def test_question_words_go_longest_first() -> None:
    content = "条例什么时候施行"
    for word in QUESTION_WORDS:
        content = content.replace(word, " ")
    assert content == "条例 施行"


def test_questions_and_what_they_ask_for() -> None:
    assert is_question("条例哪天施行") and is_question("施行了？") and not is_question("条例九月施行。")
    assert ASKS_FOR_NUMBER.search("一共有几条") and not ASKS_FOR_NUMBER.search("条例由谁起草")


def test_traditional_characters_are_made_simplified_and_simplified_text_is_left_as_it_is() -> None:
    assert simplified("喬俊傑強調了什麼？") == "乔俊杰强调了什么？"
    assert simplified("垃圾分類條例什麼時候施行？") == "垃圾分类条例什么时候施行？"
    for text in ("著名作家乔俊杰于2024年9月1日起施行", "乾隆皇帝", "后来的发展", "武进日报", ""):
        assert simplified(text) == text
    assert simplified("垃圾\ud800分類") == "垃圾\ufffd分类"  # half a surrogate pair is no character
    assert simplified_history([("喬俊傑是誰？", "乔俊杰是区委书记[1]。")]) == [
        ("乔俊杰是谁？", "乔俊杰是区委书记[1]。")
    ]
