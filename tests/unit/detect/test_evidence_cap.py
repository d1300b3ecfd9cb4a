"""A proposing test keeps at most EVIDENCE_CAP x its threshold of evidence, so a wander
it was rejected for is forgotten soon after it ends and a real step that follows is
judged on its own span (proposing.py)."""

from __future__ import annotations

import random

import pytest

from perfguard import DegradationEvent, DetectorSettings, PerformanceTracker
from perfguard._detect.confirm import later_part
from perfguard._detect.cusum import BinomialCusum


def test_the_statistic_stops_at_its_cap_and_falls_back_as_fast_as_ever() -> None:
    test = BinomialCusum(0.5, 0.85, threshold=12.0, cap=36.0)
    for block in range(100):  # 1,600 calls all slower than the median
        test.update(16, 16, 16 * block)
    assert test.statistic == 36.0
    blocks_back = 0
    while test.statistic > 0.0:  # healthy again: half the calls above the median
        test.update(8, 16, 1600 + 16 * blocks_back)
        blocks_back += 1
    assert blocks_back <= 8  # 36 units at ~5.4 a block: the wander is forgotten


def test_a_large_step_after_a_long_rejected_shift_is_reported_at_once() -> None:
    """A 1.5x shift of 5 ms is under `min_effect_seconds` (8 ms): its tests fire for 1,500
    calls and are rejected each time. The level comes back, then a 5x step follows.
    Judged on its own span (the cap lets the old evidence go), the step is reported
    within 150 calls; uncapped it waited for the back-off and a span made mostly of the
    rejected shift."""
    rng = random.Random(5)
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(
        autosave_interval=None,
        on_alert=events.append,
        detector_settings=DetectorSettings(min_effect_seconds=0.008),
    )

    def calls(count: int, factor: float) -> None:
        for _ in range(count):
            tracker.record("op", factor * rng.lognormvariate(-4.6, 0.2))  # p50 10 ms

    calls(2000, 1.0)
    calls(1500, 1.5)
    calls(400, 1.0)
    step_at = 3900
    calls(1000, 5.0)
    assert [e.kind for e in events] == ["degraded"]
    assert step_at <= events[0].sample_index < step_at + 150


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_step_on_top_of_a_rejected_shift_is_judged_on_its_own_part(seed: int) -> None:
    """The rejected 1.5x shift (under `min_effect_seconds`) goes on for 800 calls when a
    5x step comes on top: the tests have fired since the shift began, so their change
    point is the shift's. Judged on the part after the split where the share of slow
    calls jumps (confirm.later_part), the step is dated where it began and reported
    within 400 calls; on the whole span it waited until the step made most of it
    (576 calls)."""
    rng = random.Random(seed)
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(
        autosave_interval=None,
        on_alert=events.append,
        detector_settings=DetectorSettings(min_effect_seconds=0.008),
    )
    step_at = 2800
    for index in range(step_at + 1000):
        factor = 1.0 if index < 2000 else 1.5 if index < step_at else 5.0
        tracker.record("op", factor * rng.lognormvariate(-4.6, 0.2))
    assert [e.kind for e in events] == ["degraded"]
    assert step_at <= events[0].sample_index < step_at + 400
    assert step_at - 16 <= events[0].started_at_sample <= step_at + 16


def test_later_part_finds_a_rise_and_only_a_rise() -> None:
    slow, fast = 2.0, 0.5
    flat = [slow if i % 2 else fast for i in range(480)]  # half the calls slow throughout
    stepped = flat[:320] + [slow] * 160  # then every call slow
    later = later_part(stepped, 1.0, 64, 12.0)
    assert later is not None and len(later) == 160
    assert later_part(flat, 1.0, 64, 12.0) is None  # one rate: no split
    assert later_part(list(reversed(stepped)), 1.0, 64, 12.0) is None  # a fall is not a rise
    assert later_part(stepped, 1.0, 464, 12.0) is None  # no later part that long rises enough
