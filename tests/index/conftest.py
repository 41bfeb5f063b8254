"""Index test fixtures: settings in a temp home, a store holding the small news corpus, the hash embedder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Settings
from corpus.store import Store
from tests.support.embedders import HashEmbedder
from tests.support.news import NEWS


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home").override({"retrieval": {"candidates": 20}})


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    with Store(settings.db_path) as s:
        s.put(NEWS)
        yield s


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()
