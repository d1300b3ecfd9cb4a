"""An operation with no calls for `idle_after` seconds reads "idle" (Operation.state_at),
so dashboards do not show a frozen "degraded"; the next call brings the state back."""

from __future__ import annotations

import pytest

from perfguard import ConfigurationError, PerformanceTracker, TrackerConfig
from perfguard.testing import FakeClock
from tests.streams import healthy_then_slower


def degraded_tracker(clock: FakeClock, **keywords: object) -> PerformanceTracker:
    tracker = PerformanceTracker(clock=clock, **keywords)  # type: ignore[arg-type]
    healthy_then_slower(tracker, "op", seed=5)
    assert tracker.state("op") == "degraded"
    return tracker


def test_no_calls_for_the_idle_period_reads_idle_everywhere() -> None:
    clock = FakeClock()
    tracker = degraded_tracker(clock, config=TrackerConfig(idle_after=60.0, autosave_interval=None))
    clock.advance(59.0)
    assert tracker.state("op") == "degraded"
    clock.advance(1.0)
    assert tracker.state("op") == "idle"
    assert tracker.stats("op")["state"] == "idle"
    assert tracker.snapshot("op").state == "idle"  # exporters' degraded gauge reads 0


def test_the_next_call_brings_back_the_detectors_state() -> None:
    clock = FakeClock()
    tracker = degraded_tracker(clock, config=TrackerConfig(idle_after=60.0, autosave_interval=None))
    clock.advance(3600.0)
    assert tracker.state("op") == "idle"
    tracker.record("op", 0.05)
    assert tracker.state("op") == "degraded"  # an episode ends by recovery, not by silence
    assert [e.kind for e in tracker.events("op")] == ["degraded"]


def test_idle_after_none_never_reads_idle() -> None:
    clock = FakeClock()
    tracker = degraded_tracker(clock, config=TrackerConfig(idle_after=None, autosave_interval=None))
    clock.advance(10**7)
    assert tracker.state("op") == "degraded"


def test_the_default_idle_period_is_ten_minutes() -> None:
    clock = FakeClock()
    tracker = PerformanceTracker(clock=clock, autosave_interval=None)
    for _ in range(20):
        tracker.record("op", 0.01)
    assert tracker.state("op") == "ok"  # calls are noticed when absorbed (this read)
    clock.advance(599.0)
    assert tracker.state("op") == "ok"
    clock.advance(1.0)
    assert tracker.state("op") == "idle"


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "60"])
def test_a_bad_idle_period_is_a_configuration_error(bad: object) -> None:
    with pytest.raises(ConfigurationError) as raised:
        TrackerConfig(idle_after=bad)  # type: ignore[arg-type]
    assert "idle_after" in str(raised.value)


def test_calls_waiting_in_the_buffer_count_as_seen_when_they_are_read() -> None:
    """The hot path reads no clock: calls are dated when absorbed (every 64 calls or at
    a read), so an operation turns idle `idle_after` after the read that found them."""
    clock = FakeClock()
    tracker = PerformanceTracker(
        clock=clock, config=TrackerConfig(idle_after=60.0, autosave_interval=None)
    )
    for _ in range(20):
        tracker.record("op", 0.01)  # the last ten wait in the buffer
    clock.advance(100.0)
    assert tracker.state("op") == "ok"  # this read absorbs them: seen now
    clock.advance(60.0)
    assert tracker.state("op") == "idle"
