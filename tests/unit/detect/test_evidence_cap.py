"""A proposing test keeps at most EVIDENCE_CAP x its threshold of evidence, so a wander
it was rejected for is forgotten soon after it ends and a real step that follows is
judged on its own span (proposing.py)."""

from __future__ import annotations

import random

from perfguard import DegradationEvent, DetectorSettings, PerformanceTracker
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
