"""DurationHistogram (_histogram.py): cumulative le-buckets counted in the batch absorb,
and the tracker's enable_histogram()."""

from __future__ import annotations

import math
import random

import pytest

from perfguard import ConfigurationError, DegradationEvent, PerformanceTracker
from perfguard._histogram import DurationHistogram
from perfguard._window import encode_failure
from perfguard.testing import FakeClock


def degrading_stream(tracker: PerformanceTracker) -> None:
    rng = random.Random(1)
    for _ in range(2000):
        tracker.record("op", rng.lognormvariate(-4.0, 0.4))
    for _ in range(400):
        tracker.record("op", rng.lognormvariate(-2.0, 0.4))


def test_an_alert_decided_while_enabling_histograms_is_still_delivered() -> None:
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(autosave_interval=None, on_alert=events.append)
    degrading_stream(tracker)  # the last samples are still pending here
    tracker.enable_histogram((0.01, 0.1))
    assert tracker.state("op") == "degraded"
    assert [e.kind for e in events] == ["degraded"]
    assert [e.kind for e in tracker.events("op")] == ["degraded"]


def test_a_value_equal_to_a_bound_is_counted_in_that_bound_bucket() -> None:
    histogram = DurationHistogram((0.1, 1.0))
    histogram.count([0.05, 0.1, 0.5, 1.0, 2.0, 3.0], 0)
    assert histogram.counts == [2, 2, 2]  # (<=0.1, <=1.0, +Inf)
    assert histogram.cumulative() == (2, 4, 6)
    assert histogram.total == pytest.approx(6.65)


def test_failures_are_counted_by_their_duration() -> None:
    histogram = DurationHistogram((0.1,))
    histogram.count([encode_failure(0.05), encode_failure(0.5), 0.02], 2)
    assert histogram.cumulative() == (2, 3)
    assert histogram.total == pytest.approx(0.57)


def test_batches_accumulate() -> None:
    histogram = DurationHistogram((0.1, 1.0))
    histogram.count([0.2], 0)
    histogram.count([0.3, 5.0], 0)
    histogram.count([], 0)
    assert histogram.cumulative() == (0, 2, 3)
    assert histogram.total == pytest.approx(5.5)


def test_enable_histogram_counts_from_now_on_for_every_operation() -> None:
    tracker = PerformanceTracker(autosave_interval=None, clock=FakeClock())
    tracker.record("before", 0.5)
    tracker.enable_histogram((1.0, 0.1))  # any order: the bounds are sorted
    tracker.record("before", 0.05)
    tracker.record("after", 2.0)
    tracker.record("after", 0.05, success=False)
    before, after = tracker.snapshot("before"), tracker.snapshot("after")
    assert before.histogram_bounds == after.histogram_bounds == (0.1, 1.0, math.inf)
    assert before.histogram == (1, 1, 1)  # the call before enable_histogram() is not in it
    assert before.histogram_sum == pytest.approx(0.05)
    assert after.histogram == (1, 1, 2)  # an operation created later has one too
    assert after.histogram_sum == pytest.approx(2.05)


@pytest.mark.parametrize("bounds", [(), (0.0,), (-1.0, 1.0), (float("inf"),), (float("nan"),)])
def test_enable_histogram_refuses_bad_bounds(bounds: tuple[float, ...]) -> None:
    tracker = PerformanceTracker(autosave_interval=None)
    with pytest.raises(ConfigurationError):
        tracker.enable_histogram(bounds)
