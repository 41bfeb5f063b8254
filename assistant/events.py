"""What `Assistant.stream` yields, in order: progress, the quotation from the sources, the reply as the model
writes it, then the checked answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.types import Answer, Quotation


@dataclass(frozen=True)
class Progress:
    """What the assistant is doing: searching, waiting for the model (`position` questions ahead), reading
    `sources` of the `found` passages (the best first), or writing."""

    stage: Literal["searching", "queued", "reading", "writing"]
    position: int = 0
    sources: int = 0
    found: int = 0


@dataclass(frozen=True)
class Quote:
    """The best evidence, verified and quoted from the sources before the model has read them (原文摘录)."""

    quotation: Quotation


@dataclass(frozen=True)
class Token:
    """A piece of the reply, as generated (unchecked: citations are resolved in the final answer)."""

    text: str


@dataclass(frozen=True)
class Final:
    """The answer with its verified citations, or a refusal; always the last event of a question."""

    answer: Answer


Event = Progress | Quote | Token | Final
