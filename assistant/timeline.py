"""Questions about when events happened relative to each other, and the day a passage establishes for an event.

"A发生当天，B…？" is anchored: A's day is found first, then B is asked of that day. "A和B哪个更早？" and "A和B相隔
多少天？" are comparisons: both days are found and compared in code, never by the model. An event's day is the
date its sentence states or a resolved relative expression in it establishes ("昨天（即2月1日）"); only when the
sentence names no day is it the article's publication date.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from core.text import ASKS_FOR_DAY, bigrams, normalise, sentence_spans
from core.types import Citation, Hit, parse_day
from corpus.timeexpr import render_day, resolve_expressions

_ANCHOR_DAY = r"(?:当天|当日|那天|那一天|同一天|同日)"
_ANCHORED = re.compile(rf"^(?P<anchor>.{{4,80}}?)(?:的)?{_ANCHOR_DAY}[，,、：:\s]*(?P<asked>.{{2,}})$")
# "A和B，哪个更早？", "A与B哪一个先举行？"
_WHICH = re.compile(r"^(?P<pair>.{6,}?)[，,]?\s*(?:哪个|哪一个|哪项|哪件事)(?:更|比较|最)?(?P<which>早|晚|先|后)")
# "A和B相隔多少天？", "A与B之间隔了几天？"
_GAP = re.compile(r"^(?P<pair>.{6,}?)(?:之间)?(?:相隔|相差|间隔|隔了)(?:了)?(?:多少天|几天|多久|多长时间)")
# "A之后多少天B？"
_AFTER = re.compile(r"^(?P<a>.{4,}?)(?:之后|以后)(?:多少天|几天|多久)[，,]?(?P<b>.{4,}?)[？?。]?$")
_JOINERS = re.compile(r"和|与|跟|同|还是")
_TRAILING = re.compile(r"[，,。？?\s]+$")
# a day in a sentence: "2023年7月28日", "7月28日", "28日" (this month)
_DAY = re.compile(r"(?:(?P<y>\d{4})年)?(?:(?P<m>\d{1,2})月)?(?P<d>\d{1,2})[日号]")


@dataclass(frozen=True)
class Anchored:
    """ "A发生当天，B？": `anchor` names the event whose day the question is about, `asked` what is asked of it."""

    anchor: str
    asked: str


@dataclass(frozen=True)
class Comparison:
    """Two events whose days are compared: which was earlier or later, or how many days apart."""

    first: str
    second: str
    asks: Literal["earlier", "later", "gap"]


@dataclass(frozen=True)
class EventDay:
    """The day a passage gives for an event, and the sentence that establishes it (offsets in the chunk)."""

    day: date
    hit: Hit
    start: int
    end: int
    by_publication: bool  # the sentence names no day: the article's date stands for it

    @property
    def sentence(self) -> str:
        return self.hit.chunk.text[self.start : self.end]

    def citation(self, n: int) -> Citation:
        """The sentence as citation [n] (article offsets), checked: it states the day, or its article is dated so."""
        return Citation.of_span(
            self.hit.chunk,
            self.start,
            self.end,
            n=n,
            title=self.hit.title,
            date=self.hit.date,
            verified=True,
            sentence=self.sentence,
        )


def _split_pair(pair: str) -> tuple[str, str] | None:
    """Two event descriptions joined by 和/与: the joiner outside 《》 that balances the two sides best."""
    depth, best = 0, None
    for i, ch in enumerate(pair):
        depth += {"《": 1, "》": -1, "“": 1, "”": -1}.get(ch, 0)
        if depth == 0 and _JOINERS.match(pair, i):
            joiner = _JOINERS.match(pair, i).group()
            a, b = pair[:i].strip("，, "), pair[i + len(joiner) :].strip("，, ")
            if len(a) >= 4 and len(b) >= 4 and (best is None or min(len(a), len(b)) > min(map(len, best))):
                best = (a, b)
    return best


def analyse(question: str) -> Anchored | Comparison | None:
    """What kind of time question this is, with its events; None for any other question."""
    q = question.strip()
    if m := _GAP.match(q):
        pair = _split_pair(m["pair"])
        return Comparison(*pair, "gap") if pair else None
    if m := _WHICH.match(q):
        pair = _split_pair(_TRAILING.sub("", m["pair"]))
        return Comparison(*pair, "earlier" if m["which"] in "早先" else "later") if pair else None
    if m := _AFTER.match(q):
        return Comparison(m["a"], _TRAILING.sub("", m["b"]), "gap")
    if m := _ANCHORED.match(q):
        return Anchored(m["anchor"].strip("，, "), m["asked"].strip())
    return None


def without_anchor(reply: str, anchor: str) -> str:
    """`reply` without its echo of the anchor ("（A当天）", "A当天，"): the asked part is what its sources check;
    the anchor's day stays where the reply gives it."""
    echo = re.compile(rf"[（(]?{re.escape(anchor)}(?:的)?(?:那天|当天|当日)[）)]?[，,]?")
    return echo.sub("", reply)


def asked_event(question: str) -> str | None:
    """The event whose day `question` asks for ("乔俊杰是哪天调研的？" -> "乔俊杰调研的"), or None."""
    if not ASKS_FOR_DAY.search(question):
        return None
    event = _TRAILING.sub("", ASKS_FOR_DAY.sub("", question))
    return event if len(event) >= 4 else None


def days_in(text: str, published: date, offset: int = 0) -> list[tuple[int, date]]:
    """(position, day) of the single days `text` names or establishes, in text order: written dates ("7月28日",
    "28日") and resolved relative ones ("昨天"). `offset` is added to the positions."""
    days = [
        (m.start + offset, m.first)
        for m in resolve_expressions(text, published)
        if m.first == m.last and not m.approximate
    ]
    for m in _DAY.finditer(text):
        year = int(m["y"]) if m["y"] else published.year
        month = int(m["m"]) if m["m"] else published.month
        try:
            days.append((m.start() + offset, date(year, month, int(m["d"]))))
        except ValueError:
            continue
    return sorted(days)


def event_day(description: str, hits: Sequence[Hit], *, min_overlap: float = 0.3) -> EventDay | None:
    """The day of the event `description` names, from the passage sentence that best matches it.

    The sentence must share `min_overlap` of the description's bigrams. Its day is the one it names (the first,
    when it names several), else the publication date of its article.
    """
    wanted = bigrams(normalise(description))
    if not wanted:
        return None
    best: tuple[float, int, Hit, int, int] | None = None
    for rank, hit in enumerate(hits):
        text = hit.chunk.text
        for start, end in sentence_spans(text):
            score = len(wanted & bigrams(normalise(text[start:end]))) / len(wanted)
            if score >= min_overlap and (best is None or score > best[0]):
                best = (score, rank, hit, start, end)
    if best is None:
        return None
    _, _, hit, start, end = best
    published = parse_day(hit.date)
    if published is None:
        return None
    # relative words are resolved over the whole chunk (当天 refers back), then kept if inside the sentence
    named = [(at, d) for at, d in days_in(hit.chunk.text, published) if start <= at < end]
    if named:
        return EventDay(_day_of(description, hit.chunk.text, named, start, end), hit, start, end, by_publication=False)
    return EventDay(published, hit, start, end, by_publication=True)


_CLAUSE_END = re.compile(r"[，,；;：:]")
# a day that dates its clause: near the clause's start ("本报讯（记者 朱梦琪）昨天上午，", the brackets not counted),
# or after 于/在/从 ("将于9月1日起施行"); not one inside a name ("推出春节阅读活动")
_DATES_CLAUSE = re.compile(r"(?:^.{0,6}|[于在从自])$")
_BRACKETED = re.compile(r"[（(][^）)]*[）)]")


def _day_of(description: str, text: str, named: list[tuple[int, date]], start: int, end: int) -> date:
    """Of the days a sentence names, the one of the event `description` names (the first, unless told apart).

    Each day that dates its clause governs that clause and what follows up to the next such day: in "昨天上午，
    市人大常委会召开《条例》新闻发布会，该条例将于2024年9月1日起施行。" 昨天 is the press conference's day and
    9月1日 the law's. A description ends with its event's verb ("条例开始施行", "召开新闻发布会"), so the day is
    the one whose part holds the description's last bigram that only one part holds.
    """
    heads: list[tuple[int, date]] = []
    for at, day in named:
        clause = max((m.end() for m in _CLAUSE_END.finditer(text, start, at)), default=start)
        if _DATES_CLAUSE.search(_BRACKETED.sub("", text[clause:at])) and (not heads or clause > heads[-1][0]):
            heads.append((clause, day))
    if len({d for _, d in heads}) < 2:
        return named[0][1]
    bounds = [c for c, _ in heads]
    parts = [bigrams(normalise(text[a:b])) for a, b in zip(bounds, [*bounds[1:], end], strict=True)]
    norm = normalise(description)
    for i in range(len(norm) - 2, -1, -1):
        holding = [k for k, part in enumerate(parts) if norm[i : i + 2] in part]
        if len(holding) == 1:
            return heads[holding[0]][1]
    return named[0][1]


def compare_text(plan: Comparison, first: date, second: date) -> str:
    """The answer to a comparison, each event's day cited ([1] the first event's sentence, [2] the second's)."""
    a, b = plan.first, plan.second
    stated = f"{a}在{render_day(first)}[1]，{b}在{render_day(second)}[2]"
    gap = abs((second - first).days)
    if plan.asks == "gap":
        return f"{stated}，两者相隔{gap}天。" if gap else f"{stated}，是同一天。"
    if first == second:
        return f"{stated}，是同一天，没有先后。"
    earlier = (first < second) == (plan.asks == "earlier")
    return f"{stated}，{a if earlier else b}更{'早' if plan.asks == 'earlier' else '晚'}（相隔{gap}天）。"
