"""Normaliser: full-width punctuation decided by context, invisible characters, spaces, broken paragraphs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.normalize import (
    clean_text,
    ends_sentence,
    first_clause,
    fullwidth_punctuation,
    normalize_line,
    normalize_text,
    repair_paragraphs,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("昨天上午, 市委", "昨天上午，市委"),
        ("本报讯 (记者 朱梦琪) 昨天上午", "本报讯（记者 朱梦琪）昨天上午"),
        ("城与人共赴未来; 学习借鉴", "城与人共赴未来；学习借鉴"),
        ("他指出: 今年", "他指出：今年"),
        ("这合理吗? 当然! 好", "这合理吗？当然！好"),
        ("占比达68%, 新能源", "占比达68%，新能源"),
        ("“三篇文章”, 打造", "“三篇文章”，打造"),
        ("2023年, 武高新", "2023年，武高新"),
    ],
)
def test_ascii_punctuation_next_to_chinese_becomes_full_width(raw: str, expected: str) -> None:
    assert normalize_line(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["产值1,300亿元", "增长3.5%", "上午10:30开会", "Hello, world (test)!", "Is it ok? Yes: it is.", "v1.2 (beta)"],
)
def test_numbers_times_and_latin_text_are_untouched(raw: str) -> None:
    assert normalize_line(raw) == raw


def test_parentheses_convert_as_a_pair() -> None:
    assert fullwidth_punctuation("武进(Wujin)区") == "武进（Wujin）区"
    assert fullwidth_punctuation("see (note) here") == "see (note) here"


def test_clean_text_drops_invisible_characters_and_unifies_newlines() -> None:
    assert clean_text("\ufeff武\u200b进\r\n日报\r新闻\u2028") == "武进\n日报\n新闻\n"
    assert clean_text("２０２３年") == "2023年"
    assert clean_text("武进\u3000日报") == "武进 日报"


def test_space_runs_collapse_but_name_separators_stay() -> None:
    assert normalize_line("陆新   徐晶玮  摄") == "陆新 徐晶玮 摄"
    assert normalize_line("交流。 陆新 徐晶玮 摄") == "交流。陆新 徐晶玮 摄"
    assert normalize_line("我区召开 “阳湖N警” 部署会") == "我区召开“阳湖N警”部署会"


def test_normalize_text_keeps_blank_lines() -> None:
    assert normalize_text("标题\n\n正文, 第一段。\n") == "标题\n\n正文，第一段。\n"


def test_repair_joins_paragraphs_broken_mid_sentence() -> None:
    paragraphs = ["2023年，武高新紧紧围绕区委、区政府决策部署，勇攀新", "高、锐意进取，工作指标凸显。", "第二段。"]
    assert repair_paragraphs(paragraphs) == [
        "2023年，武高新紧紧围绕区委、区政府决策部署，勇攀新高、锐意进取，工作指标凸显。",
        "第二段。",
    ]


def test_repair_keeps_paragraphs_that_end_a_sentence_or_a_quote() -> None:
    paragraphs = ["他说：“要抓好安全生产。”", "要加强值守；", "确保畅通……", "最后一段没有句号"]
    assert repair_paragraphs(paragraphs) == paragraphs


def test_repair_restores_the_space_between_broken_latin_words() -> None:
    assert repair_paragraphs(["The council met", "on Monday."]) == ["The council met on Monday."]


def test_ends_sentence_looks_past_closing_quotes() -> None:
    assert ends_sentence("打造“高新铁军”。")
    assert ends_sentence("“安全第一。”")
    assert not ends_sentence("把“安全发展、生命至")
    assert not ends_sentence("打造“高新铁军”")


def test_first_clause() -> None:
    assert (
        first_clause("果蔬艺术空间口袋公园位于武南路凤栖路西北角，紧邻湖塘镇")
        == "果蔬艺术空间口袋公园位于武南路凤栖路西北角"
    )
    assert first_clause("一二三四五六", limit=3) == "一二三"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="武进日报 ,;:?!()。，“”ab1\u3000\u200b", max_size=30))
def test_normalize_line_is_idempotent(raw: str) -> None:
    once = normalize_line(raw)
    assert normalize_line(once) == once


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="武进。！”，ab. ", max_size=12), max_size=6))
def test_repair_is_idempotent_and_keeps_every_character(paragraphs: list[str]) -> None:
    repaired = repair_paragraphs(paragraphs)
    assert repair_paragraphs(repaired) == repaired
    assert "".join("".join(repaired).split()) == "".join("".join(paragraphs).split())
