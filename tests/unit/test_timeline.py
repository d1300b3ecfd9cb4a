"""Issue 13: latency per minute of wall time (_timeline.py), fed by the batch absorb."""

from __future__ import annotations

import random

import pytest

from perfguard import PerformanceTracker
from perfguard._quantiles import quantile
from perfguard._timeline import KEPT_BUCKETS, SAMPLE_CAP, Timeline
from perfguard.testing import FakeClock


def test_each_minute_counts_exactly_and_keeps_its_percentiles() -> None:
    timeline = Timeline()
    rng = random.Random(3)
    minute: list[float] = []
    for second in range(0, 60, 2):  # 30 batches of 200 calls, 10 of them failures
        batch = [rng.lognormvariate(-4.0, 0.4) for _ in range(190)]
        minute.extend(batch)
        timeline.add(batch, len(batch) + 10, 1_800_000_000.0 + second)  # 10 failed
    (row,) = timeline.rows()
    start, calls, failures, p50, p95, p99 = row
    assert (start, calls, failures) == (1_800_000_000.0 - 1_800_000_000.0 % 60, 6000, 300)
    ordered = sorted(minute)
    assert len(minute) > 10 * SAMPLE_CAP  # subsampled, within a few percent
    assert p50 == pytest.approx(quantile(ordered, 0.5), rel=0.05)
    assert p95 == pytest.approx(quantile(ordered, 0.95), rel=0.05)
    assert p99 == pytest.approx(quantile(ordered, 0.99), rel=0.08)


def test_only_the_last_hour_is_kept_and_quiet_minutes_have_no_row() -> None:
    timeline = Timeline()
    for minute in range(0, 2 * KEPT_BUCKETS, 2):  # a call every other minute
        timeline.add([0.01], 1, 60.0 * minute)
    rows = timeline.rows()
    assert len(rows) == KEPT_BUCKETS
    assert [r[0] for r in rows[-2:]] == [60.0 * 116, 60.0 * 118]
    assert timeline.rows(3) == rows[-3:]


def test_a_minute_of_failures_only_has_no_percentiles() -> None:
    timeline = Timeline()
    timeline.add([], 2, 120.0)
    assert timeline.rows() == [(120.0, 2, 2, None, None, None)]


def test_a_tracker_report_carries_latency_over_wall_clock_time() -> None:
    clock = FakeClock()
    tracker = PerformanceTracker(clock=clock, autosave_interval=None)
    for index in range(3000):
        tracker.record("db", 0.01 if index < 1500 else 0.03)
        clock.advance(0.1)  # 5 minutes
    timeline = tracker.report()["operations"]["db"]["timeline"]
    assert 5 <= len(timeline) <= 6
    assert sum(row[1] for row in timeline) == 3000
    assert timeline[0][3] == pytest.approx(0.01) and timeline[-1][3] == pytest.approx(0.03)
