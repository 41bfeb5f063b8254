"""What the web app runs on, faked: settings and a real store, the fake searcher, a fake assistant; and a store and
a searcher that only open, for tests of `open_runtime` itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.config import Settings
from corpus.store import Store
from tests.support.assistants import FakeAssistant
from tests.support.searchers import FakeSearcher


@dataclass
class FakeRuntime:
    settings: Settings
    store: Store
    searcher: FakeSearcher
    assistant: FakeAssistant


class OpenOnlyStore:
    """A store that holds one article as far as `open_runtime` asks, and nothing else."""

    def __init__(self, path: Any) -> None:
        self.path = path

    def count(self) -> int:
        return 1


class OpenOnlySearcher:
    """A searcher whose indexes are always in step; it is never asked to search."""

    def __init__(self, settings: Settings, store: Any, **options: Any) -> None:
        self.store = store

    def sync(self, progress: bool = False) -> None:
        return None
