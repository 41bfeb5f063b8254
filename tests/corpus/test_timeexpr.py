"""Relative time expressions: dates at month/year/leap boundaries, festivals, false positives, offsets, questions."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.timeexpr import (
    TimeMention,
    annotate,
    annotate_with_offsets,
    parse_question_time,
    parse_range,
    relative_mentions,
    resolve_expressions,
    rewrite_question,
)
from corpus.timeexpr.spans import render_range

SEED_PAGE = Path("/work/shared/seed/000_989b286bc898d7e2.txt")
D = date


def only(text: str, pub: date) -> TimeMention:
    mentions = resolve_expressions(text, pub)
    assert len(mentions) == 1, mentions
    return mentions[0]


# text, publication date, matched wording, rendering, first, last
CASES = [
    # days, with month, year and leap-day boundaries
    ("昨天上午，市委召开会议", D(2024, 2, 2), "昨天上午", "2024年2月1日上午", D(2024, 2, 1), D(2024, 2, 1)),
    ("昨天，", D(2024, 3, 1), "昨天", "2024年2月29日", D(2024, 2, 29), D(2024, 2, 29)),
    ("昨天，", D(2023, 3, 1), "昨天", "2023年2月28日", D(2023, 2, 28), D(2023, 2, 28)),
    ("昨天，", D(2024, 1, 1), "昨天", "2023年12月31日", D(2023, 12, 31), D(2023, 12, 31)),
    ("记者昨日从市统计局获悉", D(2024, 5, 10), "昨日", "2024年5月9日", D(2024, 5, 9), D(2024, 5, 9)),
    ("今天下午召开", D(2024, 2, 2), "今天下午", "2024年2月2日下午", D(2024, 2, 2), D(2024, 2, 2)),
    ("今日凌晨", D(2024, 2, 2), "今日凌晨", "2024年2月2日凌晨", D(2024, 2, 2), D(2024, 2, 2)),
    ("他前天晚上赶到", D(2024, 1, 1), "前天晚上", "2023年12月30日晚上", D(2023, 12, 30), D(2023, 12, 30)),
    ("展览明天开幕", D(2023, 12, 31), "明天", "2024年1月1日", D(2024, 1, 1), D(2024, 1, 1)),
    ("将于后天中午举行", D(2024, 2, 28), "后天中午", "2024年3月1日中午", D(2024, 3, 1), D(2024, 3, 1)),
    ("昨晚，", D(2024, 2, 2), "昨晚", "2024年2月1日晚上", D(2024, 2, 1), D(2024, 2, 1)),
    ("今晨6时", D(2024, 2, 2), "今晨", "2024年2月2日早晨", D(2024, 2, 2), D(2024, 2, 2)),
    # weeks (Monday first); 2024-01-03 is a Wednesday, 2024-02-02 a Friday
    ("上周一，", D(2024, 1, 3), "上周一", "2023年12月25日", D(2023, 12, 25), D(2023, 12, 25)),
    ("上周，", D(2024, 1, 3), "上周", "2023年12月25日至31日", D(2023, 12, 25), D(2023, 12, 31)),
    ("本周，", D(2024, 1, 3), "本周", "2024年1月1日至7日", D(2024, 1, 1), D(2024, 1, 7)),
    ("下周三上午", D(2024, 2, 2), "下周三上午", "2024年2月7日上午", D(2024, 2, 7), D(2024, 2, 7)),
    ("下个星期天", D(2024, 2, 2), "下个星期天", "2024年2月11日", D(2024, 2, 11), D(2024, 2, 11)),
    ("上礼拜五", D(2024, 2, 2), "上礼拜五", "2024年1月26日", D(2024, 1, 26), D(2024, 1, 26)),
    ("本周末，", D(2024, 2, 2), "本周末", "2024年2月3日至4日", D(2024, 2, 3), D(2024, 2, 4)),
    ("周三下午，", D(2024, 2, 2), "周三下午", "2024年1月31日下午", D(2024, 1, 31), D(2024, 1, 31)),
    ("星期五，", D(2024, 2, 2), "星期五", "2024年2月2日", D(2024, 2, 2), D(2024, 2, 2)),
    ("下周，", D(2024, 12, 30), "下周", "2025年1月6日至12日", D(2025, 1, 6), D(2025, 1, 12)),
    # months
    ("上月，", D(2024, 1, 15), "上月", "2023年12月", D(2023, 12, 1), D(2023, 12, 31)),
    ("上个月，", D(2024, 3, 31), "上个月", "2024年2月", D(2024, 2, 1), D(2024, 2, 29)),
    ("下月起实施", D(2023, 12, 5), "下月", "2024年1月", D(2024, 1, 1), D(2024, 1, 31)),
    ("本月底前完成", D(2023, 2, 8), "本月底", "2023年2月底", D(2023, 2, 21), D(2023, 2, 28)),
    ("本月中旬，", D(2024, 2, 8), "本月中旬", "2024年2月中旬", D(2024, 2, 11), D(2024, 2, 20)),
    # years and their parts
    ("今年是全市万亿之城再出发的第一年", D(2024, 2, 2), "今年", "2024年", D(2024, 1, 1), D(2024, 12, 31)),
    ("去年，", D(2024, 1, 1), "去年", "2023年", D(2023, 1, 1), D(2023, 12, 31)),
    ("前年，", D(2024, 2, 2), "前年", "2022年", D(2022, 1, 1), D(2022, 12, 31)),
    ("明年将", D(2024, 2, 2), "明年", "2025年", D(2025, 1, 1), D(2025, 12, 31)),
    ("今年上半年，", D(2024, 8, 2), "今年上半年", "2024年上半年", D(2024, 1, 1), D(2024, 6, 30)),
    ("去年下半年，", D(2024, 8, 2), "去年下半年", "2023年下半年", D(2023, 7, 1), D(2023, 12, 31)),
    ("今年一季度", D(2024, 5, 2), "今年一季度", "2024年第一季度", D(2024, 1, 1), D(2024, 3, 31)),
    ("去年第四季度", D(2024, 5, 2), "去年第四季度", "2023年第四季度", D(2023, 10, 1), D(2023, 12, 31)),
    ("今年前三季度", D(2024, 10, 20), "今年前三季度", "2024年前三季度", D(2024, 1, 1), D(2024, 9, 30)),
    ("去年12月，", D(2024, 2, 2), "去年12月", "2023年12月", D(2023, 12, 1), D(2023, 12, 31)),
    ("去年十二月三十一日", D(2024, 2, 2), "去年十二月三十一日", "2023年12月31日", D(2023, 12, 31), D(2023, 12, 31)),
    ("今年2月29日", D(2024, 1, 5), "今年2月29日", "2024年2月29日", D(2024, 2, 29), D(2024, 2, 29)),
    ("今年底建成", D(2024, 2, 2), "今年底", "2024年底", D(2024, 11, 1), D(2024, 12, 31)),
    # counted back
    ("三年前，", D(2024, 2, 2), "三年前", "2021年", D(2021, 1, 1), D(2021, 12, 31)),
    ("10年前", D(2024, 2, 2), "10年前", "2014年", D(2014, 1, 1), D(2014, 12, 31)),
    ("十二年前", D(2024, 2, 2), "十二年前", "2012年", D(2012, 1, 1), D(2012, 12, 31)),
    ("5天前", D(2024, 3, 3), "5天前", "2024年2月27日", D(2024, 2, 27), D(2024, 2, 27)),
    ("两个月前", D(2024, 1, 15), "两个月前", "2023年11月", D(2023, 11, 1), D(2023, 11, 30)),
    # a relative year, month or week with the absolute part it leads: one span, one date
    ("三年前5月，", D(2024, 6, 1), "三年前5月", "2021年5月", D(2021, 5, 1), D(2021, 5, 31)),
    ("去年的12月24日", D(2023, 8, 1), "去年的12月24日", "2022年12月24日", D(2022, 12, 24), D(2022, 12, 24)),
    ("协议于本月17日到期", D(2023, 7, 20), "本月17日", "2023年7月17日", D(2023, 7, 17), D(2023, 7, 17)),
    ("上月7日，", D(2024, 1, 3), "上月7日", "2023年12月7日", D(2023, 12, 7), D(2023, 12, 7)),
    ("78年前的今天，", D(2023, 8, 15), "78年前的今天", "1945年8月15日", D(1945, 8, 15), D(1945, 8, 15)),
    ("两周前的周五", D(2024, 1, 3), "两周前的周五", "2023年12月22日", D(2023, 12, 22), D(2023, 12, 22)),
    ("三年前春节期间", D(2024, 6, 1), "三年前春节期间", "2021年2月12日春节期间", D(2021, 2, 11), D(2021, 2, 18)),
    # festivals: 春节 from the lunar calendar
    ("春节前，", D(2024, 2, 2), "春节前", "2024年2月10日春节前", D(2024, 1, 11), D(2024, 2, 9)),
    ("春节期间，", D(2025, 1, 20), "春节期间", "2025年1月29日春节期间", D(2025, 1, 28), D(2025, 2, 4)),
    ("春节当天", D(2023, 1, 10), "春节当天", "2023年1月22日", D(2023, 1, 22), D(2023, 1, 22)),
    ("春节以来", D(2023, 2, 20), "春节以来", "2023年1月22日春节以来", D(2023, 1, 22), D(2023, 2, 20)),
    ("去年春节", D(2024, 12, 1), "去年春节", "2023年1月22日", D(2023, 1, 22), D(2023, 1, 22)),
    ("今年春节前夕", D(2025, 1, 2), "今年春节前夕", "2025年1月29日春节前夕", D(2025, 1, 22), D(2025, 1, 28)),
    ("除夕夜", D(2024, 2, 2), "除夕", "2024年2月9日", D(2024, 2, 9), D(2024, 2, 9)),
    ("元宵节", D(2024, 2, 20), "元宵节", "2024年2月24日", D(2024, 2, 24), D(2024, 2, 24)),
    ("元旦假期", D(2023, 12, 20), "元旦假期", "2024年1月1日元旦假期", D(2023, 12, 31), D(2024, 1, 2)),
    ("国庆节期间", D(2024, 10, 9), "国庆节期间", "2024年10月1日国庆节期间", D(2024, 10, 1), D(2024, 10, 7)),
    ("国庆长假", D(2024, 9, 20), "国庆长假", "2024年10月1日国庆节长假", D(2024, 10, 1), D(2024, 10, 7)),
]


@pytest.mark.parametrize(("text", "pub", "wording", "resolved", "first", "last"), CASES)
def test_expression_resolves_to_expected_dates(text, pub, wording, resolved, first, last):
    mention = only(text, pub)
    assert (mention.text, mention.resolved, mention.first, mention.last) == (wording, resolved, first, last)
    assert text[mention.start : mention.end] == wording


@pytest.mark.parametrize(("year", "new_year"), [(2023, D(2023, 1, 22)), (2024, D(2024, 2, 10)), (2025, D(2025, 1, 29))])
def test_spring_festival_follows_the_lunar_calendar(year, new_year):
    mention = only("春节，", D(year, 1, 5))
    assert mention.first == mention.last == new_year


@pytest.mark.parametrize(
    "text",
    [
        "2024年9月1日起施行",  # absolute dates stay as they are
        "2023年，武高新",
        "2024年春节期间燃放管控",
        "2023年前三季度",
        "2023年前，",  # "before 2023", not "2023 years ago"
        "二〇二三年前",
        "如今年轻人越来越多",  # 如今 + 年轻人
        "前天津市委书记",  # 前 + 天津市
        "目前天气晴好",  # 目前 + 天气
        "说明天津发展很快",  # 说明 + 天津
        "此前天然气价格",
        "表明天气转暖",
        "过去年均增长",  # 过去 + 年均
        "每周一次例会",  # frequency, not a day
        "周一鸣说",  # the surname 周
        "王国庆说",  # a given name
        "登上月球",
        "日本周边",
        "本周期内",
        "接近日本",
        "节日前夕",  # 节日 + 前夕
        "9月1日前完成",  # "before September 1st"
        "今日头条报道",  # a name
        "美好的明天",  # figurative
        "这是后天形成的习惯",  # 后天 = acquired
        "先天和后天",
        "应当天天锻炼",  # 应当 + 天天
        "多次日常检查",  # 多次 + 日常
        "十多年前",  # too vague to pin down
        "三年前后",
        "近三年前三季度",
        "元旦",  # 2024-07-01 is half a year from any 元旦: which one is unclear
        "次日，",  # next after what? no anchor
        "如今天气变暖",  # 如今 + 天气
        "当今天下",
        "45年后的今天",  # the same day in another year, not today
        "《明日战记》上映",  # inside a title
        "包车10天前往帕米尔高原",  # 10天 + 前往
        "几十年前",
        "8月19日（周六）举行",  # the text names the day itself
        "每逢周一、周三开放",
        "周一至周五9时至18时",  # a timetable
        "本周日本央行发布报告",  # 本周 + 日本央行
        "今年末伏期间",  # 今年 + 末伏: only 今年 may match, see below
        "2023年，全区产值比去年增长8%",  # 去年 counts from 2023 here, not from publication
        "2022春节档票房",
        "周六，",  # published on a Friday: the coming Saturday or the last one? unclear
    ],
)
def test_non_expressions_and_absolute_dates_are_left_alone(text):
    pub = D(2024, 7, 1) if text == "元旦" else D(2024, 2, 2)
    mentions = resolve_expressions(text, pub)
    if text == "今年末伏期间":
        assert [m.text for m in mentions] == ["今年"]
    else:
        assert mentions == []
        assert annotate(text, pub) == text


def test_explicit_date_after_a_relative_word_wins():
    assert resolve_expressions("今天（7月22日）白天到夜间", D(2023, 7, 21)) == []
    assert [m.text for m in resolve_expressions("2024年，去年", D(2024, 2, 2))] == ["去年"]  # same year: fine


def test_unknown_publication_date_leaves_text_unchanged():
    text = "昨天上午，市委召开会议。今年是关键之年。"
    assert annotate(text, None) == text
    annotated = annotate_with_offsets(text, None)
    assert annotated.notes == () and annotated.to_original(5) == 5


def test_annotate_keeps_wording_and_adds_absolute_date():
    text = "昨天上午，市委召开会议。今年是全市万亿之城再出发的第一年。近日，我区出台新政。"
    assert annotate(text, D(2024, 2, 2)) == (
        "昨天上午（即2024年2月1日上午），市委召开会议。今年（即2024年）是全市万亿之城再出发的第一年。"
        "近日（发稿日期2024年2月2日前不久），我区出台新政。"
    )


def test_annotate_twice_changes_nothing_more():
    once = annotate("昨天上午，市委召开会议；春节前完成。", D(2024, 2, 2))
    assert annotate(once, D(2024, 2, 2)) == once


def test_offsets_map_annotated_text_back_to_original():
    text = "昨天上午，市委召开会议。今年是关键之年，去年12月完成验收。"
    annotated = annotate_with_offsets(text, D(2024, 2, 2))
    assert annotated.original == text
    for quote in ("市委召开会议", "是关键之年", "完成验收", "昨天上午", "去年12月"):
        a_start = annotated.text.index(quote)
        start, end = annotated.to_original_span(a_start, a_start + len(quote))
        assert text[start:end] == quote
        assert annotated.to_annotated(start) == a_start
        assert annotated.to_annotated(end, end=True) == a_start + len(quote)
    note_start = annotated.text.index("（即2024年2月1日上午）")
    assert annotated.to_original(note_start + 3) == len("昨天上午")  # inside a note: its insertion point
    assert annotated.to_original(len(annotated.text)) == len(text)
    # a span that straddles a note quotes the original without it
    a_start = annotated.text.index("昨天")
    a_end = annotated.text.index("，市委") + 3
    start, end = annotated.to_original_span(a_start, a_end)
    assert text[start:end] == "昨天上午，市委"


def test_fuzzy_words_get_an_honest_window_ending_at_publication():
    mention = only("日前，我区召开会议", D(2024, 2, 2))
    assert mention.approximate and mention.resolved == "发稿日期2024年2月2日前不久"
    assert mention.last == D(2024, 2, 2) and mention.first < mention.last
    soon = only("近期将举行", D(2024, 2, 2))
    assert soon.first < D(2024, 2, 2) < soon.last  # 近期 may look forward


def test_same_day_and_next_day_follow_the_last_named_day():
    text = "1月30日，区里召开会议。当天下午，代表们分组讨论；次日上午，大会闭幕。"
    mentions = resolve_expressions(text, D(2024, 2, 2))
    assert [(m.text, m.resolved) for m in mentions] == [
        ("当天下午", "2024年1月30日下午"),
        ("次日上午", "2024年1月31日上午"),
    ]
    relative = resolve_expressions("昨天上午开幕。次日闭幕。", D(2024, 2, 2))
    assert [m.resolved for m in relative] == ["2024年2月1日上午", "2024年2月2日"]


def test_same_day_falls_back_to_publication_only_without_any_other_date():
    assert only("当天，市民纷纷前往。", D(2024, 2, 2)).resolved == "2024年2月2日"
    # a month without a day before it: which day 当天 means is unclear, so it stays
    assert resolve_expressions("1月，项目开工。当天，", D(2024, 2, 2))[0:] == []


def test_seed_page_yesterday_morning_and_this_year():
    text = SEED_PAGE.read_text(encoding="utf-8")
    mentions = resolve_expressions(text, D(2024, 2, 2))
    by_text = {(m.text, m.resolved) for m in mentions}
    assert ("昨天上午", "2024年2月1日上午") in by_text
    assert ("今年", "2024年") in by_text
    this_year = next(m for m in mentions if m.text == "今年")
    assert text[this_year.start :].startswith("今年是全市万亿之城")
    assert "2023年" not in {m.text for m in mentions}  # absolute years stay untouched
    annotated = annotate(text, D(2024, 2, 2))
    assert "昨天上午（即2024年2月1日上午）" in annotated
    assert "今年（即2024年）是全市万亿之城" in annotated
    assert "署2024年春节期间燃放管控" in annotated


# --- questions -----------------------------------------------------------------------------------------------

TODAY = D(2026, 11, 29)

QUESTIONS = [
    ("2023年武高新的产值", D(2023, 1, 1), D(2023, 12, 31), False),
    ("去年的产值", D(2025, 1, 1), D(2025, 12, 31), False),
    ("上个月武高新召开了什么会", D(2026, 10, 1), D(2026, 10, 31), False),
    ("武高新上个月的产值", D(2026, 10, 1), D(2026, 10, 31), False),
    ("最近一次安全生产检查是什么时候", None, None, True),
    ("最新的招商项目", None, None, True),
    ("春节前有哪些活动", D(2026, 1, 18), D(2026, 2, 16), False),
    ("1月份的工业产值", D(2026, 1, 1), D(2026, 1, 31), False),
    ("12月份的会议", D(2025, 12, 1), D(2025, 12, 31), False),  # still to come this year: last year's
    ("2023年上半年的税收", D(2023, 1, 1), D(2023, 6, 30), False),
    ("2024年春节期间燃放管控", D(2024, 2, 9), D(2024, 2, 16), False),
    ("去年和前年的产值", D(2024, 1, 1), D(2025, 12, 31), False),
    ("近三年的产值", D(2024, 1, 1), TODAY, False),
    ("今年最新的数据", D(2026, 1, 1), D(2026, 12, 31), True),
]


@pytest.mark.parametrize(("question", "first", "last", "recent"), QUESTIONS)
def test_question_time_scope(question, first, last, recent):
    scope = parse_question_time(question, TODAY)
    assert scope is not None
    assert (scope.first, scope.last, scope.prefer_recent) == (first, last, recent)


def test_a_bare_month_or_day_still_to_come_may_be_the_one_to_come():
    """Last year's is searched first; the one to come this year is kept beside it, and the words are not rewritten
    with a year the question does not give."""
    day = parse_question_time("条例是9月1日施行的吗", D(2024, 2, 2))
    assert (day.first, day.last, day.upcoming) == (D(2023, 9, 1), D(2023, 9, 1), (D(2024, 9, 1), D(2024, 9, 1)))
    month = parse_question_time("12月份的会议", D(2026, 2, 1))
    assert month.upcoming == (D(2026, 12, 1), D(2026, 12, 31)) and month.first == D(2025, 12, 1)
    assert parse_question_time("1月份的会议", D(2026, 2, 1)).upcoming is None  # January is past
    assert rewrite_question("条例是9月1日施行的吗", D(2024, 2, 2)) == "条例是9月1日施行的吗"
    assert rewrite_question("1月份的产值", D(2024, 2, 2)) == "2024年1月的产值"
    assert relative_mentions("9月1日的会议", D(2024, 2, 2)) == []


def test_question_without_time_gives_none():
    assert parse_question_time("武高新的主导产业有哪些", TODAY) is None
    assert parse_question_time("排名的提升主要体现在哪些方面", TODAY) is None  # 体现在 is not 现在
    assert parse_question_time("如今年轻人", TODAY) is not None  # 如今 asks for recent news ...
    assert parse_question_time("如今年轻人", TODAY).first is None  # ... but 今年 is not in it


def test_bare_weekday_in_a_question_is_the_last_one():
    scope = parse_question_time("周六的活动", D(2026, 11, 26))  # a Thursday
    assert scope is not None and scope.first == scope.last == D(2026, 11, 21)


def test_a_weekday_a_timetable_question_asks_about_is_no_day():
    """ "周一开吗？" after a question about a library asks whether it opens on Mondays; searched within the last
    Monday, it found nothing and was refused."""
    for question in ("周一开吗？", "图书馆周日开放吗？", "周一也营业吗？", "周六闭馆不？"):
        assert parse_question_time(question, D(2026, 12, 5)) is None, question
    assert parse_question_time("周一开会了吗？", D(2026, 12, 5)).first == D(2026, 11, 30)
    assert parse_question_time("下周一开吗？", D(2026, 12, 5)).first == D(2026, 12, 7)


def test_next_spring_festival_counts_once_its_run_up_began():
    scope = parse_question_time("春节前的活动", D(2026, 1, 10))
    assert scope is not None and scope.last == D(2026, 2, 16)


@pytest.mark.parametrize(
    ("question", "rewritten"),
    [
        ("去年的产值", "2025年的产值"),
        ("武高新上个月的产值", "武高新2026年10月的产值"),
        ("昨天上午的会议", "2026年11月28日上午的会议"),
        ("2023年武高新的产值", "2023年武高新的产值"),
        ("最近一次检查", "最近一次检查"),
        ("今年上半年的税收", "2026年上半年的税收"),
        ("1月份的产值", "2026年1月的产值"),
        ("春节前有哪些活动", "2026年春节前有哪些活动"),
        ("2023年春节档票房冠军", "2023年春节档票房冠军"),
        ("2023年1-6月的销售收入", "2023年1-6月的销售收入"),
        ("2021年7月份的指数相比上个月上升了多少", "2021年7月份的指数相比上个月上升了多少"),
    ],
)
def test_rewrite_question_replaces_only_relative_words(question, rewritten):
    assert rewrite_question(question, TODAY) == rewritten


FRAGMENTS = [
    "昨天上午",
    "，",
    "市委",
    "今年",
    "是",
    "近日",
    "上周五",
    "春节前",
    "2023年",
    "去年12月",
    "当天",
    "次日",
    "目前天气",
]


@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12))
@settings(max_examples=200, deadline=None)
def test_offset_map_round_trips_every_original_character(parts):
    text = "".join(parts)
    annotated = annotate_with_offsets(text, D(2024, 2, 2))
    for i, ch in enumerate(text):
        a = annotated.to_annotated(i)
        assert annotated.text[a] == ch
        assert annotated.to_original(a) == i
    again = annotate(annotated.text, D(2024, 2, 2))
    assert "）（即" not in again and "）（发稿" not in again  # an annotated expression gets no second note


# --- compound expressions in questions -----------------------------------------------------------------------
# A relative year, month, week or day and the absolute part it leads are one expression with one date.

# Nothing relative may survive next to an absolute date ("三年前2024年5月").
RELATIVE_LEFT = re.compile(
    r"年前|[去今明]年|前年|后年|个月前|[上下本这]个?月|[上下本这]个?(?:周|星期)|[前昨今明]天|周前"
)

# question, question date, rewritten question, first, last
COMPOUNDS = [
    # relative years with months, days, halves, quarters, year ends (2024-06-01)
    ("三年前5月的产值", D(2024, 6, 1), "2021年5月的产值", D(2021, 5, 1), D(2021, 5, 31)),
    ("三年前的5月", D(2024, 6, 1), "2021年5月", D(2021, 5, 1), D(2021, 5, 31)),
    ("四年前10月发生了什么", D(2024, 6, 1), "2020年10月发生了什么", D(2020, 10, 1), D(2020, 10, 31)),
    ("两年前9月", D(2024, 6, 1), "2022年9月", D(2022, 9, 1), D(2022, 9, 30)),
    ("3年前五月十日", D(2024, 6, 1), "2021年5月10日", D(2021, 5, 10), D(2021, 5, 10)),
    ("十二年前十二月", D(2024, 6, 1), "2012年12月", D(2012, 12, 1), D(2012, 12, 31)),
    ("2年前的12月31日", D(2024, 6, 1), "2022年12月31日", D(2022, 12, 31), D(2022, 12, 31)),
    ("前年的9月", D(2024, 6, 1), "2022年9月", D(2022, 9, 1), D(2022, 9, 30)),
    ("大前年8月", D(2024, 6, 1), "2021年8月", D(2021, 8, 1), D(2021, 8, 31)),
    ("明年1月", D(2024, 6, 1), "2025年1月", D(2025, 1, 1), D(2025, 1, 31)),
    ("前年上半年", D(2024, 6, 1), "2022年上半年", D(2022, 1, 1), D(2022, 6, 30)),
    ("两年前下半年", D(2024, 6, 1), "2022年下半年", D(2022, 7, 1), D(2022, 12, 31)),
    ("三年前的第二季度", D(2024, 6, 1), "2021年第二季度", D(2021, 4, 1), D(2021, 6, 30)),
    ("三年前二季度", D(2024, 6, 1), "2021年第二季度", D(2021, 4, 1), D(2021, 6, 30)),
    ("三年前年底", D(2024, 6, 1), "2021年底", D(2021, 11, 1), D(2021, 12, 31)),
    ("去年年初", D(2024, 6, 1), "2023年初", D(2023, 1, 1), D(2023, 2, 28)),
    ("去年5月上旬", D(2024, 6, 1), "2023年5月上旬", D(2023, 5, 1), D(2023, 5, 10)),
    # the same day or month in another year; 29 February falls back to the 28th
    ("去年的今天", D(2024, 6, 1), "2023年6月1日", D(2023, 6, 1), D(2023, 6, 1)),
    ("三年前的今天", D(2024, 6, 1), "2021年6月1日", D(2021, 6, 1), D(2021, 6, 1)),
    ("明年的今天", D(2024, 2, 29), "2025年2月28日", D(2025, 2, 28), D(2025, 2, 28)),
    ("去年这个月", D(2024, 6, 1), "2023年6月", D(2023, 6, 1), D(2023, 6, 30)),
    # festivals led by a relative year
    ("去年春节期间", D(2024, 6, 1), "2023年春节期间", D(2023, 1, 21), D(2023, 1, 28)),
    ("两年前春节前后", D(2024, 6, 1), "2022年春节前后", D(2022, 1, 17), D(2022, 2, 16)),
    ("前年国庆假期", D(2024, 6, 1), "2022年国庆节假期", D(2022, 10, 1), D(2022, 10, 7)),
    ("三年前的元旦", D(2024, 1, 3), "2021年元旦", D(2021, 1, 1), D(2021, 1, 1)),
    ("今年春节期间", D(2024, 1, 3), "2024年春节期间", D(2024, 2, 9), D(2024, 2, 16)),
    ("春节前后", D(2024, 6, 1), "2024年春节前后", D(2024, 1, 26), D(2024, 2, 25)),
    # relative months with a day, across year and month ends
    ("上个月", D(2024, 1, 3), "2023年12月", D(2023, 12, 1), D(2023, 12, 31)),
    ("上个月5日的会议", D(2024, 1, 3), "2023年12月5日的会议", D(2023, 12, 5), D(2023, 12, 5)),
    ("上个月的今天", D(2024, 1, 3), "2023年12月3日", D(2023, 12, 3), D(2023, 12, 3)),
    ("上个月31号", D(2024, 1, 1), "2023年12月31日", D(2023, 12, 31), D(2023, 12, 31)),
    ("两个月前", D(2024, 1, 3), "2023年11月", D(2023, 11, 1), D(2023, 11, 30)),
    ("一个月前", D(2024, 3, 31), "2024年2月", D(2024, 2, 1), D(2024, 2, 29)),
    ("一个月前的今天", D(2024, 3, 31), "2024年2月29日", D(2024, 2, 29), D(2024, 2, 29)),
    ("上个月的今天", D(2024, 3, 31), "2024年2月29日", D(2024, 2, 29), D(2024, 2, 29)),
    ("上个月底", D(2024, 3, 31), "2024年2月底", D(2024, 2, 21), D(2024, 2, 29)),
    ("这个月", D(2024, 3, 31), "2024年3月", D(2024, 3, 1), D(2024, 3, 31)),
    ("下个月1号", D(2024, 3, 31), "2024年4月1日", D(2024, 4, 1), D(2024, 4, 1)),
    ("下个月", D(2023, 12, 5), "2024年1月", D(2024, 1, 1), D(2024, 1, 31)),
    ("本月初", D(2024, 1, 1), "2024年1月初", D(2024, 1, 1), D(2024, 1, 10)),
    # weeks (Monday first); 2024-01-03 is a Wednesday, 2024-03-31 a Sunday, 2024-06-01 a Saturday
    ("上周五", D(2024, 1, 3), "2023年12月29日", D(2023, 12, 29), D(2023, 12, 29)),
    ("上周的周五", D(2024, 1, 3), "2023年12月29日", D(2023, 12, 29), D(2023, 12, 29)),
    ("上上周五", D(2024, 1, 3), "2023年12月22日", D(2023, 12, 22), D(2023, 12, 22)),
    ("两周前的周五", D(2024, 1, 3), "2023年12月22日", D(2023, 12, 22), D(2023, 12, 22)),
    ("两个星期前周末", D(2024, 6, 1), "2024年5月18日至19日", D(2024, 5, 18), D(2024, 5, 19)),
    ("上周末", D(2024, 1, 3), "2023年12月30日至31日", D(2023, 12, 30), D(2023, 12, 31)),
    ("本周一", D(2024, 1, 3), "2024年1月1日", D(2024, 1, 1), D(2024, 1, 1)),
    ("下周三", D(2024, 1, 3), "2024年1月10日", D(2024, 1, 10), D(2024, 1, 10)),
    ("上周五晚上", D(2024, 3, 31), "2024年3月22日晚上", D(2024, 3, 22), D(2024, 3, 22)),
    ("本周五", D(2024, 3, 31), "2024年3月29日", D(2024, 3, 29), D(2024, 3, 29)),
    ("下周一", D(2024, 3, 31), "2024年4月1日", D(2024, 4, 1), D(2024, 4, 1)),
    ("上个星期的星期三", D(2024, 6, 1), "2024年5月22日", D(2024, 5, 22), D(2024, 5, 22)),
    # days
    ("前天", D(2024, 1, 1), "2023年12月30日", D(2023, 12, 30), D(2023, 12, 30)),
    ("昨天", D(2024, 1, 1), "2023年12月31日", D(2023, 12, 31), D(2023, 12, 31)),
    ("今天", D(2024, 2, 29), "2024年2月29日", D(2024, 2, 29), D(2024, 2, 29)),
    ("明天", D(2024, 3, 31), "2024年4月1日", D(2024, 4, 1), D(2024, 4, 1)),
    ("三天前", D(2024, 1, 3), "2023年12月31日", D(2023, 12, 31), D(2023, 12, 31)),
    ("3天前上午", D(2024, 3, 1), "2024年2月27日上午", D(2024, 2, 27), D(2024, 2, 27)),
]


@pytest.mark.parametrize(("question", "today", "rewritten", "first", "last"), COMPOUNDS)
def test_compound_expression_resolves_to_one_span(question, today, rewritten, first, last):
    assert rewrite_question(question, today) == rewritten
    assert not RELATIVE_LEFT.search(rewritten)
    scope = parse_question_time(question, today)
    assert scope is not None and (scope.first, scope.last) == (first, last)
    assert "、" not in scope.text  # one expression, not a relative and an absolute one side by side


# Every relative year leads every absolute part the same way: the part, in the year the head names.
YEAR_HEADS = [
    ("去年", -1),
    ("前年", -2),
    ("今年", 0),
    ("明年", 1),
    ("大前年", -3),
    ("三年前", -3),
    ("3年前", -3),
    ("两年前", -2),
    ("十年前", -10),
    ("一年前", -1),
]
# tail, its rendering after "<year>年", first and last (month, day)
YEAR_TAILS = [
    ("5月", "5月", (5, 1), (5, 31)),
    ("的十二月", "12月", (12, 1), (12, 31)),
    ("9月1日", "9月1日", (9, 1), (9, 1)),
    ("十月二十号", "10月20日", (10, 20), (10, 20)),
    ("上半年", "上半年", (1, 1), (6, 30)),
    ("的下半年", "下半年", (7, 1), (12, 31)),
    ("第二季度", "第二季度", (4, 1), (6, 30)),
    ("四季度", "第四季度", (10, 1), (12, 31)),
    ("年底", "底", (11, 1), (12, 31)),
    ("的5月上旬", "5月上旬", (5, 1), (5, 10)),
]


@pytest.mark.parametrize(("head", "offset"), YEAR_HEADS)
@pytest.mark.parametrize(("tail", "rendering", "first", "last"), YEAR_TAILS)
def test_every_relative_year_leads_every_absolute_part(head, offset, tail, rendering, first, last):
    today = D(2024, 6, 1)
    year = today.year + offset
    question = f"{head}{tail}武进区召开了什么会议"
    assert rewrite_question(question, today) == f"{year}年{rendering}武进区召开了什么会议"
    scope = parse_question_time(question, today)
    assert scope is not None and (scope.first, scope.last) == (D(year, *first), D(year, *last))


@pytest.mark.parametrize(
    ("question", "rewritten"),
    [
        ("近三年前三季度的产值", "2022年至2024年前三季度的产值"),  # 近三年 + 前三季度, not 三年前 + 三季度
        ("2021年的5月", "2021年的5月"),  # absolute: kept as written ...
        ("2023年第一季度", "2023年第一季度"),
    ],
)
def test_compound_resolution_keeps_what_is_not_one_expression(question, rewritten):
    assert rewrite_question(question, D(2024, 6, 1)) == rewritten


def test_absolute_year_with_de_scopes_its_month_not_this_years():
    scope = parse_question_time("2021年的5月", D(2024, 6, 1))  # ... but its 5月 is 2021's, not 2024's
    assert scope is not None and (scope.first, scope.last) == (D(2021, 5, 1), D(2021, 5, 31))


# --- counting expressions in articles ------------------------------------------------------------------------

# text, publication date, annotated text
COUNTING = [
    ("2024年是我区实施燃放管控政策的第六年。", D(2024, 2, 2), "2024年是我区实施燃放管控政策的第六年（即自2019年起）。"),
    ("2024年是……第六年", D(2024, 2, 2), "2024年是……第六年（即自2019年起）"),
    (
        "今年是猎狐行动开展的第十个年头。",
        D(2023, 7, 27),
        "今年（即2023年）是猎狐行动开展的第十个年头（即自2014年起）。",
    ),
    ("2023年，是他工作的第10年。", D(2024, 2, 2), "2023年，是他工作的第10年（即自2014年起）。"),
    ("十年来，全区产值翻番。", D(2023, 8, 17), "十年来（即自2013年起），全区产值翻番。"),
    ("法院成立近6年来，", D(2023, 8, 16), "法院成立近6年来（即自2017年起），"),
    ("成立两年以来，", D(2023, 8, 16), "成立两年以来（即自2021年起），"),
    ("2023年暑期是过去5年来最旺的。", D(2023, 8, 12), "2023年暑期是过去5年来（即自2018年起）最旺的。"),
    (
        "2022年，我国新能源汽车产销连续8年全球第一。",
        D(2023, 7, 1),
        "2022年，我国新能源汽车产销连续8年（即自2015年起）全球第一。",
    ),
    ("去年，我区连续三年获评全省先进。", D(2024, 2, 2), "去年（即2023年），我区连续三年（即自2021年起）获评全省先进。"),
    (
        "2023年第十届花博会举办，花博会每四年举办一届。",
        D(2024, 2, 2),
        "2023年第十届（即首届约在1987年）花博会举办，花博会每四年举办一届。",
    ),
    (
        "今年的第5届展会开幕，每年举办一届。",
        D(2024, 5, 2),
        "今年（即2024年）的第5届（即首届约在2020年）展会开幕，每年举办一届。",
    ),
]


@pytest.mark.parametrize(("text", "pub", "annotated"), COUNTING)
def test_counting_expression_gets_its_implied_start(text, pub, annotated):
    assert annotate(text, pub) == annotated
    assert annotate(annotated, pub) == annotated  # a second pass adds nothing


@pytest.mark.parametrize(
    "text",
    [
        "今年是全市万亿之城再出发的第一年。",  # a first year implies nothing new
        "这是第五年。",  # no year named
        "他说，2020年至今是第四年。",  # the year is not the subject of 是
        "新能源汽车产销连续8年全球第一。",  # the run may end last year (annual results): unclear
        "2014年首次发现以来，连续9年飞临。",  # a stated start
        "从今年开始连续5年实施。",  # a run to come
        "他在2010年加入，连续5年获奖。",  # the year does not open the sentence as its topic
        "数十年来，",  # vague
        "几年来，",
        "十多年来，",
        "2013年以来，十年来产值翻番。",  # the start is stated
        "他2010年入职，十年来一直如此。",  # 年来 counts from the publication only in a sentence naming no year
        "2023年第十届花博会在上海举办。",  # no period between editions
        "第十届花博会每四年举办一届。",  # no year of this edition
        "2024年是该法实施后的第三年度。",
        "《十年来》首映",  # a title
    ],
)
def test_counting_expression_without_a_certain_start_is_left_alone(text):
    annotated = annotate(text, D(2024, 2, 2))
    assert "起）" not in annotated and "首届" not in annotated


def test_counting_note_maps_back_to_the_original():
    text = "2024年是我区实施燃放管控政策的第六年。多年来，全区警情持续低发。"
    annotated = annotate_with_offsets(text, D(2024, 2, 2))
    quote = "第六年。多年来"
    a_start = annotated.text.index("第六年")
    start, end = annotated.to_original_span(a_start, annotated.text.index("多年来") + 3)
    assert text[start:end] == quote


def test_sample_page_fireworks_policy_year_gets_its_start():
    page = Path(__file__).resolve().parents[2] / "corpus" / "sample" / "wujin_daily_page.txt"
    annotated = annotate(page.read_text(encoding="utf-8"), D(2024, 2, 2))
    assert "2024年是我区实施燃放管控政策的第六年（即自2019年起）" in annotated
    assert "多年来（" not in annotated  # vague: no note


def test_dated_mentions_read_written_days_and_announcements():
    from corpus.timeexpr import dated_mentions, spoken_periods

    text = "该条例将于9月1日起施行。日本防卫省28日发布白皮书。2023年9月1日起施行的规定作废。昨天开会。"
    found = [(m.text, m.first.isoformat()) for m in dated_mentions(text, date(2024, 2, 3))]
    assert found == [
        ("9月1日", "2024-09-01"),  # announced: ahead of publication, not last September
        ("28日", "2024-01-28"),  # a bare day well after the 3rd: last month
        ("2023年9月1日", "2023-09-01"),  # a year written out is kept
        ("昨天", "2024-02-02"),
    ]
    assert (date(2024, 9, 1), date(2024, 9, 1)) in spoken_periods(text, date(2024, 2, 3))
    assert spoken_periods("今年以来，全区经济运行平稳。", date(2024, 8, 1)) == []  # longer than a quarter: no period


@pytest.mark.parametrize(
    ("text", "annotated"),
    [
        ("大会将于8月16日至22日在北京举行。", "大会将于8月16日至22日（共7天）在北京举行。"),
        ("峰会7月27日至28日在圣彼得堡举行。", "峰会7月27日至28日（共2天）在圣彼得堡举行。"),
        ("博览会将于8月16-20日在昆明举办。", "博览会将于8月16-20日（共5天）在昆明举办。"),
        ("闭馆时间为1月30日至2月3日。", "闭馆时间为1月30日至2月3日（共5天）。"),
        ("闭馆时间为12月30日至1月2日。", "闭馆时间为12月30日至1月2日（共4天）。"),  # across the new year
        ("2024年2月28日至3月1日举办。", "2024年2月28日至3月1日（共3天）举办。"),  # a leap year
    ],
)
def test_a_written_day_range_gets_its_length(text, annotated):
    assert annotate(text, D(2024, 1, 10)) == annotated
    assert annotate(annotated, D(2024, 1, 10)) == annotated  # once


@pytest.mark.parametrize(
    "text",
    [
        "2023年1-6月，全区产值增长。",  # months, not days
        "1月1日至12月31日全年开放。",  # longer than a quarter: no fair, and no count anyone asks for
        "《8月16日至22日》是一部电影。",
        "2月30日至3月2日。",  # no such day
    ],
)
def test_what_is_no_day_range_gets_no_length(text):
    assert "（共" not in annotate(text, D(2024, 1, 10))


def test_a_range_note_maps_back_to_the_original():
    text = "大会将于8月16日至22日在北京举行。"
    annotated = annotate_with_offsets(text, D(2023, 8, 4))
    start = annotated.text.index("在北京")
    assert text[annotated.to_original(start) :].startswith("在北京")


@pytest.mark.parametrize(
    ("question", "today", "noted"),
    [
        ("上周四，谁调研了安全生产工作？", D(2024, 2, 5), "上周四（即2024年2月1日），谁调研了安全生产工作？"),
        ("上个月1日召开的会议部署了什么？", D(2024, 3, 14), "上个月1日（即2024年2月1日）召开的会议部署了什么？"),
        ("三年前5月，谁当选？", D(2024, 6, 1), "三年前5月（即2021年5月），谁当选？"),
        ("上周举办的博览会一共几天？", D(2023, 9, 20), "上周举办的博览会一共几天？"),  # a week: searched, not noted
        ("今年的产值是多少？", D(2024, 6, 1), "今年的产值是多少？"),  # a year
        ("2022年春节档首日票房冠军", D(2024, 6, 1), "2022年春节档首日票房冠军"),  # a festival with its year
        ("2月1日召开的会议部署了什么？", D(2024, 3, 14), "2月1日召开的会议部署了什么？"),  # written as a date
    ],
)
def test_a_questions_relative_day_or_month_is_noted(question, today, noted):
    from corpus.timeexpr import note_days, relative_mentions

    assert note_days(question, relative_mentions(question, today)) == noted


def test_a_date_inside_a_quoted_title_is_not_the_time_the_question_asks_about() -> None:
    today = date(2026, 12, 5)
    assert parse_question_time("「《常州市生活垃圾分类管理条例》9月1日起施行」讲了什么？", today) is None
    assert parse_question_time("“2023年度十大新闻”有哪些？", today) is None
    scope = parse_question_time("去年“双十一”的销售额是多少？", today)
    assert scope is not None and scope.text == "去年"
    assert parse_question_time("《条例》9月1日起施行吗？", today).text == "9月1日"  # outside the quotes


def test_a_range_reads_back_as_render_range_wrote_it() -> None:
    for first, last in [
        (date(2024, 2, 2), date(2024, 2, 2)),
        (date(2024, 1, 22), date(2024, 1, 28)),
        (date(2024, 1, 29), date(2024, 2, 4)),
        (date(2023, 12, 30), date(2024, 1, 2)),
    ]:
        assert parse_range(render_range(first, last)) == (first, last)
    assert parse_range("2024年2月30日") is None and parse_range("最近") is None
    # a whole month or year, as a question's period is written ("2月份有哪些报道？")
    assert parse_range("2024年2月") == (date(2024, 2, 1), date(2024, 2, 29))
    assert parse_range("2023年") == (date(2023, 1, 1), date(2023, 12, 31))
    assert parse_range("2024年13月") is None and parse_range("0001年") is None
