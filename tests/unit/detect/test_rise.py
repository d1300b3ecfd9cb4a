"""A step on top of a wander that keeps being rejected ends the back-off (schedule.py,
the rise test): the wander's tests sit at their evidence cap, so the step starts no new
test, and without the rise test it waited for a look scheduled up to 4,096 calls later."""

from __future__ import annotations

import random

import pytest

from perfguard import DegradationEvent, DetectorSettings, PerformanceTracker
from perfguard._detect.schedule import DecisionSchedule

WANDER_AT, STEP_AT = 2000, 6400


def run(seed: int, step: float, calls: int = STEP_AT + 1000) -> list[DegradationEvent]:
    """A 1.6x shift from WANDER_AT on, under `min_effect_seconds` above the reference (which
    follows it up to 1.3x), so it is rejected at every look for 4,400 calls; then, when
    `step` > 1, the level moves `step` times higher at STEP_AT, in the middle of a back-off
    of 2,048 calls."""
    rng = random.Random(seed)
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(
        autosave_interval=None,
        on_alert=events.append,
        detector_settings=DetectorSettings(min_effect_seconds=0.008),
    )
    for index in range(calls):
        factor = 1.0 if index < WANDER_AT else 1.6 if index < STEP_AT else 1.6 * step
        tracker.record("op", factor * rng.lognormvariate(-4.6, 0.2))  # p50 10 ms
    return [e for e in events if e.kind == "degraded"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_step_on_a_long_rejected_wander_is_reported_within_200_calls(seed: int) -> None:
    events = run(seed, step=2.0)
    assert len(events) == 1
    assert STEP_AT <= events[0].sample_index < STEP_AT + 200
    assert STEP_AT - 16 <= events[0].started_at_sample <= STEP_AT + 64


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_wander_alone_is_never_reported(seed: int) -> None:
    assert run(seed, step=1.0, calls=STEP_AT + 6000) == []


def test_the_rise_test_counts_above_the_rejected_median_and_waits_to_be_judged() -> None:
    schedule = DecisionSchedule(DetectorSettings(), threshold=12.0)
    schedule.take(blocks_seen=10, next_sample=160, firing=frozenset({"latency"}))
    schedule.judged({"p50": 2.0})
    schedule.rejected()
    assert schedule.rise_limit == 2.0 and schedule.next_block > 10
    half_above = [1.0] * 8 + [3.0] * 8  # the rejected level goes on: no rise
    assert not any(schedule.rising(half_above, 160 + 16 * k) for k in range(50))
    risen_at = 960
    fired = [schedule.rising([3.0] * 16, risen_at + 16 * k) for k in range(8)]
    # every call above: fires within two blocks, due once its span is old enough (96)
    assert fired == [False] * 5 + [True] * 3
    assert schedule.next_block == 0 and schedule.risen(risen_at + 96) == 96
    schedule.judged(None)  # a look that judged no latency span arms no rise test
    schedule.rejected()
    assert schedule.rise_limit == 0.0 and schedule.risen(2000) == 0


def test_the_rise_test_stops_with_the_proposal() -> None:
    """Armed while the wander is rejected; set aside once it is over (no test over its
    threshold), so it never counts against a median from long ago."""
    rng = random.Random(9)
    tracker = PerformanceTracker(
        autosave_interval=None, detector_settings=DetectorSettings(min_effect_seconds=0.008)
    )
    for index in range(WANDER_AT + 3000 + 2000):
        factor = 1.6 if WANDER_AT <= index < WANDER_AT + 3000 else 1.0
        tracker.record("op", factor * rng.lognormvariate(-4.6, 0.2))
        if index == WANDER_AT + 2999:
            armed = tracker._registry.operations["op"]._lifecycle.detector
            assert armed is not None and armed._schedule.rise_limit > 0.0  # the wander's median
    assert tracker.state("op") == "ok"
    detector = tracker._registry.operations["op"]._lifecycle.detector
    assert detector is not None and detector._schedule.rise_limit == 0.0
