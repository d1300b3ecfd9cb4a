"""Helpers for tests, perfguard's and its users': a clock that moves only when told."""

from __future__ import annotations


class FakeClock:
    """A deterministic clock: `advance()` moves both the monotonic and the wall time.
    With `resolution` (seconds a tick), perf() reads in whole ticks, as a coarse clock
    does: a call shorter than a tick measures 0 or 1 tick."""

    monotonic = True  # advance() refuses to go back

    def __init__(self, start: float = 1_700_000_000.0, *, resolution: float = 0.0) -> None:
        if not 0.0 <= resolution < 1.0:
            raise ValueError(f"resolution must be in [0, 1) seconds, got {resolution!r}")
        self._monotonic = 1000.0
        self._wall = start
        self.resolution = resolution

    def perf(self) -> float:
        tick = self.resolution
        if tick:
            return (self._monotonic // tick) * tick
        return self._monotonic

    def wall(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock cannot go back: advance({seconds!r})")
        self._monotonic += seconds
        self._wall += seconds


__all__ = ["FakeClock"]
