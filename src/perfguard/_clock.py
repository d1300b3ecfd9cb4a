"""Clocks: the only place perfguard reads time, so tests can inject a fake one.

Trackers take a `clock=`; stores, the autosaver and the CLI, which have no clock of
their own to be handed, read `SYSTEM_CLOCK`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class SystemClock:
    """The real clock: `perf` for durations, `wall` for timestamps.

    The attributes are the stdlib functions themselves, so reading the clock on the hot
    path costs no extra Python call.
    """

    __slots__ = ("perf", "wall")
    monotonic = True  # perf_counter never goes back: read without a guard
    resolution = time.get_clock_info("perf_counter").resolution  # seconds a tick

    def __init__(self) -> None:
        self.perf: Callable[[], float] = time.perf_counter
        self.wall: Callable[[], float] = time.time


def clock_resolution(clock: object) -> float:
    """Seconds per tick of a clock's `perf` (its `resolution`; 0 when it says none)."""
    resolution = getattr(clock, "resolution", 0.0)
    valid = isinstance(resolution, (int, float)) and not isinstance(resolution, bool)
    return float(resolution) if valid and 0 <= resolution < math.inf else 0.0


SYSTEM_CLOCK = SystemClock()


def utc_stamp(epoch: float) -> str:
    """A compact UTC timestamp for file names ("20261201T204302")."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(epoch))
