"""What the model reads of each passage: the window around what the question asks, and only the passages that
add something, within a budget. Reading the prompt is most of the wait on a CPU."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from assistant.attribution import Evidence
from assistant.facts import evidence_facts
from core.text import bigrams, normalise, sentence_spans
from core.types import Hit, parse_day


def trim_passage(text: str, query: str, max_chars: int, max_sentences: int = 0) -> str:
    """The contiguous run of sentences of `text` around those sharing most words with `query`: at most
    `max_chars` characters and, unless 0, `max_sentences` sentences."""
    spans = sentence_spans(text)
    if len(text) <= max_chars and not 0 < max_sentences < len(spans):
        return text
    if not spans:
        return text[:max_chars]
    grams = bigrams(normalise(query))
    scores = [len(grams & bigrams(normalise(text[s:e]))) for s, e in spans]
    best = max(range(len(spans)), key=lambda i: (scores[i], -i))
    lo = hi = best
    while not 0 < max_sentences <= hi - lo + 1:
        options = []
        if lo > 0 and spans[hi][1] - spans[lo - 1][0] <= max_chars:
            options.append((scores[lo - 1], 0, lo - 1, hi))
        if hi + 1 < len(spans) and spans[hi + 1][1] - spans[lo][0] <= max_chars:
            options.append((scores[hi + 1], 1, lo, hi + 1))  # ties grow forwards: news leads with the facts
        if not options:
            break
        _, _, lo, hi = max(options)
    start, end = spans[lo][0], min(spans[hi][1], spans[lo][0] + max_chars)
    return ("…" if start > 0 else "") + text[start:end] + ("…" if end < len(text) else "")


def _near_copy(text: str, other: str, min_overlap: float) -> bool:
    """Does `text` say what `other` says: the same numbers, and `min_overlap` of the shorter one's bigrams?"""
    a, b = bigrams(normalise(text)), bigrams(normalise(other))
    if not a or not b or len(a & b) / min(len(a), len(b)) < min_overlap:
        return False
    return evidence_facts(text).numbers == evidence_facts(other).numbers


def select_passages(
    hits: Sequence[Hit],
    shown: Sequence[str],
    *,
    budget_chars: int = 0,
    duplicate_overlap: float = 1.0,
    score_gap: float = 0.0,
) -> list[Evidence]:
    """Evidence numbered from 1 for `hits` shown as `shown`, best first: without passages that repeat one above
    from the same day, with `score_gap`, without those scored more than that below the first, and with
    `budget_chars`, without those that no longer fit (the first is always kept)."""
    kept: list[Evidence] = []
    used = 0
    for hit, text in zip(hits, shown, strict=True):
        if kept and score_gap and hit.score < kept[0].hit.score - score_gap:
            break  # hits come best first: the rest are further below
        if any(e.hit.date == hit.date and _near_copy(text, e.shown, duplicate_overlap) for e in kept):
            continue  # a copy from the same day adds tokens, not facts; one from another day dates them
        if kept and budget_chars and used + len(text) > budget_chars:
            break
        kept.append(Evidence(len(kept) + 1, hit, text))
        used += len(text)
    return kept


def in_article_order(evidence: Sequence[Evidence]) -> list[Evidence]:
    """The same passages renumbered from 1 in an order that does not depend on the question: newest article first
    (undated last), articles by id, each article's passages as they stand in it."""

    def key(e: Evidence) -> tuple:
        day = parse_day(e.hit.date)
        return (day is None, -day.toordinal() if day else 0, e.hit.chunk.article_id, e.hit.chunk.index)

    return [replace(e, n=n) for n, e in enumerate(sorted(evidence, key=key), start=1)]
