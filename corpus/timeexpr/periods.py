"""The days and periods an article names or establishes, written or relative, upcoming ones included."""

from __future__ import annotations

import re
from datetime import date

from core.text import FULLWIDTH_DIGITS
from corpus.timeexpr.relative import ABSOLUTE_DAY_RE, absolute_day, resolve_expressions
from corpus.timeexpr.spans import (
    TimeMention,
    inside_title,
    render_day,
    shift_month,
)

_BARE_DAY_RE = re.compile(r"(?<![0-9０-９月年])(?P<d>[0-9０-９]{1,2})[日号](?![0-9０-９])")


def _bare_day(m: re.Match[str], ref: date) -> date | None:
    """The date a bare "28日" names in news: this month, or the last one when the day is well after publication."""
    day = int(m["d"].translate(FULLWIDTH_DIGITS))
    year, month = ref.year, ref.month
    if day > ref.day + 3:
        year, month = shift_month(year, month, -1)
    try:
        return date(year, month, day)
    except ValueError:
        return None


_FUTURE_RE = re.compile(r"将于|将在|将|即将|拟于|拟|计划|预计|定于")


def _next_year_day(day: date, pub_date: date) -> date:
    """`day` moved to the first year that puts it on or after `pub_date`."""
    while day < pub_date:
        try:
            day = day.replace(year=day.year + 1)
        except ValueError:  # 29 February
            day = day.replace(year=day.year + 1, day=28)
    return day


def dated_mentions(text: str, pub_date: date) -> list[TimeMention]:
    """Every day or period an article names or establishes, in text order: its relative expressions resolved, and
    its written days ("2023年7月28日", "2月1日", "28日", read against the publication date)."""
    mentions = resolve_expressions(text, pub_date)
    taken = [(mn.start, mn.end) for mn in mentions]
    for pattern, read in ((ABSOLUTE_DAY_RE, absolute_day), (_BARE_DAY_RE, _bare_day)):
        for m in pattern.finditer(text):
            if any(s <= m.start() < e for s, e in taken) or inside_title(text, m.start()):
                continue
            day = read(m, pub_date)
            announced = _FUTURE_RE.search(text, max(0, m.start() - 6), m.start()) or text.startswith("起", m.end())
            if day is not None and day < pub_date and announced and not m.groupdict().get("y"):
                day = _next_year_day(day, pub_date)  # "将于9月1日起施行": an arrangement ahead, not a past day
            if day is not None:
                mentions.append(TimeMention(m.start(), m.end(), m.group(), render_day(day), day, day))
                taken.append((m.start(), m.end()))
    return sorted(mentions, key=lambda mn: mn.start)


def spoken_periods(text: str, pub_date: date, *, max_days: int = 92) -> list[tuple[date, date]]:
    """The days and periods (at most `max_days` long) an article speaks about, upcoming ones included: an article
    of 2月3日 on the library's 春节 opening hours speaks about 春节, whenever it was published."""
    spans = {
        (mn.first, mn.last)
        for mn in dated_mentions(text, pub_date)
        if not mn.approximate and (mn.last - mn.first).days < max_days
    }
    return sorted(spans)
