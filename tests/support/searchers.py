"""A deterministic stand-in for index.hybrid.Searcher: ranks chunks by character bigrams shared with the query."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from core.types import Article, Chunk, Hit, chunk_id
from tests.support.clock import ManualClock


def _bigrams(text: str) -> set[str]:
    grams: set[str] = set()
    for run in re.findall(r"[\u3400-\u9fff\w]+", text):
        grams.update(run[i : i + 2] for i in range(len(run) - 1))
    return grams


class FakeSearcher:
    """`search` scores each chunk (with its title) by the share of the query's bigrams it contains, within the
    publication dates `date_from` / `date_to` asked for.

    That share is reported as the "dense" score so refusal thresholds can be exercised; calls are recorded.
    """

    def __init__(self, articles: Sequence[Article], chunks: Sequence[Chunk]) -> None:
        self.articles = {a.id: a for a in articles}
        self.chunks = list(chunks)
        self.calls: list[dict[str, Any]] = []

    def search(self, query: str, *, k: int, **options: Any) -> list[Hit]:
        self.calls.append({"query": query, "k": k, **options})
        wanted = _bigrams(query)
        scored = []
        for chunk in self.chunks:
            article = self.articles[chunk.article_id]
            shared = len(wanted & _bigrams(article.title + chunk.text))
            score = shared / len(wanted) if wanted else 0.0
            scored.append((score, chunk.id, chunk, article))
        scored.sort(key=lambda t: (-t[0], t[1]))
        lo, hi = options.get("date_from", ""), options.get("date_to", "")
        if lo or hi:  # like index.hybrid.Searcher: publication dates in the span (undated ones when asked)
            undated = options.get("undated", False)
            scored = [
                t
                for t in scored
                if t[0] > 0
                and (
                    (t[3].date and (not lo or t[3].date >= lo) and (not hi or t[3].date <= hi + "~"))
                    or (undated and not t[3].date)
                )
            ]
        return [
            Hit(
                chunk=c,
                score=s,
                title=a.title,
                date=a.date,
                source=a.source,
                scores={"dense": s, "bm25": s * 10, "fused": s},
            )
            for s, _, c, a in scored[:k]
        ]


def hit_for(article: Article, chunk: Chunk, score: float = 0.9) -> Hit:
    return Hit(
        chunk=chunk,
        score=score,
        title=article.title,
        date=article.date,
        source=article.source,
        scores={"dense": score, "bm25": 10 * score, "fused": score},
    )


def make_hit(article_id: str, title: str, text: str = "正文", score: float = 1.0, index: int = 0) -> Hit:
    chunk = Chunk(
        id=chunk_id(article_id, index, index + len(text), text),
        article_id=article_id,
        index=index,
        paragraph=0,
        start=0,
        end=len(text),
        text=text,
    )
    return Hit(chunk=chunk, score=score, title=title, date="2024-02-02", source="武进日报")


class ScriptedSearcher:
    """Returns the hits scripted for a query (all queries it saw are kept in `queries`)."""

    def __init__(
        self, results: dict[str, Sequence[Hit]] | None = None, *, clock: ManualClock | None = None, seconds: float = 0.0
    ) -> None:
        self.results = dict(results or {})
        self.queries: list[str] = []
        self.clock, self.seconds = clock, seconds

    def search(self, query: str, *, k: int) -> list[Hit]:
        self.queries.append(query)
        if self.clock:
            self.clock.advance(self.seconds)
        if query not in self.results:
            raise KeyError(f"no hits scripted for {query!r}")
        return list(self.results[query])[:k]
