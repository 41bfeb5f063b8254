"""The assistant as users get it, built from the settings: its generator, and relative dates spelled out."""

from __future__ import annotations

from typing import Any

from assistant.chat import Assistant, SearcherLike
from assistant.generators import Generator, make_generator
from core.config import Settings
from corpus.timeexpr import annotate


def open_generator(settings: Settings) -> Generator | None:
    """The configured generator (its model starts on first use), or None for the extractive answerer."""
    if settings.generator.backend == "extractive":
        return None
    return make_generator(settings.generator, settings.models_dir, settings.run_dir)


def build_assistant(
    settings: Settings, store: Any, searcher: SearcherLike | None, generator: Generator | None
) -> Assistant:
    """An Assistant over `store` and `searcher` that spells out relative dates when answer.resolve_dates is on."""
    return Assistant(settings, store, searcher, generator, annotate=annotate if settings.answer.resolve_dates else None)
