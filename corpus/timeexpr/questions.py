"""The period a question names ("去年的产值", "近三年", "1月份", "最新") and the question with it spelled out."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

from core.text import numeral_value
from corpus.timeexpr.relative import RELATIVE_RULES
from corpus.timeexpr.spans import (
    NUM,
    Resolver,
    TimeMention,
    end_of_month,
    follows,
    make_mention,
    non_overlapping,
    number_starts,
    render_day,
    render_range,
    scan,
    shift_month,
    starts_word,
    valid_year,
)
from corpus.timeexpr.years import AGO_LIMITS, year_mention


@dataclass(frozen=True)
class TimeScope:
    """The time a question asks about: a date range, a wish for the newest news, or both."""

    first: date | None
    last: date | None
    prefer_recent: bool
    text: str  # the question's own wording, several expressions joined by "、"
    resolved: str
    # a bare month or day still to come this year may be the one to come (TimeMention.upcoming): an article that
    # speaks about these days counts for the question too
    upcoming: tuple[date, date] | None = None
    # every day or period named is a bare month or day: its year is the nearest one's, a guess the question did not
    # make, searched first and dropped when it holds nothing ("9月1日" of a 2024 page, asked in 2026)
    guessed_year: bool = False


_ABS_YEAR_RE = re.compile(r"(?P<y>[0-9０-９]{4}|[零〇一二三四五六七八九]{4})年度?")
_BARE_MONTH_RE = re.compile(rf"(?P<mon>{NUM})月份?(?:(?P<mday>{NUM})[日号])?")
_RECENT_N_RE = re.compile(rf"(?P<lead>最近|近|过去)(?P<n>{NUM})(?P<unit>年|个月|个星期|星期|周|天)")
# a title or name the question quotes: a date in it ("《条例》9月1日起施行" as a headline) is its words, not the
# time the question asks about
_QUOTED = re.compile(r"“[^“”]{1,80}”|《[^《》]{1,80}》|「[^「」]{1,80}」")
_RECENT_RE = re.compile(r"最近一次|最近一期|最新|最近|近期|近日|近来|目前|当前|现在|如今|眼下|日前|前不久|不久前")


def _resolve_abs_year(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    year = numeral_value(m["y"])
    if year is None or not valid_year(year) or not number_starts(text, m.start()):
        return None
    return year_mention(text, m.start(), m.end(), year, None)


def _resolve_bare_month(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    """ "1月份" in a question: that month of this year, or of last year when it is still to come; then this year's
    is kept as `upcoming`, as "垃圾分类条例是9月1日施行的吗？" asked in February asks of this year's."""
    start = m.start()
    if not number_starts(text, start) or (start and text[start - 1] in "年个每-－~～至到、和及"):
        return None  # "2023年1-6月" is a range inside a stated year
    month = numeral_value(m["mon"])
    if month is None or not 1 <= month <= 12:
        return None
    to_come = month > ref.month
    year = ref.year - 1 if to_come else ref.year
    day = numeral_value(m["mday"]) if m["mday"] else None
    if day is not None and 1 <= day <= calendar.monthrange(year, month)[1]:
        d = date(year, month, day)
        mention = make_mention(text, start, m.end(), render_day(d), d, d)
        upcoming = d.replace(year=ref.year) if day <= calendar.monthrange(ref.year, month)[1] else None
        return replace(mention, upcoming=(upcoming, upcoming)) if to_come and upcoming else mention
    end = m.end("mon") + 1 + (1 if text.startswith("份", m.end("mon") + 1) else 0)
    mention = make_mention(text, start, end, f"{year}年{month}月", date(year, month, 1), end_of_month(year, month))
    upcoming_month = (date(ref.year, month, 1), end_of_month(ref.year, month))
    return replace(mention, upcoming=upcoming_month) if to_come else mention


def _resolve_recent_n(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    """近三年, 最近一个月, 过去7天: a window ending today."""
    n, unit = numeral_value(m["n"]), m["unit"]
    if n is None or not 1 <= n <= AGO_LIMITS[unit] or (m["lead"] == "近" and not starts_word(text, m.start(), True)):
        return None
    if follows(text, m.end(), "级"):
        return None
    if unit == "年":
        first = date(ref.year - n + 1, 1, 1)
        return make_mention(text, m.start(), m.end(), f"{first.year}年至{ref.year}年", first, ref)
    if unit == "个月":
        year, month = shift_month(ref.year, ref.month, -n)
        first = date(year, month, min(ref.day, calendar.monthrange(year, month)[1])) + timedelta(days=1)
    elif unit == "天":
        first = ref - timedelta(days=n - 1)
    else:
        first = ref - timedelta(weeks=n) + timedelta(days=1)
    return make_mention(text, m.start(), m.end(), render_range(first, ref), first, ref)


_RECENT_GLUES = {
    "现在": "体实出表发展呈显再重",
    "当前": "相应正适担恰",
    "近期": "接靠临附逼",
    "近日": "接靠临附逼",
    "近来": "接靠临附逼走",
}


def _resolve_recent(text: str, m: re.Match[str], ref: date, question: bool) -> TimeMention | None:
    if m.start() and text[m.start() - 1] in _RECENT_GLUES.get(m[0], ""):
        return None  # 体现在 is not 现在
    return make_mention(text, m.start(), m.end(), m[0], ref, ref)


# kinds: "relative" is rewritten to an absolute date, "bare" too (a month or day without its year: the nearest
# one's is a guess), "absolute" is kept, "recent" only asks for the newest news
_QUESTION_RULES: tuple[tuple[re.Pattern[str], Resolver], ...] = (
    *RELATIVE_RULES,
    (_RECENT_N_RE, _resolve_recent_n),
    (_BARE_MONTH_RE, _resolve_bare_month),
    (_ABS_YEAR_RE, _resolve_abs_year),
    (_RECENT_RE, _resolve_recent),
)
_QUESTION_KINDS = ("relative",) * (len(RELATIVE_RULES) + 1) + ("bare", "absolute", "recent")


def _question_mentions(question: str, today: date) -> list[tuple[TimeMention, str]]:
    found = non_overlapping(scan(question, _QUESTION_RULES, today, question=True))
    quoted = [m.span() for m in _QUOTED.finditer(question)]
    return [
        (mention, _QUESTION_KINDS[index])
        for mention, index in found
        if not any(start <= mention.start and mention.end <= end for start, end in quoted)
    ]


def parse_question_time(question: str, today: date) -> TimeScope | None:
    """The time a question asks about, or None when it names none. Several expressions give their union."""
    found = _question_mentions(question, today)
    if not found:
        return None
    ranged = [mn for mn, kind in found if kind != "recent"]
    upcoming = [mn.upcoming for mn in ranged if mn.upcoming]
    return TimeScope(
        first=min((mn.first for mn in ranged), default=None),
        last=max((mn.last for mn in ranged), default=None),
        prefer_recent=any(kind == "recent" for _, kind in found),
        text="、".join(mn.text for mn, _ in found),
        resolved="、".join(mn.resolved for mn, _ in found),
        upcoming=(min(u[0] for u in upcoming), max(u[1] for u in upcoming)) if upcoming else None,
        guessed_year=bool(ranged) and all(kind == "bare" for _, kind in found),
    )


def relative_mentions(question: str, today: date) -> list[TimeMention]:
    """The relative time expressions of a question ("上周四", "去年2月1日"), resolved against `today`; not a bare
    month or day still to come, whose year the question leaves open (TimeMention.upcoming)."""
    found = _question_mentions(question, today)
    return [m for m, kind in found if kind in ("relative", "bare") and m.upcoming is None]


def rewrite_question(question: str, today: date) -> str:
    """The question with relative time words replaced by absolute ones ("去年的产值" -> "2025年的产值"); a bare
    month or day still to come is left as asked."""
    parts, pos = [], 0
    for mention in relative_mentions(question, today):
        parts += [question[pos : mention.start], mention.resolved]
        pos = mention.end
    parts.append(question[pos:])
    return "".join(parts)
