"""Clocks: the only place perfguard reads time, so tests can inject a fake one."""

from __future__ import annotations

import time
from collections.abc import Callable


class SystemClock:
    """The real clock: `perf` for durations, `wall` for timestamps.

    The attributes are the stdlib functions themselves, so reading the clock on the hot
    path costs no extra Python call.
    """

    __slots__ = ("perf", "wall")

    def __init__(self) -> None:
        self.perf: Callable[[], float] = time.perf_counter
        self.wall: Callable[[], float] = time.time
