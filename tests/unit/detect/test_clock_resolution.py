"""Issue 14: an operation faster than a few ticks of its clock is timed in whole ticks
(0 or 1 tick a call); its level of quantized readings wanders with the true duration.
The detector's effects must be at least two ticks (min_effect_seconds), so this never
alerts nor flaps, while a real slowdown of the same operation still does."""

from __future__ import annotations

import math
import random

from perfguard import DetectorSettings, PerformanceTracker
from perfguard.testing import FakeClock

TICK = 1e-6


def run_noop(
    calls: int, settings: DetectorSettings | None = None, slow_from: int = -1
) -> list[str]:
    """A no-op of 0.2-0.8 us (its true duration wanders slowly) decorated, timed by a
    clock of 1 us ticks; from `slow_from` on each call takes 5 us more."""
    clock = FakeClock(resolution=TICK)
    tracker = PerformanceTracker(autosave_interval=None, clock=clock, detector_settings=settings)
    rng = random.Random(14)
    advance = clock.advance
    state = {"true": 0.5e-6}

    @tracker.time_operation("cache lookup")
    def lookup() -> None:
        advance(state["true"])

    changes: list[str] = []
    tracker.on_alert(lambda event: changes.append(event.kind))
    for index in range(calls):
        if index % 1000 == 0:  # the wander: a new true duration every 1,000 calls
            wander = 0.5e-6 + 0.3e-6 * math.sin(index / 40_000) + rng.uniform(-0.1e-6, 0.1e-6)
            state["true"] = wander + (5e-6 if 0 <= slow_from <= index else 0.0)
        lookup()
    tracker.stats("cache lookup")  # absorb the rest
    return changes


def test_two_million_quantized_no_op_calls_never_alert() -> None:
    assert run_noop(2_000_000) == []


def test_without_the_tick_floor_the_same_calls_alert() -> None:
    """The test above can fail: with no floor, quantization alone raises alerts."""
    assert "degraded" in run_noop(300_000, DetectorSettings(min_effect_seconds=0.0))


def test_a_real_slowdown_of_a_sub_tick_operation_still_alerts() -> None:
    assert run_noop(60_000, slow_from=30_000)[:1] == ["degraded"]
