"""What the web app runs on, faked: settings and a real store, a searcher that counts syncs, a fake assistant."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import Settings
from core.types import Hit
from corpus.store import Store
from tests.support.assistants import FakeAssistant
from tests.support.news import GARBAGE, chunk_of


@dataclass
class FakeSearcher:
    """Counts syncs; every search returns the one GARBAGE chunk."""

    syncs: int = 0
    searches: int = 0

    def sync(self, **_: object) -> dict:
        self.syncs += 1
        return {}

    def search(self, query: str, *, k: int | None = None, **_: object) -> list[Hit]:
        self.searches += 1
        return [Hit(chunk=chunk_of(GARBAGE), score=1.0, title=GARBAGE.title, date=GARBAGE.date, source=GARBAGE.source)]


@dataclass
class FakeRuntime:
    settings: Settings
    store: Store
    searcher: FakeSearcher
    assistant: FakeAssistant
