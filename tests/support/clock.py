"""A clock that only moves when told to, so the latencies a test checks are exact."""

from __future__ import annotations


class ManualClock:
    """A clock that only moves when told to, so latencies are exact."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
