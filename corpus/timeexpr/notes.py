"""Notes for readers: "（即2024年2月1日上午）" after each relative expression, "（即自2019年起）" after each counting
one, and the map from the annotated text back to the original."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from core.text import FULLWIDTH_DIGITS, numeral_value
from corpus.timeexpr.relative import resolve_expressions
from corpus.timeexpr.spans import (
    NUM,
    NUM_CHARS,
    SENTENCE_END_RE,
    TimeMention,
    end_of_month,
    inside_title,
    make_mention,
    valid_year,
)


@dataclass(frozen=True)
class AnnotatedText:
    """Text with "（即…）" notes inserted, and the map back to the original's character offsets."""

    text: str
    original: str
    notes: tuple[tuple[int, int], ...]  # (offset in original where a note was inserted, note length), ascending

    def to_original(self, offset: int) -> int:
        """Offset in the original text of annotated `offset`; a position inside a note maps to where it was inserted."""
        shift = 0
        for at, length in self.notes:
            annotated_at = at + shift
            if offset < annotated_at:
                break
            if offset < annotated_at + length:
                return at
            shift += length
        return min(max(offset - shift, 0), len(self.original))

    def to_original_span(self, start: int, end: int) -> tuple[int, int]:
        """Original span [start, end) of an annotated span; notes inside it simply drop out."""
        return self.to_original(start), self.to_original(end)

    def to_annotated(self, offset: int, *, end: bool = False) -> int:
        """Annotated offset of original `offset`; with end=True a note inserted exactly there stays outside."""
        return offset + sum(length for at, length in self.notes if at < offset or (at == offset and not end))


# --- counting expressions ------------------------------------------------------------------------------------
# "2024年是…的第六年", "十年来", "2022年，…连续8年" and "2023年第十届（每两年一届）" imply a first year that the reader
# has to work out. A note is added only when the year counted from is certain: named by the sentence in the way
# each rule asks, or for 年来 the publication year in a sentence naming no year. A sentence that states a start
# (自2019年起, 从今年开始) or looks ahead (将, 未来) is left alone.

_WHOLE_YEAR_RE = re.compile(
    r"(?<![0-9０-９])(?P<y>[0-9０-９]{4})年度?(?![0-9０-９零〇一二两三四五六七八九十上下前后初中底末]|第.{1,2}季)"
)
_ORDINAL_YEAR_RE = re.compile(rf"第(?P<n>{NUM})个?年(?:头)?(?![度级])")
_YEAR_IS_RE = re.compile(r"[，,]?(?:也|还|既|正|则)?[是为][^，,；;：:]*")
_YEARS_SINCE_RE = re.compile(rf"(?P<n>{NUM})年(?:以)?来(?![到访华京看])")
_RUN_OF_YEARS_RE = re.compile(rf"连续(?P<n>{NUM})年(?![度级份])")
_EDITION_RE = re.compile(rf"第(?P<n>{NUM})届")
_EDITION_PERIOD_RE = re.compile(rf"(?:每(?P<every>{NUM})?|(?P<per>{NUM}))年(?:举办|举行|召开)?一[届次]")
# a start already stated, or a run still to come: the count is not from the year in view
_STATED_START_RE = re.compile(
    r"[自从][^，,。；;]{0,12}?年|(?<![0-9０-９零〇一二两三四五六七八九十]年)以来|年(?:起|开始|至今)"
    r"|将|未来|今后|计划|预计|力争|争取|有望"
)
_TOPIC_YEAR_RE = re.compile(r"[，,]|全年")  # "2022年，…" and "2022年全年…" make the year the sentence's topic
_SENTENCE_OPENING = '“"‘『「（( \t'


def _years_in(text: str, lo: int, hi: int, mentions: list[TimeMention]) -> list[tuple[int, int, int]]:
    """(start, end, year) of every whole year named in text[lo:hi]: "2023年", or a resolved 今年/去年/三年前."""
    found = [(m.start(), m.end(), numeral_value(m["y"]) or 0) for m in _WHOLE_YEAR_RE.finditer(text, lo, hi)]
    found += [
        (mn.start, mn.end, mn.first.year)
        for mn in mentions
        if lo <= mn.start and mn.end <= hi and mn.resolved == f"{mn.first.year}年"
    ]
    return sorted(found)


def _counted_mention(text: str, m: re.Match[str], resolved: str, first: int, last: int) -> TimeMention:
    return make_mention(text, m.start(), m.end(), resolved, date(first, 1, 1), date(last, 12, 31))


def _count(m: re.Match[str], text: str) -> int | None:
    """The N of a counting expression, 2 to 100: a count of one implies nothing, a larger one is no count of years."""
    start = m.start("n")
    if (start and text[start - 1] in "数几多余" + "".join(NUM_CHARS)) or m["n"] in ("百", "千"):
        return None  # 数十年来 and 几十年来 are vague
    n = numeral_value(m["n"])
    return n if n is not None and 2 <= n <= 100 else None


def _counting_in_sentence(
    text: str, lo: int, hi: int, pub_date: date, mentions: list[TimeMention]
) -> list[TimeMention]:
    found = []
    years = _years_in(text, lo, hi, mentions)
    opening = None
    if years and not text[lo : years[0][0]].strip(_SENTENCE_OPENING) and _TOPIC_YEAR_RE.match(text, years[0][1]):
        opening = years[0]
    for m in _ORDINAL_YEAR_RE.finditer(text, lo, hi):
        # "2024年是…的第六年": the year is the subject, the ordinal its predicate
        before = [y for y in years if y[1] <= m.start()]
        n = _count(m, text)
        if n and before and _YEAR_IS_RE.fullmatch(text, before[-1][1], m.start()):
            year = before[-1][2]
            found.append(_counted_mention(text, m, f"自{year - n + 1}年起", year - n + 1, year))
    if _STATED_START_RE.search(text, lo, hi) is None:
        if not years or {y for _, _, y in years} == {pub_date.year}:
            for m in _YEARS_SINCE_RE.finditer(text, lo, hi):
                if n := _count(m, text):  # 十年来 counts back from the publication
                    found.append(
                        _counted_mention(text, m, f"自{pub_date.year - n}年起", pub_date.year - n, pub_date.year)
                    )
        for m in _RUN_OF_YEARS_RE.finditer(text, lo, hi):
            # "2022年，…连续8年": a run ending in the year the sentence opens with; without one, whether the run
            # ends in the publication year or the year before (annual results reported early) is unclear
            n = _count(m, text)
            if n and opening is not None and [y for y in years if y[1] <= m.start()] == [opening]:
                year = opening[2]
                found.append(_counted_mention(text, m, f"自{year - n + 1}年起", year - n + 1, year))
    period = _EDITION_PERIOD_RE.search(text, lo, hi)
    for m in _EDITION_RE.finditer(text, lo, hi) if period else ():
        # "2023年第十届…，每两年举办一届": only a stated year of this edition and a stated period give the first
        named = [y for y in years if y[1] == m.start() or (y[1] + 1 == m.start() and text[y[1]] == "的")]
        n = _count(m, text)
        every = numeral_value(period["every"] or period["per"] or "一")
        if n and named and every and 1 <= every <= 10:
            first = named[-1][2] - (n - 1) * every
            if valid_year(first):
                found.append(_counted_mention(text, m, f"首届约在{first}年", first, first))
    sentence = text[lo:hi]
    return [mn for mn in found if f"{mn.first.year}年" not in sentence]  # a start the sentence already names


def _counting_mentions(text: str, pub_date: date, mentions: list[TimeMention]) -> list[TimeMention]:
    """Counting expressions of `text` with the first year they imply, outside the spans of `mentions`."""
    found, lo = [], 0
    for end in [m.end() for m in SENTENCE_END_RE.finditer(text)] + [len(text)]:
        if end > lo:
            found += _counting_in_sentence(text, lo, end, pub_date, mentions)
        lo = end
    return [
        mn
        for mn in found
        if not inside_title(text, mn.start) and not any(o.start < mn.end and mn.start < o.end for o in mentions)
    ]


# --- lengths of written day ranges -----------------------------------------------------------------------------
# "8月16日至22日", "7月27日至28日", "8月16-20日", "1月30日至2月3日": how many days a fair or a closure lasts is a
# count the reader (and a small model) gets wrong; the note says it ("（共7天）").

_DAY_RANGE_RE = re.compile(
    r"(?<![0-9０-９])(?:(?P<y>[0-9０-９]{4})年)?(?P<m1>[0-9０-９]{1,2})月(?P<d1>[0-9０-９]{1,2})(?:日|号)?"
    r"\s*(?:至|到|—|－|-|~|～)\s*(?:(?P<m2>[0-9０-９]{1,2})月)?(?P<d2>[0-9０-９]{1,2})[日号]"
)
_MAX_RANGE_DAYS = 92


def _range_notes(text: str, pub_date: date) -> list[tuple[int, str]]:
    """(end, "（共N天）") of each written range of 2 to 92 days in `text`, the year read as absolute days are."""
    found = []
    for m in _DAY_RANGE_RE.finditer(text):
        if inside_title(text, m.start()):
            continue
        year = int(m["y"].translate(FULLWIDTH_DIGITS)) if m["y"] else pub_date.year
        m1, d1, d2 = (int(m[g].translate(FULLWIDTH_DIGITS)) for g in ("m1", "d1", "d2"))
        m2 = int(m["m2"].translate(FULLWIDTH_DIGITS)) if m["m2"] else m1
        try:
            first = date(year, m1, d1)
            last = date(year + (1 if m2 < m1 else 0), m2, d2)  # "12月30日至1月2日" ends the next year
        except ValueError:
            continue
        days = (last - first).days + 1
        if 2 <= days <= _MAX_RANGE_DAYS:
            found.append((m.end(), f"（共{days}天）"))
    return found


_NOTE_OPENINGS = ("（即", "（发稿日期", "（共")


def _note(mention: TimeMention) -> str:
    return f"（{mention.resolved}）" if mention.approximate else f"（即{mention.resolved}）"


def annotate_with_offsets(text: str, pub_date: date | None) -> AnnotatedText:
    """`text` with "（即2024年2月1日上午）" after each relative expression and "（即自2019年起）" after each counting
    one ("…的第六年"), and the offset map back to `text`."""
    if pub_date is None:
        return AnnotatedText(text, text, ())
    parts, notes, pos = [], [], 0
    mentions = resolve_expressions(text, pub_date)
    found = [(mn.end, _note(mn)) for mn in [*mentions, *_counting_mentions(text, pub_date, mentions)]]
    found += [(end, note) for end, note in _range_notes(text, pub_date) if all(mn.end != end for mn in mentions)]
    for end, note in sorted(found):
        if end < pos or text.startswith(_NOTE_OPENINGS, end):
            continue  # already annotated: a second note could only repeat or contradict the first
        parts += [text[pos:end], note]
        notes.append((end, len(note)))
        pos = end
    parts.append(text[pos:])
    return AnnotatedText("".join(parts), text, tuple(notes))


def annotate(text: str, pub_date: date | None) -> str:
    """`text` with each resolvable relative expression followed by its absolute date; unchanged without a date."""
    return annotate_with_offsets(text, pub_date).text


# what makes an expression relative to the day it is read: a festival with its year is not
_RELATIVE_WORD = re.compile(r"昨|今|明天|明年|去年|前年|前天|后天|年前|月前|天前|周前|星期前|上|下|本|这|那")


def note_days(text: str, mentions: Sequence[TimeMention]) -> str:
    """`text` with a note after each word of `mentions` (a question's relative days and months) that names one day
    or one month: "上周四，…" asked on 2024-02-05 reads "上周四（即2024年2月1日），…". The model reads the question
    so, and a reply that repeats the word is checked on that day against its source, and seen so by the reader.
    Longer periods ("上周") get no note: the question's period is searched already, and their bounds are no facts
    a passage states."""
    for mention in mentions:
        one_month = mention.first.day == 1 and mention.last == end_of_month(mention.first.year, mention.first.month)
        if mention.approximate or not (mention.first == mention.last or one_month):
            continue
        if not _RELATIVE_WORD.search(mention.text) or mention.resolved in mention.text:
            continue  # "2022年春节档" is no day to spell out: a festival is a season as often as a day
        note = f"（即{mention.resolved}）"
        text = re.sub(rf"{re.escape(mention.text)}(?!（即)", lambda m, note=note: m[0] + note, text)
    return text
