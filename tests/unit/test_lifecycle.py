"""The baseline lifecycle (_lifecycle.py): the false-alarm budget shared by every
operation of a tracker (automatic family size)."""

from __future__ import annotations

import math
import random

from perfguard import DegradationEvent, DetectorSettings, PerformanceTracker


def alert_threshold(tracker: PerformanceTracker, events: list[DegradationEvent]) -> float:
    rng = random.Random(3)
    for _ in range(2000):
        tracker.record("slowed", rng.lognormvariate(-4.0, 0.3))
    for _ in range(600):
        tracker.record("slowed", 3 * rng.lognormvariate(-4.0, 0.3))
    assert tracker.state("slowed") == "degraded"
    return float(events[0].evidence["threshold"])


def test_each_operation_asks_for_ln_n_more_evidence_with_n_operations_known() -> None:
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(autosave_interval=None, on_alert=events.append)
    for index in range(49):
        tracker.record(f"other-{index}", 0.01)
    threshold = alert_threshold(tracker, events)
    assert threshold == DetectorSettings().threshold + math.log(50)


def test_one_operation_alone_keeps_the_base_threshold() -> None:
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(autosave_interval=None, on_alert=events.append)
    assert alert_threshold(tracker, events) == DetectorSettings().threshold


def test_an_explicit_family_size_wins() -> None:
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(
        autosave_interval=None,
        on_alert=events.append,
        detector_settings=DetectorSettings(family_size=1),
    )
    for index in range(49):
        tracker.record(f"other-{index}", 0.01)
    assert alert_threshold(tracker, events) == DetectorSettings().threshold
