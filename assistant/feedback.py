"""Readers' thumbs up/down on answers, kept as one JSON line per vote in <home>/feedback.jsonl."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from filelock import FileLock


class FeedbackLog:
    """Appends votes so that concurrent writers (threads of the app, or several app processes) never interleave.

    Each record is written with a single write() of one complete line under a thread lock and a file lock, then
    fsync'ed; a crash can lose the last vote but never leaves a half line in front of later ones.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(
            {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **record},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        if "\n" in line:  # json.dumps escapes newlines inside strings, so this would be a bug
            raise ValueError("a feedback record must serialise to one line")
        data = (line + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, FileLock(str(self.path) + ".lock", timeout=10):
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self) -> list[dict[str, Any]]:
        """Every complete vote recorded so far (for tests and for whoever reviews the feedback)."""
        if not self.path.is_file():
            return []
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                records.append(json.loads(line))
        return records
