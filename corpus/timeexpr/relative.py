"""An article's relative expressions resolved against its publication date, 当天 and 次日 included."""

from __future__ import annotations

import re
from datetime import date, timedelta

from core.text import FULLWIDTH_DIGITS
from corpus.timeexpr import days, festivals, years
from corpus.timeexpr.spans import (
    DAYPART,
    TIAN_COMPOUNDS,
    Resolver,
    TimeMention,
    follows,
    inside_title,
    make_mention,
    non_overlapping,
    render_day,
    scan,
    starts_word,
)

# tried in this order: of two matches starting at one place, the longer wins, then the earlier rule
RELATIVE_RULES: tuple[tuple[re.Pattern[str], Resolver], ...] = (*days.RULES, *years.RULES, *festivals.RULES)

# "明天（7月31日）": the text already says which day, and a second opinion could only contradict it
_DATED_AFTER_RE = re.compile(r"\s*[（(]\s*(?:[0-9０-９]{4}年)?(?:[0-9０-９]{1,2}月)?[0-9０-９]{1,2}[日号]")
_ANCHORED_RE = re.compile(rf"(?P<word>当天|当日|次日|翌日)(?P<part>{DAYPART})?")
ABSOLUTE_DAY_RE = re.compile(r"(?:(?P<y>[0-9０-９]{4})年)?(?P<m>[0-9０-９]{1,2})月(?P<d>[0-9０-９]{1,2})[日号]")
_ABSOLUTE_OTHER_RE = re.compile(r"[0-9０-９]{4}年|[0-9０-９]{1,2}月")
_RI_COMPOUNDS = "常期益趋渐夜子用记报程志历均本元韩军方式语"  # 次日常, 当日期: 日 starting another word


def absolute_day(m: re.Match[str], ref: date) -> date | None:
    """The date an absolute "2月1日" names; without a year, the one not far after publication."""
    month, day = int(m["m"].translate(FULLWIDTH_DIGITS)), int(m["d"].translate(FULLWIDTH_DIGITS))
    year = int(m["y"].translate(FULLWIDTH_DIGITS)) if m["y"] else ref.year
    try:
        found = date(year, month, day)
    except ValueError:
        return None
    if not m["y"] and found > ref + timedelta(days=60):
        try:
            found = date(year - 1, month, day)
        except ValueError:
            return None
    return found


def _anchored_mentions(text: str, pub_date: date, others: list[TimeMention]) -> list[TimeMention]:
    """当天/次日 refer to the day last mentioned. They are resolved only when that day is clear: the last date
    before them names a single day, or (for 当天 alone) no date at all comes before them and publication day is
    the only candidate."""
    events: list[tuple[int, int, str, date | None, re.Match[str] | None]] = []
    taken = [(mn.start, mn.end) for mn in others]
    for mn in others:
        single = mn.first if mn.first == mn.last and not mn.approximate else None
        events.append((mn.start, 1, "date", single, None))
    for m in ABSOLUTE_DAY_RE.finditer(text):
        if not any(s <= m.start() < e for s, e in taken):  # "去年12月31日" is already a mention
            events.append((m.start(), 1, "date", absolute_day(m, pub_date), None))
            taken.append((m.start(), m.end()))
    for m in _ABSOLUTE_OTHER_RE.finditer(text):
        if not any(s <= m.start() < e for s, e in taken):
            events.append((m.start(), 1, "date", None, None))
    for m in _ANCHORED_RE.finditer(text):
        if any(s < m.end() and m.start() < e for s, e in taken) or not starts_word(text, m.start(), False):
            continue
        glues = TIAN_COMPOUNDS + "宁" if m["word"] == "当天" else _RI_COMPOUNDS
        if follows(text, m.end("word"), glues):
            continue
        events.append((m.start(), 0, "anchored", None, m))
    events.sort(key=lambda ev: (ev[0], ev[1]))

    mentions, anchor, seen_date = [], None, False
    for _, _, kind, day, m in events:
        if kind == "date":
            anchor, seen_date = day, True
            continue
        assert m is not None
        word = m["word"]
        if word in ("当天", "当日"):
            target = anchor if anchor is not None else (None if seen_date else pub_date)
        else:
            target = anchor + timedelta(days=1) if anchor is not None else None
        if target is None:
            continue
        mentions.append(make_mention(text, m.start(), m.end(), render_day(target) + (m["part"] or ""), target, target))
        anchor, seen_date = target, True
    return mentions


def resolve_expressions(text: str, pub_date: date) -> list[TimeMention]:
    """Relative time expressions in an article published on `pub_date`, in text order, with their dates."""
    rules = (*RELATIVE_RULES, days.FUZZY_RULE)
    mentions = [mn for mn, _ in non_overlapping(scan(text, rules, pub_date, question=False))]
    mentions = [mn for mn in mentions if not _DATED_AFTER_RE.match(text, mn.end)]
    anchored = _anchored_mentions(text, pub_date, mentions)
    mentions += [mn for mn in anchored if not _DATED_AFTER_RE.match(text, mn.end) and not inside_title(text, mn.start)]
    return sorted(mentions, key=lambda mn: mn.start)
