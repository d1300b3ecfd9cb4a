"""Clocks: the only place perfguard reads time, so tests can inject a fake one.

Trackers take a `clock=`; stores, the autosaver and the CLI, which have no clock of
their own to be handed, read `SYSTEM_CLOCK`.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class SystemClock:
    """The real clock: `perf` for durations, `wall` for timestamps.

    The attributes are the stdlib functions themselves, so reading the clock on the hot
    path costs no extra Python call.
    """

    __slots__ = ("perf", "wall")
    monotonic = True  # perf_counter never goes back: read without a guard

    def __init__(self) -> None:
        self.perf: Callable[[], float] = time.perf_counter
        self.wall: Callable[[], float] = time.time


SYSTEM_CLOCK = SystemClock()


def utc_stamp(epoch: float) -> str:
    """A compact UTC timestamp for file names ("20261201T204302")."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(epoch))
