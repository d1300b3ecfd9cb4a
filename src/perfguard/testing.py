"""Helpers for tests, perfguard's and its users': a clock that moves only when told."""

from __future__ import annotations


class FakeClock:
    """A deterministic clock: `advance()` moves both the monotonic and the wall time."""

    monotonic = True  # advance() refuses to go back

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._monotonic = 1000.0
        self._wall = start

    def perf(self) -> float:
        return self._monotonic

    def wall(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock cannot go back: advance({seconds!r})")
        self._monotonic += seconds
        self._wall += seconds


__all__ = ["FakeClock"]
