"""Serve the web app over a fake assistant that streams slowly, to test what other visitors see meanwhile.

Usage, from the repository root (or with it on PYTHONPATH): python -m tests.support.slow_app PORT HOME SECONDS_PER_PIECE
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from app import build_demo
from assistant.events import Event, Token
from core.config import Settings
from corpus.store import Store
from newsqa.render import CSS
from newsqa.webapp import NewsApp
from tests.support.assistants import FakeAssistant
from tests.support.news import GARBAGE, chunk_of
from tests.support.runtime import FakeRuntime
from tests.support.searchers import FakeSearcher


class SlowAssistant(FakeAssistant):
    def __init__(self, delay_s: float) -> None:
        super().__init__(piece_chars=1)
        self.delay_s = delay_s

    def stream(self, question: str, history=(), **options: object) -> Iterator[Event]:
        for event in super().stream(question, history, **options):
            if isinstance(event, Token):
                time.sleep(self.delay_s)
            yield event


class TypingLog:
    """A reader of questions being typed that writes what it is told to HOME/typed.jsonl, one line a call."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _write(self, record: dict) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")

    def typed(self, question: str, history=(), session: str = "") -> None:
        self._write({"typed": question, "session": session})

    def sent(self, session: str = "") -> None:
        self._write({"sent": True, "session": session})


def main() -> None:
    port, home, delay_s = int(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    settings = Settings(home=home)
    store = Store(settings.db_path)
    store.put([(GARBAGE, [chunk_of(GARBAGE)])])
    runtime = FakeRuntime(settings, store, FakeSearcher([GARBAGE], [chunk_of(GARBAGE)]), SlowAssistant(delay_s))
    runtime.read_ahead = TypingLog(home / "typed.jsonl")  # type: ignore[attr-defined]
    demo = build_demo(NewsApp(settings, runtime))
    demo.launch(server_name="127.0.0.1", server_port=port, css=CSS, footer_links=[])


if __name__ == "__main__":
    main()
