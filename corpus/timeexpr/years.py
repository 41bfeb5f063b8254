"""Rules for months and years and what they lead: 上个月5日, 去年上半年, 今年第一季度, 三年前5月, 两周前的周五.

A relative year or month and the absolute part it leads are one expression with one date."""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from core.text import FULLWIDTH_DIGITS, numeral_value
from corpus.timeexpr.days import WEEKDAYS
from corpus.timeexpr.spans import (
    DAYPART,
    NUM,
    NUM_CHARS,
    SENTENCE_END_RE,
    Resolver,
    TimeMention,
    end_of_month,
    follows,
    make_mention,
    next_char,
    number_starts,
    render_day,
    render_range,
    shift_month,
    starts_word,
)

_MONTH_SUBS = "初|上旬|中旬|下旬|底|末"
_MONTH_RE = re.compile(rf"(?P<rel>本|这个?|上个?|下个?)月(?P<sub>{_MONTH_SUBS})?")
# After 初/底/末 these characters make a different word: 初步, 底线, 末端.
_SUB_GLUES = {
    "初": "步次期中心衷始见选审赛稿级创现具露显伏",
    "底": "线数气色层部盘蕴子下牌价稿薪座片端板限",
    "末": "端位尾梢期日伏",  # 今年末伏 is 今年 + 末伏
}


def _month_sub_range(year: int, month: int, sub: str) -> tuple[date, date]:
    last = end_of_month(year, month)
    if sub in ("初", "上旬"):
        return date(year, month, 1), date(year, month, 10)
    if sub == "中旬":
        return date(year, month, 11), date(year, month, 20)
    return date(year, month, 21), last  # 下旬, 底, 末


def _sub_ok(text: str, m: re.Match[str], group: str) -> bool:
    """Whether the suffix in `group` (初, 底, …) really is a suffix and not the start of 初步, 底线, …."""
    sub = m[group]
    return sub is not None and not follows(text, m.end(group), _SUB_GLUES.get(sub[-1], ""))


def _resolve_month(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    start = m.start()
    if not starts_word(text, start, question):
        return None
    delta = {"上": -1, "下": 1}.get(m["rel"][0], 0)
    if delta and _other_year_before(text, start, ref):
        return None
    year, month = shift_month(ref.year, ref.month, delta)
    if _sub_ok(text, m, "sub"):
        first, last = _month_sub_range(year, month, m["sub"])
        return make_mention(text, start, m.end(), f"{year}年{month}月{m['sub']}", first, last)
    end = m.end() - len(m["sub"] or "")
    if (found := _day_in_month(text, end, year, month, ref)) is not None:
        return make_mention(text, start, found[0], render_day(found[1]), found[1], found[1])
    if follows(text, end, "球亮光饼色食牙票刊报薪"):
        return None
    return make_mention(text, start, end, f"{year}年{month}月", date(year, month, 1), end_of_month(year, month))


_SAME_DAY = "今天|今日|这一天|这天"
_DAY_OF_MONTH_RE = re.compile(rf"的?(?:(?P<same>{_SAME_DAY})|(?P<day>{NUM})[日号])")


def _day_in_month(text: str, pos: int, year: int, month: int, ref: date) -> tuple[int, date] | None:
    """A day of a resolved month named at `pos` ("上个月5日", "两个月前的今天"): where it ends and its date.
    A relative month and its day are one expression; resolving only the month would leave "5日" to the wrong one."""
    m = _DAY_OF_MONTH_RE.match(text, pos)
    if m is None:
        return None
    last = calendar.monthrange(year, month)[1]
    day = min(ref.day, last) if m["same"] else numeral_value(m["day"])
    if day is None or not 1 <= day <= last:
        return None
    return m.end(), date(year, month, day)


_YEAR_SUBS = r"上半年|下半年|前三个?季度|前[两二]个?季度|第?[一二三四1-4]季度|年初|年中|年底|年末|全年|初|底|末"
_YEAR_WORD_RE = re.compile(r"大前年|大后年|前年|去年|今年|明年|后年")
# What a year may lead, with or without 的: a part of it, a month (and day), or "the same day" (去年的今天).
_YEAR_TAIL_RE = re.compile(
    rf"(?P<de>的)?(?:(?P<same>{_SAME_DAY}|这个月|本月)|(?P<ysub>{_YEAR_SUBS})"
    rf"|(?P<mon>{NUM})月份?(?:(?P<mday>{NUM})[日号]|(?P<msub>{_MONTH_SUBS}))?)"
)
YEAR_OFFSETS = {"大前年": -3, "前年": -2, "去年": -1, "今年": 0, "明年": 1, "后年": 2, "大后年": 3}
_QUARTER_NAMES = "一二三四"


def _year_sub_range(year: int, sub: str) -> tuple[str, date, date]:
    """Rendering and range of a part of a year: 上半年, 第一季度, 前三季度, 年初, 年底."""
    if sub == "上半年":
        return f"{year}年上半年", date(year, 1, 1), date(year, 6, 30)
    if sub == "下半年":
        return f"{year}年下半年", date(year, 7, 1), date(year, 12, 31)
    if sub == "全年":
        return f"{year}年全年", date(year, 1, 1), date(year, 12, 31)
    if sub.startswith("前"):
        count = 3 if "三" in sub else 2
        return f"{year}年前{_QUARTER_NAMES[count - 1]}季度", date(year, 1, 1), end_of_month(year, count * 3)
    if sub.endswith("季度"):
        q_char = sub[-3]
        quarter = int(q_char) if q_char.isdigit() else _QUARTER_NAMES.index(q_char) + 1
        return (
            f"{year}年第{_QUARTER_NAMES[quarter - 1]}季度",
            date(year, quarter * 3 - 2, 1),
            end_of_month(year, quarter * 3),
        )
    if sub in ("年初", "初"):
        return f"{year}年初", date(year, 1, 1), end_of_month(year, 2)
    if sub == "年中":
        return f"{year}年年中", date(year, 6, 1), date(year, 7, 31)
    word = "年底" if sub in ("年底", "底") else "年末"
    return f"{year}{word}", date(year, 11, 1), date(year, 12, 31)


def _year_tail(text: str, pos: int, year: int, ref: date | None) -> tuple[int, str, date, date] | None:
    """End, rendering and range of the part of `year` named at `pos` (上半年, 5月, 5月1日; with `ref` also its day
    or month in that year: 去年的今天, 去年这个月), or None when none is named there."""
    m = _YEAR_TAIL_RE.match(text, pos)
    if m is None:
        return None
    if m["same"] is not None:
        if ref is None:
            return None
        if m["same"] in ("这个月", "本月"):
            return m.end(), f"{year}年{ref.month}月", date(year, ref.month, 1), end_of_month(year, ref.month)
        d = date(year, ref.month, min(ref.day, calendar.monthrange(year, ref.month)[1]))
        return m.end(), render_day(d), d, d
    if m["ysub"] is not None:
        if m["ysub"] in ("初", "底", "末") and (m["de"] or not _sub_ok(text, m, "ysub")):
            return None  # "去年的底子", "今年末伏"
        return (m.end("ysub"), *_year_sub_range(year, m["ysub"]))
    month = numeral_value(m["mon"])
    if month is None or not 1 <= month <= 12:
        return None
    day = numeral_value(m["mday"]) if m["mday"] else None
    if day is not None and 1 <= day <= calendar.monthrange(year, month)[1]:
        d = date(year, month, day)
        return m.end("mday") + 1, render_day(d), d, d
    if _sub_ok(text, m, "msub"):
        first, last = _month_sub_range(year, month, m["msub"])
        return m.end("msub"), f"{year}年{month}月{m['msub']}", first, last
    month_end = m.end("mon") + 1
    if text.startswith("份", month_end):
        month_end += 1
    return month_end, f"{year}年{month}月", date(year, month, 1), end_of_month(year, month)


def year_mention(text: str, start: int, head_end: int, year: int, ref: date | None) -> TimeMention:
    """A year (去年, 三年前, 2023年) together with the part of it that follows: one span, one absolute rendering."""
    tail = _year_tail(text, head_end, year, ref)
    if tail is None:
        return make_mention(text, start, head_end, f"{year}年", date(year, 1, 1), date(year, 12, 31))
    return make_mention(text, start, *tail)


_ABSOLUTE_YEAR_RE = re.compile(r"(?<![0-9０-９])([0-9０-９]{4})年")


def _other_year_before(text: str, start: int, ref: date) -> bool:
    """Whether the sentence so far names another year: in "2023年……比去年增长" (published 2024) 去年 is 2022,
    so a word counted from the reference date would be wrong; such words are left alone."""
    sentence_start = max((m.end() for m in SENTENCE_END_RE.finditer(text, 0, start)), default=0)
    return any(
        int(m[1].translate(FULLWIDTH_DIGITS)) != ref.year
        for m in _ABSOLUTE_YEAR_RE.finditer(text, sentence_start, start)
    )


def _resolve_year_word(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    start, head_end = m.start(), m.end()
    if not starts_word(text, start, question):
        return None
    if m[0] != "今年" and _other_year_before(text, start, ref):
        return None
    mention = year_mention(text, start, head_end, ref.year + YEAR_OFFSETS[m[0]], ref)
    if mention.end == head_end and follows(text, head_end, "轻纪龄级薪华画糕鉴"):
        return None  # 如今年轻人, 今年纪念 are not 今年
    return mention


_AGO_RE = re.compile(rf"(?P<n>{NUM})(?P<unit>年|个月|个星期|星期|周|天)(?:之)?前")
AGO_LIMITS = {"年": 100, "个月": 120, "个星期": 104, "星期": 104, "周": 104, "天": 1000}


# after 近/过去 "三年前三季度" is 三年 + 前三季度, not the third quarter three years ago
_AMBIGUOUS_QUARTER_RE = re.compile(r"[二两三]个?季度")
_WEEKDAY_AFTER_RE = re.compile(r"的?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天末])")
_DAYPART_RE = re.compile(DAYPART)


def _resolve_ago(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    """三年前, 5天前, 两个月前, counted back from the reference date, with what they lead: 三年前5月, 三年前的今天,
    两个月前的5日, 两周前的周五, 三天前上午."""
    start, end, unit = m.start(), m.end(), m["unit"]
    n = numeral_value(m["n"])
    if n is None or not 1 <= n <= AGO_LIMITS[unit] or not number_starts(text, start) or m["n"] in ("百", "千"):
        return None
    if start and text[start - 1] in "几数":
        return None  # 几十年前 is vague
    if unit == "年":
        spans_years = start and text[start - 1] in "近去"
        if not (spans_years and _AMBIGUOUS_QUARTER_RE.match(text, end)) and _year_tail(text, end, ref.year - n, ref):
            return year_mention(text, start, end, ref.year - n, ref)
    elif unit == "个月":
        year, month = shift_month(ref.year, ref.month, -n)
        if (found := _day_in_month(text, end, year, month, ref)) is not None:
            return make_mention(text, start, found[0], render_day(found[1]), found[1], found[1])
    elif unit == "天":
        if part := _DAYPART_RE.match(text, end):
            day = ref - timedelta(days=n)
            return make_mention(text, start, part.end(), render_day(day) + part[0], day, day)
    elif wd := _WEEKDAY_AFTER_RE.match(text, end):
        monday = ref - timedelta(days=ref.weekday(), weeks=n)
        if wd["wd"] == "末":
            saturday, sunday = monday + timedelta(days=5), monday + timedelta(days=6)
            return make_mention(text, start, wd.end(), render_range(saturday, sunday), saturday, sunday)
        day = monday + timedelta(days=WEEKDAYS[wd["wd"]])
        return make_mention(text, start, wd.end(), render_day(day), day, day)
    nxt = next_char(text, end)
    if nxt and (nxt in NUM_CHARS or nxt in "后夕往进来"):
        return None  # 近三年前三季度 is 近三年 + 前三季度; 三天前后 is vaguer; 10天前往 is "went for 10 days"
    if unit == "年":
        year = ref.year - n
        return make_mention(text, start, end, f"{year}年", date(year, 1, 1), date(year, 12, 31))
    if unit == "个月":
        year, month = shift_month(ref.year, ref.month, -n)
        return make_mention(text, start, end, f"{year}年{month}月", date(year, month, 1), end_of_month(year, month))
    if unit == "天":
        day = ref - timedelta(days=n)
        return make_mention(text, start, end, render_day(day), day, day)
    monday = ref - timedelta(days=ref.weekday(), weeks=n)
    return make_mention(
        text, start, end, render_range(monday, monday + timedelta(days=6)), monday, monday + timedelta(days=6)
    )


RULES: tuple[tuple[re.Pattern[str], Resolver], ...] = (
    (_MONTH_RE, _resolve_month),
    (_YEAR_WORD_RE, _resolve_year_word),
    (_AGO_RE, _resolve_ago),
)
