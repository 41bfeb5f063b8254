"""The one fake searcher, a deterministic stand-in for index.hybrid.Searcher, and the hits it returns."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from core.types import Article, Chunk, Hit, chunk_id
from corpus.timeexpr import spoken_periods
from index.keyword import Segmenter
from tests.support.clock import ManualClock

_SEGMENTER = Segmenter()


def _bigrams(text: str) -> set[str]:
    grams: set[str] = set()
    for run in re.findall(r"[\u3400-\u9fff\w]+", text):
        grams.update(run[i : i + 2] for i in range(len(run) - 1))
    return grams


class FakeSearcher:
    """Ranks chunks (with their title) by the share of the query's character bigrams they contain; no index.

    That share is reported as the "dense" score so refusal thresholds can be exercised. The filters of
    `Searcher.search` (publication dates, `undated`, `sources`, the period an article speaks `about`) work as in the
    store; a filtered search, and every search with `related_only`, leaves out chunks sharing no bigram with the query.
    `scripted` replaces the ranking by fixed hits per query, and a query with none raises KeyError like a broken index.
    Searches are recorded in `calls` with the options as passed, syncs counted in `syncs`; each search advances
    `clock` by `seconds`.
    """

    def __init__(
        self,
        articles: Sequence[Article] = (),
        chunks: Sequence[Chunk] = (),
        *,
        scripted: dict[str, Sequence[Hit]] | None = None,
        related_only: bool = False,
        clock: ManualClock | None = None,
        seconds: float = 0.0,
    ) -> None:
        self.articles = {a.id: a for a in articles}
        self.chunks = list(chunks)
        self.scripted = dict(scripted) if scripted is not None else None
        self.related_only = related_only
        self.clock, self.seconds = clock, seconds
        self.calls: list[dict[str, Any]] = []
        self.syncs = 0

    @property
    def queries(self) -> list[str]:
        return [c["query"] for c in self.calls]

    def sync(self, progress: bool = True) -> dict[str, Any]:
        self.syncs += 1
        return {}

    def search(self, query: str, *, k: int | None = None, **options: Any) -> list[Hit]:
        self.calls.append({"query": query, "k": k, **options})
        if self.clock:
            self.clock.advance(self.seconds)
        if self.scripted is not None:
            if query not in self.scripted:
                raise KeyError(f"no hits scripted for {query!r}")
            return list(self.scripted[query])[:k]
        wanted = _bigrams(query)
        scored = []
        for chunk in self.chunks:
            article = self.articles[chunk.article_id]
            shared = len(wanted & _bigrams(article.title + chunk.text))
            score = shared / len(wanted) if wanted else 0.0
            scored.append((score, chunk.id, chunk, article))
        scored.sort(key=lambda t: (-t[0], t[1]))
        filtered = any(options.get(f) for f in ("date_from", "date_to", "sources"))
        if filtered or self.related_only:
            scored = [t for t in scored if t[0] > 0 and (not filtered or self._allowed(t[3], **options))]
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

    def held_terms(self, text: str) -> list[str]:
        """The words of `text` (jieba's search segmentation, as the keyword index's) that some chunk holds."""
        return [t for t in _SEGMENTER.query_terms(text) if self.held_together([t])]

    def held_together(self, terms: Sequence[str], beside: Sequence[str] = ()) -> bool:
        def whole(article_id: str) -> str:
            return self.articles[article_id].title + "".join(c.text for c in self.chunks if c.article_id == article_id)

        passages = ((self.articles[c.article_id].title + c.text, c.article_id) for c in self.chunks)
        return bool(terms) and any(
            all(t in p for t in terms) and all(t in whole(a) for t in beside) for p, a in passages
        )

    @staticmethod
    def _allowed(
        article: Article,
        *,
        date_from: str = "",
        date_to: str = "",
        sources: Sequence[str] = (),
        undated: bool = False,
        about: Sequence[tuple[str, str]] = (),
        **_: Any,
    ) -> bool:
        """Store.chunk_ids_where's rule for one article."""
        if sources and article.source not in sources:
            return False
        if not article.date:
            in_span = undated
        else:  # "~" sorts after digits and "-": a date_to of "2024-05" includes all of May
            in_span = (not date_from or article.date >= date_from) and (not date_to or article.date <= date_to + "~")
        if in_span or not about:
            return in_span
        try:
            published = date.fromisoformat(article.date[:10])
        except ValueError:
            return False  # an undated article's relative words cannot be resolved
        spoken = spoken_periods(f"{article.title}\n{article.text}", published)
        return any(
            said_first.isoformat() <= last and said_last.isoformat() >= first
            for said_first, said_last in spoken
            for first, last in about
        )


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
    """A hit on a one-chunk article of 2024-02-02 (the scores a real search adds left out)."""
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
