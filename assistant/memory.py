"""What the model made of a prompt it has read before: a question asked again is answered without the model.

Greedy decoding makes the model's judgement and reply a function of the prompt alone (the sources as shown, the
question as asked, the day). So when the same prompt comes again, from another resident asking the same question
about the same passages, the remembered judgement and reply are what the model would produce again, and the
question skips the line at the model and its seconds of prompt reading. The reply is still checked against its
sources as any other.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Remembered:
    """The model's work on one prompt: its judgement, and its reply (none when it judged the sources no answer)."""

    refusal: str  # "judge" when the judgement turned the question away, else ""
    answerable_p: float | None
    read: int  # the passages the reply was written from
    messages: list[dict[str, str]]  # the answer prompt
    reply: str
    generator: str
    usage: dict[str, Any] = field(default_factory=dict)


def memory_key(model: str, options: Sequence, messages: list[dict[str, str]]) -> str:
    """The identity of a model call: the model, every setting that changes what it writes, and the prompt."""
    return json.dumps([model, list(options), messages], ensure_ascii=False, sort_keys=True)


class ReplyMemory:
    """The last `capacity` prompts' Remembered work, the least recently used forgotten first; 0 keeps none."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, Remembered] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, key: str) -> Remembered | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: str, remembered: Remembered) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            self._entries[key] = remembered
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
