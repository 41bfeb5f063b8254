"""Open everything a front end needs for one data directory: store, searcher, generator and assistant."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from newsqa.config import Settings


@dataclass
class Runtime:
    settings: Settings
    store: object  # corpus.store.Store
    searcher: object  # index.hybrid.Searcher
    assistant: object  # assistant.chat.Assistant

    def close(self) -> None:
        """Stop the model server, if one runs, and close the store."""
        worker = getattr(getattr(self.assistant, "generator", None), "worker", None)
        if worker is not None:
            worker.stop()
        self.store.close()


def with_generator(settings: Settings, backend: str | None) -> Settings:
    """A copy of the settings with another generator backend (the `--generator` option, the UI switch)."""
    if not backend:
        return settings
    generator = dataclasses.replace(settings.generator, backend=backend)
    return dataclasses.replace(settings, generator=generator)


def open_generator(settings: Settings) -> object | None:
    """The configured generator (loaded lazily on first use), or None for the extractive answerer."""
    if settings.generator.backend == "extractive":
        return None
    from assistant.generators import make_generator

    return make_generator(settings.generator, settings.models_dir, settings.run_dir)


def build_assistant(settings: Settings, store: object, searcher: object, generator: object | None) -> object:
    """The assistant as users get it: relative dates spelled out when answer.resolve_dates is on."""
    from assistant.chat import Assistant

    annotate = None
    if settings.answer.resolve_dates:
        from corpus.timeexpr import annotate
    return Assistant(settings, store, searcher, generator, annotate=annotate)


def open_runtime(settings: Settings, *, load_sample_if_empty: bool = True, progress: bool = False) -> Runtime:
    """Open the store (loading the bundled sample page into an empty one), sync the indexes, build the assistant."""
    from corpus.ingest import ingest_sample
    from corpus.store import Store
    from index.hybrid import Searcher
    from index.rerank import make_reranker

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
    assistant = build_assistant(settings, store, searcher, generator)
    return Runtime(settings=settings, store=store, searcher=searcher, assistant=assistant)
