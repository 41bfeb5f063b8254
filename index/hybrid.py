"""Hybrid search: dense and BM25 candidates fused by normalised scores, grouped by article, filtered by date/source."""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from core.config import RetrievalSettings, Settings
from core.types import Hit, parse_day
from corpus.store import Store
from index.dense import DenseIndex, EmbeddingCache
from index.embedders import Embedder, make_embedder
from index.keyword import KeywordIndex
from index.rerank import Reranker

MODES = ("hybrid", "dense", "bm25")
QUERY_CACHE = 256
HELD_CACHE = 4096  # the keyword lookups a conversation's follow-ups repeat (held_terms, held_together)
HELD_ARTICLES = 50  # the articles whose chunks hold a follow-up's words that are looked at for the topic's words
# Exact-match evidence in a query: numbers, Latin words, quoted names. BM25 finds those; embeddings blur them.
_EXACT = re.compile(r"\d|[A-Za-z]{2,}|[《“「\"]")


class SearchError(ValueError):
    """A search request is malformed (unknown mode, bad date)."""


def _minmax(scores: dict[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi - lo < 1e-9:
        return dict.fromkeys(scores, 1.0)
    return {i: (s - lo) / (hi - lo) for i, s in scores.items()}


def bm25_share(query: str, settings: RetrievalSettings) -> float:
    """BM25's share of the fused score for this query; larger when the query carries exact terms."""
    wd, wb = settings.dense_weight, settings.bm25_weight
    if _EXACT.search(query):
        wb *= 1.0 + settings.exact_boost
    return wb / (wd + wb) if wd + wb > 0 else 0.5


def fuse_convex(
    query: str, dense: dict[int, float], bm25: dict[int, float], settings: RetrievalSettings
) -> dict[int, float]:
    """Convex combination of min-max normalised scores; a candidate missing from the BM25 list gets 0 there.

    `dense` must hold a score for every candidate (the searcher scores BM25-only candidates by their vectors).
    """
    share = bm25_share(query, settings)
    nd, nb = _minmax(dense), _minmax(bm25)
    ids = dense.keys() | bm25.keys()
    return {i: (1 - share) * nd.get(i, 0.0) + share * nb.get(i, 0.0) for i in ids}


def _zscore(scores: dict[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    values = np.fromiter(scores.values(), dtype=np.float64)
    mean, std = float(values.mean()), float(values.std())
    return {i: (s - mean) / std if std > 1e-9 else 0.0 for i, s in scores.items()}


def fuse_zscore(
    query: str, dense: dict[int, float], bm25: dict[int, float], settings: RetrievalSettings
) -> dict[int, float]:
    """Weighted sum of z-scores: a retriever whose top stands out from its list speaks louder than a flat one.

    A candidate missing from the BM25 list gets that list's lowest z-score.
    """
    share = bm25_share(query, settings)
    zd, zb = _zscore(dense), _zscore(bm25)
    floor = min(zb.values(), default=0.0)
    ids = dense.keys() | bm25.keys()
    return {i: (1 - share) * zd.get(i, 0.0) + share * zb.get(i, floor) for i in ids}


def fuse_rrf(
    query: str, dense: dict[int, float], bm25: dict[int, float], settings: RetrievalSettings
) -> dict[int, float]:
    """Weighted reciprocal rank fusion over the two candidate lists (each ranked by its own score)."""
    share = bm25_share(query, settings)
    fused: dict[int, float] = {}
    for scores, weight in ((dense, 1 - share), (bm25, share)):
        for rank, i in enumerate(sorted(scores, key=scores.__getitem__, reverse=True)):
            fused[i] = fused.get(i, 0.0) + weight / (settings.rrf_k + rank + 1)
    return fused


FUSIONS: dict[str, Callable[[str, dict[int, float], dict[int, float], RetrievalSettings], dict[int, float]]] = {
    "convex": fuse_convex,
    "zscore": fuse_zscore,
    "rrf": fuse_rrf,
}


class Searcher:
    """Keeps the dense and keyword indexes in step with the store and answers searches over both."""

    def __init__(
        self, settings: Settings, store: Store, embedder: Embedder | None = None, reranker: Reranker | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder or make_embedder(settings.embedder)
        self.reranker = reranker  # off unless given (see index.rerank.make_reranker)
        self.dense = DenseIndex(settings.index_dir, self.embedder, EmbeddingCache(store.path), settings.index)
        self.keyword = KeywordIndex(store.path, settings.index_dir / "userdict.txt")
        self._loaded = False
        self._lock = threading.RLock()  # the web app may search from several threads; connections are shared
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()  # recent queries (retries, evals)
        self._held: dict[tuple[str, ...], bool] = {}  # terms -> one chunk holds them all, until the next sync

    def close(self) -> None:
        self.keyword.close()
        self.dense.cache.close()

    def sync(self, progress: bool = True) -> dict[str, Any]:
        """Bring both indexes in step with the store; cheap when the store has not changed since the last sync."""
        with self._lock:
            report = {
                "keyword": self.keyword.sync(self.store, progress=progress),
                "dense": self.dense.sync(self.store, progress=progress),
            }
            self._held.clear()
            self._loaded = True
        return report

    def rebuild(self, progress: bool = True) -> dict[str, Any]:
        """Rebuild both indexes from the store; cached embeddings are reused, so nothing is embedded twice."""
        with self._lock:
            self.keyword.reset()
            self.dense.reset()
            return self.sync(progress=progress)

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self.sync(progress=False)

    def allowed_ids(
        self,
        date_from: str = "",
        date_to: str = "",
        sources: Sequence[str] = (),
        *,
        undated: bool = False,
        about: Sequence[tuple[str, str]] = (),
    ) -> set[int] | None:
        """Chunk ids passing the filters, or None when there is no filter.

        Undated articles fail a date filter, unless `undated`: then their date counts as unknown, not as outside.
        `about` (spans of first and last day) also lets through articles that speak about one of those spans
        (Store.chunk_ids_where).
        """
        if not (date_from or date_to or sources):
            return None
        for label, value in (("date_from", date_from), ("date_to", date_to)):
            if value and not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", value):
                raise SearchError(f"{label} must be yyyy, yyyy-mm or yyyy-mm-dd, got {value!r}")
        return self.store.chunk_ids_where(
            date_from=date_from, date_to=date_to, sources=sources, undated=undated, about=about
        )

    def search(
        self,
        query: str,
        *,
        k: int | None = None,
        mode: str | None = None,
        date_from: str = "",
        date_to: str = "",
        sources: Sequence[str] = (),
        prefer_recent: bool = False,
        undated: bool = False,
        about: Sequence[tuple[str, str]] = (),
    ) -> list[Hit]:
        """The best chunks for `query`, at most `max_chunks_per_article` per article, best first.

        `undated` lets articles without a publication date through the date filter (see `allowed_ids`).
        """
        cfg = self.settings.retrieval
        k = k or cfg.k
        mode = mode or cfg.mode
        if mode not in MODES:
            raise SearchError(f"unknown search mode {mode!r} (known: {', '.join(MODES)})")
        if cfg.fusion not in FUSIONS:
            raise SearchError(f"unknown retrieval.fusion {cfg.fusion!r} (known: {', '.join(FUSIONS)})")
        if not query.strip():
            return []
        with self._lock:
            self._ensure_loaded()
            allowed = self.allowed_ids(date_from, date_to, sources, undated=undated, about=about)
            dense, bm25 = self.candidates(query, max(cfg.candidates, k), mode=mode, allowed=allowed)
            fused = FUSIONS[cfg.fusion](query, dense, bm25, cfg) if mode == "hybrid" else dict(dense or bm25)
            hits = self._hits(fused, dense, bm25, k, prefer_recent)
        return self.reranker.rerank(query, hits) if self.reranker is not None else hits

    def held_terms(self, text: str) -> list[str]:
        """The search terms of `text` that some chunk holds (a title counts as part of each of its chunks)."""
        with self._lock:
            self._ensure_loaded()
            return [t for t in self.keyword.segmenter.query_terms(text) if self._holds((t,))]

    def held_together(self, terms: Sequence[str], beside: Sequence[str] = ()) -> bool:
        """Does one chunk hold every one of `terms`? With `beside`, one in an article that holds every one of those
        too, in its title or any of its chunks: the same story ("谁参加了会议？" of the article the conversation is
        about, whose chunk naming the meeting's guests does not name its topic)."""
        with self._lock:
            self._ensure_loaded()
            if not beside:
                return self._holds(tuple(terms))
            # "" is no term: it parts the two lists
            return self._remembered((*terms, "", *beside), lambda: self._beside(terms, beside))

    def _beside(self, terms: Sequence[str], beside: Sequence[str]) -> bool:
        chunks = self.store.chunks_by_id(self.keyword.holding(terms, 4 * HELD_ARTICLES))
        articles = list(dict.fromkeys(c.article_id for c in chunks.values()))[:HELD_ARTICLES]
        titles = self.store.articles_by_id(articles)
        for article in articles:
            text = titles[article].title + "".join(c.text for c in self.store.chunks_of(article))
            if all(term in text for term in beside):
                return True
        return False

    def _holds(self, terms: tuple[str, ...]) -> bool:
        return self._remembered(terms, lambda: self.keyword.holds(terms))

    def _remembered(self, key: tuple[str, ...], lookup: Callable[[], bool]) -> bool:
        """A keyword lookup, remembered until the indexes change: a follow-up asks about the same topic many times."""
        if key not in self._held:
            if len(self._held) >= HELD_CACHE:
                self._held.clear()
            self._held[key] = lookup()
        return self._held[key]

    def candidates(
        self, query: str, n: int, *, mode: str = "hybrid", allowed: set[int] | None = None
    ) -> tuple[dict[int, float], dict[int, float]]:
        """(dense, bm25) scores of each retriever's top `n`; in hybrid mode every candidate has a dense score."""
        dense: dict[int, float] = {}
        bm25: dict[int, float] = {}
        if mode in ("hybrid", "bm25"):
            bm25 = dict(self.keyword.search(query, n, allowed))
        if mode in ("hybrid", "dense"):
            qvec = self.query_vector(query)
            dense = dict(self.dense.search_vector(qvec, n, allowed))
            if mode == "hybrid":
                extra = [i for i in bm25 if i not in dense]
                for i, v in self.dense.vectors(extra).items():
                    dense[i] = float(np.dot(v, qvec))
        return dense, bm25

    def query_vector(self, query: str) -> np.ndarray:
        """The query's embedding, remembered for the last QUERY_CACHE queries."""
        vec = self._query_vectors.get(query)
        if vec is None:
            vec = self.embedder.encode_queries([query])[0]
            self._query_vectors[query] = vec
            if len(self._query_vectors) > QUERY_CACHE:
                self._query_vectors.popitem(last=False)
        else:
            self._query_vectors.move_to_end(query)
        return vec

    def _hits(
        self, fused: dict[int, float], dense: dict[int, float], bm25: dict[int, float], k: int, prefer_recent: bool
    ) -> list[Hit]:
        cfg = self.settings.retrieval
        chunks = self.store.chunks_by_id(fused)
        final = {i: s for i, s in fused.items() if i in chunks}
        if prefer_recent and final:
            dates = self.store.article_dates({c.article_id for c in chunks.values()})
            final = self._recency(final, {i: dates.get(c.article_id, "") for i, c in chunks.items()})
        per_article: dict[str, int] = {}
        chosen: list[int] = []
        # a news article's lead (its first chunk) says who did what and when: when its article fills its places
        # with other chunks, the lead, if it was found at all, keeps the last one
        cap = cfg.max_chunks_per_article
        leads = {chunks[i].article_id: i for i in final if chunks[i].index == 0} if cap > 1 else {}
        for i in sorted(final, key=lambda i: (-final[i], i)):
            aid = chunks[i].article_id
            taken = per_article.get(aid, 0)
            lead = leads.get(aid, i)
            if taken >= cap or (taken == cap - 1 and lead != i and lead not in chosen):
                continue
            per_article[aid] = per_article.get(aid, 0) + 1
            chosen.append(i)
            if len(chosen) == k:
                break
        # articles only for the hits returned: reading all ~100 candidates' articles costs more than the search
        articles = self.store.articles_by_id({chunks[i].article_id for i in chosen})
        hits: list[Hit] = []
        for i in chosen:
            chunk = chunks[i]
            article = articles.get(chunk.article_id)
            scores = {"fused": final[i]}
            if i in dense:
                scores["dense"] = dense[i]
            if i in bm25:
                scores["bm25"] = bm25[i]
            hits.append(
                Hit(
                    chunk=chunk,
                    score=final[i],
                    title=article.title if article else "",
                    date=article.date if article else "",
                    source=article.source if article else "",
                    scores=scores,
                )
            )
        return hits

    def _recency(self, scores: dict[int, float], dates: dict[int, str]) -> dict[int, float]:
        """A mild boost for newer articles: up to `recency_weight` of the score range, halving every year back."""
        days = {i: d for i, s in dates.items() if (d := parse_day(s)) is not None}
        if not days:
            return scores
        newest = max(days.values())
        span = (max(scores.values()) - min(scores.values())) or 1.0
        weight = self.settings.retrieval.recency_weight * span
        return {
            i: s + (weight * math.pow(0.5, (newest - days[i]).days / 365) if i in days else 0.0)
            for i, s in scores.items()
        }
