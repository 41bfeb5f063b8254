"""What an evaluation runs against: the user's own store, or a throwaway one built from a corpus file and cached."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from assistant.factory import build_assistant, open_generator
from core.config import Settings
from core.files import write_atomic
from core.types import Hit
from corpus.ingest import ingest_paths
from corpus.store import Store
from index.hybrid import Searcher


class EvalError(RuntimeError):
    """The evaluation cannot start: no corpus, an empty store, a corpus file that cannot be read."""


def corpus_cache_key(corpus: Path, settings: Settings, *, date: str = "", source: str = "") -> str:
    """Content hash of the corpus file plus everything that changes its chunks or vectors."""
    digest = hashlib.sha256()
    with corpus.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    e, c = settings.embedder, settings.corpus
    options = [e.backend, e.model, e.prompts, c.chunk_size, c.chunk_min, date, source]
    digest.update(json.dumps(options, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()[:20]


@dataclass
class EvalTarget:
    """What the questions run against: the settings (home = the data directory), store, searcher, assistant."""

    settings: Settings
    store: Any
    searcher: Any
    assistant: Any
    cache_dir: Path | None = None
    cached: bool = False
    sync_report: dict[str, Any] = dataclasses.field(default_factory=dict)  # what syncing the indexes did

    def load_context(self, ids: Sequence[str]) -> list[Hit]:
        """Hits for the given article ids (all their chunks) or chunk ids, in the given order.

        At most `answer.max_passages` of them, as many as the assistant puts in a prompt after retrieval (5 by
        default, which is also RGB's number of passages per question).
        """
        articles = self.store.articles_by_id(ids)
        numeric = [int(i) for i in ids if i.isdigit()]
        chunks = self.store.chunks_by_id(numeric) if numeric else {}
        hits: list[Hit] = []
        missing = []
        for pid in ids:
            if pid in articles:
                a = articles[pid]
                hits += [
                    Hit(chunk=c, score=0.0, title=a.title, date=a.date, source=a.source)
                    for c in self.store.chunks_of(pid)
                ]
            elif pid.isdigit() and int(pid) in chunks:
                c = chunks[int(pid)]
                a = self.store.get(c.article_id)
                hits.append(
                    Hit(
                        chunk=c,
                        score=0.0,
                        title=a.title if a else "",
                        date=a.date if a else "",
                        source=a.source if a else "",
                    )
                )
            else:
                missing.append(pid)
        if missing:
            raise EvalError(f"context passages not in the corpus: {', '.join(missing[:5])}")
        return hits[: self.settings.answer.max_passages]

    def close(self) -> None:
        worker = getattr(getattr(self.assistant, "generator", None), "worker", None)
        if worker is not None:
            worker.stop()
        if self.searcher is not None and hasattr(self.searcher, "close"):
            self.searcher.close()
        self.store.close()


def open_target(
    settings: Settings,
    *,
    corpus: Path | None = None,
    corpus_date: str = "",
    corpus_source: str = "",
    retrieval_only: bool = False,
    needs_search: bool = True,
    progress: bool = False,
) -> EvalTarget:
    """Open the user's own store (read only), or a throwaway one built from `corpus` and cached by content hash.

    `needs_search=False` (every question brings its own context passages) skips building the search indexes.
    """
    cache_dir = None
    cached = False
    lock = None
    if corpus is not None:
        corpus = Path(corpus)
        if not corpus.is_file():
            raise EvalError(f"{corpus}: corpus file not found")
        key = corpus_cache_key(corpus, settings, date=corpus_date, source=corpus_source)
        cache_dir = settings.home / "eval-cache" / key
        target_settings = settings.override({"home": cache_dir})
        ready = cache_dir / "ready.json"  # written once the corpus is completely in the store
        cache_dir.mkdir(parents=True, exist_ok=True)
        # two runs starting at once on the same corpus: the second waits instead of ingesting and embedding again
        lock = FileLock(str(cache_dir / ".lock"))
        lock.acquire()
        try:
            cached = ready.is_file()
            store = Store(target_settings.db_path)
            if not cached:
                ingest_paths(target_settings, store, [corpus], date=corpus_date, source=corpus_source)
                done = {
                    "corpus": str(corpus.resolve()),
                    "articles": store.count(),
                    "embedder": settings.embedder.backend,
                    "model": settings.embedder.model,
                    "chunk_size": settings.corpus.chunk_size,
                    "date": corpus_date,
                    "source": corpus_source,
                }
                write_atomic(ready, json.dumps(done, ensure_ascii=False, indent=2))
        except BaseException:
            lock.release()
            raise
    else:
        target_settings = settings
        if not settings.db_path.is_file():
            raise EvalError(f"no article store at {settings.db_path}: ingest articles first, or pass --corpus")
        store = Store(settings.db_path)
        if store.count() == 0:
            store.close()
            raise EvalError(f"the article store {settings.db_path} is empty: ingest articles first, or pass --corpus")
    searcher = None
    sync_report: dict[str, Any] = {}
    try:
        if needs_search:
            searcher = Searcher(target_settings, store)
            sync_report = searcher.sync(progress=progress)  # embeds nothing when the index is up to date
    finally:
        if lock is not None:
            lock.release()
    assistant = None
    if not retrieval_only:
        # the model files stay in the user's data directory (settings), not in the throwaway one
        assistant = build_assistant(target_settings, store, searcher, open_generator(settings))
    return EvalTarget(
        settings=target_settings,
        store=store,
        searcher=searcher,
        assistant=assistant,
        cache_dir=cache_dir,
        cached=cached,
        sync_report=sync_report,
    )
