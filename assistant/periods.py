"""Questions about a period: searched among the articles of that period first, and told what the corpus covers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from core.types import Hit
from corpus.timeexpr import TimeScope, render_day

_RECENT_WORDS = ("最近", "最新", "近期", "目前", "现在", "如今", "眼下")
# A question about a period is searched among articles published in it and for a while after it (news reports
# on a day, a month or a year later): the span's quarter, at least 3 days, at most 92.
_REPORT_LAG_MIN_DAYS, _REPORT_LAG_MAX_DAYS = 3, 92


def period_filter(scope: TimeScope) -> tuple[str, str]:
    """(date_from, date_to) ISO bounds on publication dates for a question about `scope`'s period."""
    date_from = scope.first.isoformat() if scope.first else ""
    date_to = ""
    if scope.last:
        span = (scope.last - scope.first).days + 1 if scope.first else 0
        lag = min(max(span // 4, _REPORT_LAG_MIN_DAYS), _REPORT_LAG_MAX_DAYS)
        date_to = (scope.last + timedelta(days=lag)).isoformat()
    return date_from, date_to


def covered_dates(hits: Sequence[Hit], limit: int = 3) -> list[str]:
    """The publication dates of `hits`, newest first, written out ("2024年2月2日"): what the corpus covers."""
    days = sorted({h.date[:10] for h in hits if h.date}, reverse=True)
    out = []
    for day in days[:limit]:
        try:
            out.append(render_day(date.fromisoformat(day)))
        except ValueError:
            continue
    return out


def search_period(
    searcher: Any, query: str, scope: TimeScope | None, *, k: int, min_dense_score: float, fallback_query: str = ""
) -> tuple[list[Hit], bool]:
    """Search, within the period the question names when that period holds a relevant passage.

    Also says whether the question named a period but the hits come from outside it (the unfiltered fallback,
    which searches `fallback_query` when one is given, else `query`).
    """
    recent = scope.prefer_recent if scope is not None else any(w in query for w in _RECENT_WORDS)
    if scope is not None and (scope.first or scope.last):
        date_from, date_to = period_filter(scope)
        # an article without a date may well be about the period: the filter drops only what is dated elsewhere
        # (search snippets and files without dates are most of some corpora; docs/BENCHMARKS.md, Dates)
        # and an article that speaks about the period counts for it, whenever it was published (announcements),
        # or about the days to come that a bare "9月1日" may mean as well
        spans = [(scope.first, scope.last)] if scope.first and scope.last else []
        if scope.upcoming:
            spans.append(scope.upcoming)
        about = [(first.isoformat(), last.isoformat()) for first, last in spans]
        hits = list(
            searcher.search(
                query, k=k, date_from=date_from, date_to=date_to, prefer_recent=recent, undated=True, about=about
            )
        )
        dense = [h.scores["dense"] for h in hits if "dense" in h.scores]
        if hits and (not dense or max(dense) >= min_dense_score):
            return hits, False
        return list(searcher.search(fallback_query or query, k=k, prefer_recent=recent)), True
    return list(searcher.search(query, k=k, prefer_recent=recent)), False
