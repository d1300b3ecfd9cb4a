"""The per-state rows of bench/overhead.py (issue 14): the same hot paths in the states an
incident brings, each on its own tracker put in that state first.

- slow/degraded: the operation's baseline was learned from 10 ns calls, so every real
  call is "slow" and the operation degraded;
- failures: every 10th call, or every call, raises (the decorator) or is recorded as
  failed (record()); a raising call is compared with a floor that raises too;
- metadata: every record() carries a small mapping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from perfguard import PerformanceTracker

perf_counter_ns = time.perf_counter_ns
WARM = 3000


class Failed(Exception):
    pass


def noop() -> None:
    return None


def every(nth: int) -> Callable[[], None]:
    """A no-op that raises on every `nth` call."""
    count = [0]

    def call() -> None:
        count[0] += 1
        if count[0] % nth == 0:
            raise Failed

    return call


def failing_floor(fn: Callable[[], None]) -> Callable[[], None]:
    def timed() -> None:
        start = perf_counter_ns()
        try:
            fn()
        except Failed:
            _elapsed = perf_counter_ns() - start
            raise
        _elapsed = perf_counter_ns() - start

    return timed


def loop_raising(fn: Callable[[], None], calls: int) -> float:
    start = perf_counter_ns()
    for _ in range(calls):
        try:  # noqa: SIM105 - suppress() would add its own cost to the measured loop
            fn()
        except Failed:
            pass
    return (perf_counter_ns() - start) / calls


def degraded_tracker(name: str) -> PerformanceTracker:
    """A tracker whose `name` learned a 10 ns baseline: every real call is slow."""
    tracker = PerformanceTracker(autosave_interval=None)
    for index in range(WARM):
        tracker.record(name, 1e-8 * (1 + index % 3) / 2)
    return tracker


def loop_record_state(calls: int, state: str) -> Callable[[], float]:
    tracker = PerformanceTracker(autosave_interval=None)
    for index in range(WARM):
        tracker.record("recorded", 0.040 + 0.001 * (index % 5))
    record = tracker.record

    def slow() -> float:
        start = perf_counter_ns()
        for _ in range(calls):
            record("recorded", 0.2)
        return (perf_counter_ns() - start) / calls

    def failures(nth: int) -> Callable[[], float]:
        def run() -> float:
            start = perf_counter_ns()
            for index in range(calls):
                record("recorded", 0.042, index % nth != 0)
            return (perf_counter_ns() - start) / calls

        return run

    def with_metadata() -> float:
        metadata = {"user": 7}
        start = perf_counter_ns()
        for _ in range(calls):
            record("recorded", 0.042, True, metadata)
        return (perf_counter_ns() - start) / calls

    runs = {"slow": slow, "fail10": failures(10), "fail100": failures(1), "metadata": with_metadata}
    return runs[state]


def state_variants(calls: int, sync_calls: Callable[[Callable[..., Any]], Callable[[], float]]
                   ) -> dict[str, Callable[[], float]]:  # fmt: skip
    slow_tracker = degraded_tracker("decorated")
    failing = PerformanceTracker(autosave_interval=None)
    tenth = PerformanceTracker(autosave_interval=None)
    return {
        "record() healthy, then 5x slower (degraded)": loop_record_state(calls, "slow"),
        "record() 10 % failures": loop_record_state(calls, "fail10"),
        "record() 100 % failures": loop_record_state(calls, "fail100"),
        "record() with metadata": loop_record_state(calls, "metadata"),
        "perfguard decorator, every call slow (degraded)": sync_calls(
            slow_tracker.time_operation("decorated")(noop)
        ),
        "floor, 10 % raising": lambda: loop_raising(failing_floor(every(10)), calls),
        "perfguard decorator, 10 % raising": lambda: loop_raising(
            tenth.time_operation("tenth")(every(10)), calls
        ),
        "floor, 100 % raising": lambda: loop_raising(failing_floor(every(1)), calls),
        "perfguard decorator, 100 % raising": lambda: loop_raising(
            failing.time_operation("failing")(every(1)), calls
        ),
    }
