"""What `Assistant.stream` yields: pieces of the reply as the model writes them, then the checked answer."""

from __future__ import annotations

from dataclasses import dataclass

from core.types import Answer


@dataclass(frozen=True)
class Token:
    """A piece of the reply, as generated (unchecked: citations are resolved in the final answer)."""

    text: str


@dataclass(frozen=True)
class Final:
    """The answer with its verified citations, or a refusal; always the last event of a question."""

    answer: Answer


Event = Token | Final
