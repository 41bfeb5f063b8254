"""Scripted generators: tests enqueue the replies (and the answerability judgements) a model would give."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from assistant.generation import Reply


class FakeGenerator:
    """A scripted Generator: tests enqueue replies, each call to `stream` pops the next one.

    Deterministic: replies come out in enqueue order, split into pieces of `piece_chars` characters so
    streaming consumers see several chunks. An enqueued exception is raised instead of replying. Every call
    is recorded in `calls` (messages and options) for assertions. With no reply queued, `default` is used;
    when that is None too the call fails loudly, because a test that did not script a reply is a bug.
    With `counts_tokens`, a character is a token: a reply stops at `max_tokens` of them, and reports its usage.
    """

    def __init__(
        self,
        replies: list[str | Exception] | None = None,
        *,
        default: str | None = None,
        piece_chars: int = 3,
        name: str = "fake",
        counts_tokens: bool = False,
    ) -> None:
        self.name = name
        self.counts_tokens = counts_tokens
        self.default = default
        self.piece_chars = piece_chars
        self.replies: deque[str | Exception] = deque(replies or [])
        self.calls: list[dict] = []

    def enqueue(self, *replies: str | Exception) -> FakeGenerator:
        self.replies.extend(replies)
        return self

    def stream(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        self.calls.append(
            {
                "messages": [dict(m) for m in messages],
                "max_tokens": max_tokens,
                "temperature": temperature,
                "stop": list(stop) if stop else None,
            }
        )
        if self.replies:
            reply = self.replies.popleft()
        elif self.default is not None:
            reply = self.default
        else:
            raise AssertionError(f"FakeGenerator: no reply enqueued for call {len(self.calls)}")
        if isinstance(reply, Exception):
            raise reply
        if stop:  # honour stop strings like a real backend: cut before the first one
            cut = min((i for s in stop if (i := reply.find(s)) >= 0), default=len(reply))
            reply = reply[:cut]
        if self.counts_tokens:
            reply = reply[:max_tokens]
            return Reply(self._pieces(reply), {"completion_tokens": len(reply)})
        return self._pieces(reply)

    def _pieces(self, reply: str) -> Iterator[str]:
        for i in range(0, len(reply), self.piece_chars):
            yield reply[i : i + self.piece_chars]

    @property
    def last_messages(self) -> list[dict[str, str]]:
        return self.calls[-1]["messages"]


class FakeJudgingGenerator(FakeGenerator):
    """A FakeGenerator that can also weigh options (the answerability check): each `choose` call pops the next
    enqueued judgement, the probability of the first option (or an exception to raise), and records the messages.
    """

    def __init__(self, replies: list[str | Exception] | None = None, *, judgements=(), **options) -> None:
        super().__init__(replies, **options)
        self.judgements: deque[float | Exception] = deque(judgements)
        self.choose_calls: list[list[dict[str, str]]] = []

    def choose(self, messages: list[dict[str, str]], options) -> dict[str, float]:
        self.choose_calls.append([dict(m) for m in messages])
        if not self.judgements:
            raise AssertionError(f"FakeJudgingGenerator: no judgement enqueued for call {len(self.choose_calls)}")
        p = self.judgements.popleft()
        if isinstance(p, Exception):
            raise p
        first, *rest = options
        return {first: p, **{o: (1 - p) / len(rest) for o in rest}}
