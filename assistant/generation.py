"""The generator protocol every text backend speaks: streamed replies, one-word judgements, token counts.

Backends live in assistant/backends/; local ones run in a model server child process (assistant/worker.py) and are
reached through the OpenAI-compatible one. `make_generator` in assistant/factory.py builds the configured one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from core.text import FULL_STOPS

Messages = list[dict[str, str]]


class GeneratorError(RuntimeError):
    """A generator cannot produce text: missing model, unreachable endpoint, bad configuration."""


class ModelCrashed(GeneratorError):
    """The process running the model died while working on a request; it is being restarted."""


class Generator(Protocol):
    """Streams a chat reply piece by piece; failures raise GeneratorError, from the call or while iterating."""

    name: str

    def stream(
        self, messages: Messages, *, max_tokens: int, temperature: float = 0.0, stop: list[str] | None = None
    ) -> Iterator[str]: ...


class Chooser(Protocol):
    """A generator that can also weigh a few one-word replies instead of writing one (see `choice_probs`)."""

    def choose(self, messages: Messages, options: Sequence[str]) -> dict[str, float]: ...


def choice_probs(gen: Any, messages: Messages, options: Sequence[str]) -> dict[str, float] | None:
    """How likely `gen` is to open its reply with each option, normalised over the options; None if it cannot say."""
    choose = getattr(gen, "choose", None)
    if choose is None:
        return None
    return _normalised(choose(messages, options), options)


def _normalised(weights: dict[str, float], options: Sequence[str]) -> dict[str, float]:
    total = sum(max(0.0, weights.get(o, 0.0)) for o in options)
    if total <= 0:
        return dict.fromkeys(options, 1.0 / len(options))
    return {o: max(0.0, weights.get(o, 0.0)) / total for o in options}


def softmax_pick(logits: Any, token_ids: dict[str, int]) -> dict[str, float]:
    """Probabilities (over the whole vocabulary) of the given first tokens, from one row of logits."""
    row = np.asarray(logits, dtype=np.float64)
    row = np.exp(row - row.max())
    total = row.sum()
    return {option: float(row[i] / total) for option, i in token_ids.items()}


def top_logprobs(logits: Any, top_n: int) -> list[tuple[int, float]]:
    """(token id, log-probability over the whole vocabulary) of the `top_n` likeliest tokens, likeliest first."""
    row = np.asarray(logits, dtype=np.float64)
    shifted = row - row.max()
    log_total = float(np.log(np.exp(shifted).sum()))
    top = np.argsort(-row, kind="stable")[:top_n]
    return [(int(i), float(shifted[i] - log_total)) for i in top]


def prompt_tokens_read(usage: dict[str, Any]) -> int:
    """The prompt tokens a call's `usage` (see `Reply`) says the model read, not taken from a cache."""
    cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    return int(usage.get("prompt_tokens") or 0) - cached


class Reply:
    """The pieces of one streamed reply; `usage` holds the token counts the backend reported, once it has ended.

    `usage` follows the OpenAI shape: prompt_tokens, completion_tokens and prompt_tokens_details.cached_tokens (the
    prompt prefix the model did not have to read again). Backends that count nothing leave it empty.
    """

    def __init__(self, pieces: Iterator[str], usage: dict[str, Any] | None = None) -> None:
        self._pieces = pieces
        self.usage: dict[str, Any] = {} if usage is None else usage

    def __iter__(self) -> Reply:
        return self

    def __next__(self) -> str:
        return next(self._pieces)

    def close(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()


def usage_of(pieces: Iterable[str]) -> dict[str, Any]:
    """The token counts of a finished reply, {} when its backend reports none."""
    return dict(getattr(pieces, "usage", None) or {})


def complete(
    gen: Generator, messages: Messages, *, max_tokens: int, temperature: float = 0.0, stop: list[str] | None = None
) -> str:
    """The whole reply of `gen` as one string."""
    return "".join(gen.stream(messages, max_tokens=max_tokens, temperature=temperature, stop=stop))


# -- models loaded in this process: one per (kind, path, options), calls into it serialised ---------------------


@dataclass
class Loaded:
    model: Any
    lock: threading.Lock  # held for the whole of one generation


_LOADED: dict[tuple, Loaded] = {}
_LOADED_LOCK = threading.Lock()


def load_once(key: tuple, loader: Callable[[], Any]) -> Loaded:
    # loading under the global lock is deliberate: two threads asking for the same 1 GB model must not both load it
    with _LOADED_LOCK:
        if key not in _LOADED:
            _LOADED[key] = Loaded(loader(), threading.Lock())
        return _LOADED[key]


def default_threads(n_threads: int) -> int:
    return n_threads if n_threads > 0 else max(os.cpu_count() or 1, 1)


def cut_at_stop(pieces: Iterable[str], stop: list[str] | None) -> Iterator[str]:
    """Yield `pieces` up to (not including) the first stop string, holding back only what could start one."""
    stops = [s for s in stop or [] if s]
    if not stops:
        yield from pieces
        return
    hold = max(len(s) for s in stops) - 1
    buffer = ""
    for piece in pieces:
        buffer += piece
        cut = min((i for s in stops if (i := buffer.find(s)) >= 0), default=-1)
        if cut >= 0:
            if buffer[:cut]:
                yield buffer[:cut]
            return
        if len(buffer) > hold:
            ready, buffer = buffer[: len(buffer) - hold], buffer[len(buffer) - hold :]
            yield ready
    if buffer:
        yield buffer


def loop_cut(text: str, span: int) -> int:
    """Where to end a reply that has begun to repeat itself: the end of its last whole sentence before a run of
    `span` characters comes a second time (or that run's start when no sentence ended before it); -1 while no run
    has. A small model that loops goes on until its token limit, and what it repeats only adds to the wait."""
    return LoopWatch(span).add(text)


class LoopWatch:
    """`loop_cut` over a reply as it streams in: each piece is scanned only for the runs it completes."""

    def __init__(self, span: int) -> None:
        self.span = span
        self.text = ""
        self._first: dict[str, int] = {}
        self._next = 0  # where the next run to look at starts

    def add(self, piece: str) -> int:
        """`loop_cut` of the reply so far."""
        self.text += piece
        text, span = self.text, self.span
        if span <= 0:
            return -1
        while self._next + span <= len(text):
            i = self._next
            seen = self._first.setdefault(text[i : i + span], i)
            if i >= seen + span:  # a second time, not overlapping the first
                end = max(text.rfind(c, 0, i + 1) for c in FULL_STOPS)  # the run may start with its end mark
                return end + 1 if end >= 0 else i
            self._next += 1
        return -1
