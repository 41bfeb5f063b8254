"""What the web app runs on, faked: settings and a real store, the fake searcher, a fake assistant."""

from __future__ import annotations

from dataclasses import dataclass

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
