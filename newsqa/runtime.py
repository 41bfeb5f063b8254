"""Open everything a front end needs for one data directory: store, searcher, generator and assistant."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.chat import Assistant
from assistant.factory import build_assistant, open_generator
from assistant.facts import named_entities
from assistant.readahead import ReadAhead
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
    read_ahead: ReadAhead | None = None

    def warm(self) -> None:
        """Load what the first question would otherwise wait for: the embedder, jieba's lexicon and its tagger;
        and have the local model read the newest passages ahead while no one asks (`generator.read_ahead`)."""
        self.searcher.query_vector("预热")
        named_entities("预热")
        limit = self.settings.generator.read_ahead
        if self.read_ahead is None and limit > 0 and getattr(self.assistant.generator, "reads_ahead", False):
            self.read_ahead = ReadAhead.configured(self.assistant, self.settings)
            self.read_ahead.start()

    def close(self) -> None:
        """Stop reading ahead and the model server, if they run, and close the store."""
        if self.read_ahead is not None:
            self.read_ahead.stop(wait_s=0)
        worker = getattr(self.assistant.generator, "worker", None)
        if worker is not None:
            worker.stop()
        if self.read_ahead is not None:
            self.read_ahead.stop()
        self.store.close()


def with_generator(settings: Settings, backend: str | None) -> Settings:
    """A copy of the settings with another generator backend (the `--generator` option, the UI switch)."""
    if not backend:
        return settings
    return settings.override({"generator": {"backend": backend}}, "--generator")


def open_runtime(
    settings: Settings,
    *,
    load_sample_if_empty: bool = True,
    progress: bool = False,
    warm: bool = True,
    model_role: str = "own",
) -> Runtime:
    """Open the store (loading the bundled sample page into an empty one), sync the indexes, build the assistant.

    With `warm` the local model starts loading in its own process at once (a server, whose first visitor should
    not wait for it); without, on the first question that needs it (`newsqa ask`, whose quotation would otherwise
    wait for the cores the loading model takes). `model_role` "serve" names the model server for other processes
    on this data directory, "ask" asks such a server when one runs (assistant.factory.make_generator)."""
    store = Store(settings.db_path)
    if load_sample_if_empty and store.count() == 0:
        ingest_sample(settings, store)
    generator = open_generator(settings, role=model_role)
    start = getattr(generator, "warm", None)
    if warm and start is not None:
        start()  # the model loads in its own process while the indexes are brought in step
    reranker = make_reranker(settings.retrieval.reranker, generator, top=settings.retrieval.rerank_top)
    searcher = Searcher(settings, store, reranker=reranker)
    searcher.sync(progress=progress)
    return Runtime(settings, store, searcher, build_assistant(settings, store, searcher, generator))
