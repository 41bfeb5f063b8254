"""The festival rule: 春节, 除夕, 元宵节, 元旦 and 国庆 with their year and part (去年春节期间, 国庆前夕).

A bare festival is the one nearest an article's publication, or the latest one a question can be about."""

from __future__ import annotations

import re
from datetime import date, timedelta

from lunardate import LunarDate

from core.text import FULLWIDTH_DIGITS, numeral_value
from corpus.timeexpr.spans import (
    NUM,
    Resolver,
    TimeMention,
    follows,
    make_mention,
    number_starts,
    render_day,
    starts_word,
    valid_year,
)
from corpus.timeexpr.years import AGO_LIMITS, YEAR_OFFSETS

_FESTIVAL_RE = re.compile(
    rf"(?:(?:(?P<fyw>大前年|前年|去年|今年|明年|后年|大后年)|(?P<fago>{NUM})年(?:之)?前|(?P<fy>[0-9０-９]{{4}})年)"
    r"(?P<fde>的)?)?(?P<fest>春节|除夕|元宵节|元旦|国庆节|国庆)"
    r"(?P<fsub>前夕|前后|期间|假期|长假|黄金周|以来|当天|前|后)?"
)
_HOLIDAY_SUBS = ("期间", "假期", "长假", "黄金周")


def _festival_day(festival: str, year: int) -> date:
    if festival == "春节":
        return LunarDate(year, 1, 1).to_solar_date()
    if festival == "除夕":
        return LunarDate(year, 1, 1).to_solar_date() - timedelta(days=1)
    if festival == "元宵节":
        return LunarDate(year, 1, 15).to_solar_date()
    if festival == "元旦":
        return date(year, 1, 1)
    return date(year, 10, 1)  # 国庆


def _festival_year(festival: str, ref: date, question: bool) -> int | None:
    """Which year's festival a bare "春节" means: in an article the one within ~5 months of publication, in a
    question the latest one whose run-up has begun (questions are about news already written)."""
    if question:
        return ref.year if _festival_day(festival, ref.year) - timedelta(days=45) <= ref else ref.year - 1
    candidates = [y for y in (ref.year - 1, ref.year, ref.year + 1) if valid_year(y)]
    best = min(candidates, key=lambda y: abs((_festival_day(festival, y) - ref).days))
    return best if abs((_festival_day(festival, best) - ref).days) <= 150 else None


def _festival_range(festival: str, day: date, sub: str, ref: date) -> tuple[date, date] | None:
    if sub in ("", "当天"):
        return day, day
    if sub == "前夕":
        return day - timedelta(days=7), day - timedelta(days=1)
    if sub == "前":
        return day - timedelta(days=30), day - timedelta(days=1)
    if sub == "后":
        return day + timedelta(days=1), day + timedelta(days=30)
    if sub == "前后":
        return day - timedelta(days=15), day + timedelta(days=15)
    if sub == "以来":
        return (day, ref) if day <= ref else None
    # a public holiday: roughly 除夕 to 初七 for 春节, seven days for 国庆, a long weekend for 元旦
    if festival == "春节":
        return day - timedelta(days=1), day + timedelta(days=6)
    if festival.startswith("国庆"):
        return day, day + timedelta(days=6)
    if festival == "元旦":
        return day - timedelta(days=1), day + timedelta(days=1)
    return day, day


def _resolve_festival(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    start, festival = m.start(), m["fest"]
    sub, end = m["fsub"] or "", m.end()
    if sub in ("前", "后") and follows(text, end, "往来进面台方期"):
        sub, end = "", m.end("fest")  # 元旦前往 is "went on New Year's Day", not "before New Year's Day"
    if festival == "国庆" and sub not in (*_HOLIDAY_SUBS, "前夕"):
        return None  # 国庆 alone is as often a given name (王国庆)
    if m["fyw"]:
        if not starts_word(text, start, question):
            return None
        year: int | None = ref.year + YEAR_OFFSETS[m["fyw"]]
    elif m["fago"]:
        ago = numeral_value(m["fago"])
        if ago is None or not 1 <= ago <= AGO_LIMITS["年"] or not number_starts(text, start):
            return None
        if start and text[start - 1] in "几数":
            return None
        year = ref.year - ago
    elif m["fy"]:
        # "2024年春节期间" in an article is absolute and stays as written; a question gets its dates for searching
        if not question or not number_starts(text, start):
            return None
        year = int(m["fy"].translate(FULLWIDTH_DIGITS))
    else:
        if start and (text[start - 1] in "年日" or text[start - 1].isdigit()):
            return None  # "2024年春节", "2月10日春节", "2022春节档" already carry their date
        year = _festival_year(festival, ref, question)
    if year is None or not valid_year(year):
        return None
    day = _festival_day(festival, year)
    span = _festival_range(festival, day, sub, ref)
    if span is None:
        return None
    name = "国庆节" if festival == "国庆" else festival
    # a question is rewritten for search, where "2026年春节前" matches the articles' own words
    in_article = render_day(day) if sub in ("", "当天") else f"{render_day(day)}{name}{sub}"
    resolved = f"{year}年{name}{sub}" if question else in_article
    return make_mention(text, start, end, resolved, *span)


RULES: tuple[tuple[re.Pattern[str], Resolver], ...] = ((_FESTIVAL_RE, _resolve_festival),)
