"""Open everything a front end needs for one data directory: store, searcher, generator and assistant."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from assistant.chat import Assistant
from assistant.factory import build_assistant, open_generator
from assistant.facts import named_entities
from core.config import Settings
from corpus.ingest import ingest_sample
from corpus.store import Store
from index.hybrid import Searcher
from index.rerank import make_reranker


@dataclass
class Runtime:
    settings: Settings
    store: Store
    searcher: Searcher
    assistant: Assistant

    def warm(self) -> None:
        """Load what the first question would otherwise wait for: the embedder, and jieba's dictionary for keyword
        search and question facts. The embedder loads in C, outside the GIL, so it loads beside the dictionary."""
        failed: list[BaseException] = []

        def load_embedder() -> None:
            try:
                self.searcher.query_vector("预热")
            except BaseException as exc:  # noqa: BLE001 - raised again below, in the caller's thread
                failed.append(exc)

        embedder = threading.Thread(target=load_embedder, name="warm-embedder")
        embedder.start()
        try:
            self.searcher.keyword.segmenter.query_terms("预热")
            named_entities("预热")
        finally:
            embedder.join()
        if failed:
            raise failed[0]

    def close(self) -> None:
        """Stop the model server, if one runs, and close the store."""
        worker = getattr(self.assistant.generator, "worker", None)
        if worker is not None:
            worker.stop()
        self.store.close()


def with_generator(settings: Settings, backend: str | None) -> Settings:
    """A copy of the settings with another generator backend (the `--generator` option, the UI switch)."""
    if not backend:
        return settings
    return settings.override({"generator": {"backend": backend}}, "--generator")


def open_runtime(settings: Settings, *, load_sample_if_empty: bool = True, progress: bool = False) -> Runtime:
    """Open the store (loading the bundled sample page into an empty one), sync the indexes, build the assistant."""
    store = Store(settings.db_path)
    if load_sample_if_empty and store.count() == 0:
        ingest_sample(settings, store)
    generator = open_generator(settings)
    warm = getattr(generator, "warm", None)
    if warm is not None:
        warm()  # the model loads in its own process while the indexes are brought in step
    reranker = make_reranker(settings.retrieval.reranker, generator, top=settings.retrieval.rerank_top)
    searcher = Searcher(settings, store, reranker=reranker)
    searcher.sync(progress=progress)
    return Runtime(settings, store, searcher, build_assistant(settings, store, searcher, generator))
