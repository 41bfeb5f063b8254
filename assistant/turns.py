"""Turns at the model: questions wait in order for one of its slots, and each knows its place in the line.

The local model reads one prompt at a time, and a question's judgement and answer share their prompt, so a
question keeps the model from its judgement to its last token. Everything else (search, the quotation from the
sources) runs outside the line, so residents who wait for the model already see the evidence.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager


class Ticket:
    """One question's place in the line; `position` is how many questions are ahead of it (0: it has the model, or
    only background work does, which gives it back after a moment)."""

    def __init__(self, line: TurnLine, number: int) -> None:
        self._line = line
        self.number = number

    @property
    def position(self) -> int:
        return self._line.position(self)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait up to `timeout_s` for this ticket's turn; True once it has the model."""
        return self._line.wait(self, timeout_s)

    def release(self) -> None:
        """Leave the line or give the model back; safe to call twice and from another thread."""
        self._line.release(self)


class TurnLine:
    """A first-come, first-served line for `slots` users of the model at a time."""

    def __init__(self, slots: int = 1) -> None:
        if slots < 1:
            raise ValueError("a line needs at least one slot")
        self.slots = slots
        self._cond = threading.Condition()
        self._waiting: deque[Ticket] = deque()
        self._serving: set[int] = set()
        self._background: set[int] = set()  # tickets of work no one waits for (reading ahead): not counted ahead
        self._numbers = itertools.count(1)

    def join(self, *, background: bool = False) -> Ticket:
        with self._cond:
            ticket = Ticket(self, next(self._numbers))
            if background:
                self._background.add(ticket.number)
            self._waiting.append(ticket)
            self._admit()
            return ticket

    def position(self, ticket: Ticket) -> int:
        with self._cond:
            if ticket.number in self._serving:
                return 0
            try:
                index = self._waiting.index(ticket)
            except ValueError:
                return 0  # released
            ahead = [t for t in itertools.islice(self._waiting, index) if t.number not in self._background]
            working = bool(self._serving - self._background)  # a question has the model
            return len(ahead) + working

    def wait(self, ticket: Ticket, timeout_s: float | None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: ticket.number in self._serving, timeout_s)

    def release(self, ticket: Ticket) -> None:
        with self._cond:
            self._serving.discard(ticket.number)
            self._background.discard(ticket.number)
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            self._admit()

    @property
    def idle(self) -> bool:
        """No question waits or holds the model."""
        with self._cond:
            return not self._waiting and not self._serving

    @property
    def length(self) -> int:
        """Questions waiting now (not counting those being served)."""
        with self._cond:
            return len(self._waiting)

    def _admit(self) -> None:
        while self._waiting and len(self._serving) < self.slots:
            self._serving.add(self._waiting.popleft().number)
        self._cond.notify_all()

    @contextmanager
    def turn(self, *, background: bool = False) -> Iterator[Ticket]:
        """Wait for a slot (without reporting the wait) and hold it for the block."""
        ticket = self.join(background=background)
        try:
            ticket.wait()
            yield ticket
        finally:
            ticket.release()
