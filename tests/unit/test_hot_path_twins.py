"""The three copies of the hot path (record(), the sync and the async decorator) run one
scenario and must agree on every count, figure, warning and decision."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Iterable

import pytest

from perfguard import PerformanceTracker
from perfguard.testing import FakeClock

Call = tuple[float, bool]  # duration, failed
Feed = Callable[[PerformanceTracker, FakeClock, Iterable[Call]], None]


class Boom(RuntimeError):
    pass


def feed_record(tracker: PerformanceTracker, clock: FakeClock, calls: Iterable[Call]) -> None:
    record = tracker.record
    for duration, failed in calls:
        clock.advance(duration)  # time passes as it does for the decorators
        record("op", duration, success=not failed)


def feed_sync_decorator(
    tracker: PerformanceTracker, clock: FakeClock, calls: Iterable[Call]
) -> None:
    @tracker.time_operation("op")
    def call(duration: float, failed: bool) -> None:
        clock.advance(duration)
        if failed:
            raise Boom

    for duration, failed in calls:
        with contextlib.suppress(Boom):
            call(duration, failed)


def feed_async_decorator(
    tracker: PerformanceTracker, clock: FakeClock, calls: Iterable[Call]
) -> None:
    @tracker.time_operation("op")
    async def call(duration: float, failed: bool) -> None:
        clock.advance(duration)
        if failed:
            raise Boom

    async def run() -> None:
        for duration, failed in calls:
            with contextlib.suppress(Boom):
                await call(duration, failed)

    asyncio.run(run())


FEEDS = {
    "record()": feed_record,
    "sync decorator": feed_sync_decorator,
    "async decorator": feed_async_decorator,
}


def scenario() -> list[Call]:
    """Healthy calls (with 1 % failures), a few very slow single calls (the slow-call
    branch), then a 3x slowdown that lasts, with more failures."""
    rng = random.Random(8)
    healthy = [(rng.lognormvariate(-4.0, 0.3), rng.random() < 0.01) for _ in range(3000)]
    spikes = [(0.5, False) for _ in range(8)]
    slow = [(3 * rng.lognormvariate(-4.0, 0.3), rng.random() < 0.05) for _ in range(1500)]
    return healthy + spikes + slow


def run_scenario(
    feed: Feed, caplog: pytest.LogCaptureFixture
) -> tuple[PerformanceTracker, list[str]]:
    clock = FakeClock()
    tracker = PerformanceTracker(clock=clock, autosave_interval=None, window_size=1000)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        feed(tracker, clock, scenario())
        tracker.state("op")  # absorb what is pending
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    return tracker, warnings


@pytest.mark.parametrize("path", list(FEEDS))
def test_every_hot_path_counts_warns_and_decides(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    tracker, warnings = run_scenario(FEEDS[path], caplog)
    stats = tracker.stats("op")
    assert stats["sample_count"] == 4508
    assert stats["failure_count"] == sum(failed for _, failed in scenario())
    assert stats["degradation_count"] >= 8  # the spikes took the slow-call branch
    slow_warnings = [w for w in warnings if w.startswith("Performance degradation detected")]
    elapsed = sum(duration for duration, _ in scenario())
    assert 5 <= len(slow_warnings) <= 5 * (elapsed // 60 + 1)  # 5 a minute at most
    assert any("similar warnings suppressed" in w for w in slow_warnings)
    assert stats["state"] == "degraded"
    assert [e.kind for e in tracker.events("op")] == ["degraded"]


def test_the_three_hot_paths_are_twins(caplog: pytest.LogCaptureFixture) -> None:
    outcomes = {}
    for path, feed in FEEDS.items():
        tracker, warnings = run_scenario(feed, caplog)
        stats = tracker.stats("op")
        baseline = tracker.baseline("op")
        assert baseline is not None
        events = tracker.events("op")
        outcomes[path] = (
            stats["sample_count"],
            stats["failure_count"],
            stats["degradation_count"],
            stats["state"],
            round(baseline.p95, 9),
            [(e.kind, e.sample_index, e.started_at_sample, e.signals) for e in events],
            len(warnings),
        )
    first = outcomes["record()"]
    assert outcomes["sync decorator"] == first
    assert outcomes["async decorator"] == first
