"""Alerting (_alerting.py): rate-limited slow-call warnings (SlowCallLimiter), every sink
served even when one fails, the capped event history, and how notes are dispatched."""

from __future__ import annotations

import logging

import pytest

from perfguard import DegradationEvent
from perfguard._alerting import HISTORY_LENGTH, Alerting, SlowCallLimiter
from perfguard._detect import Verdict
from perfguard._notifications import BaselineChange, StateChange
from perfguard.testing import FakeClock
from tests.conftest import fixed_baseline


def event(index: int = 0, operation: str = "op", kind: str = "degraded") -> DegradationEvent:
    return DegradationEvent(
        operation=operation,
        kind=kind,  # type: ignore[arg-type]
        signals=("latency",),
        baseline={"p50": 0.01, "p95": 0.03},
        current={"p50": 0.02, "p95": 0.06},
        effect_ratio=2.0,
        evidence={},
        sample_index=index,
        time=1.0,
        started_at_sample=index,
        started_at_time=1.0,
    )


def warn(limiter: SlowCallLimiter, operation: str = "op") -> str | None:
    return limiter.message(operation, 0.5, 0.1, 0.2)


# -- SlowCallLimiter ---------------------------------------------------------------------


def test_a_burst_is_allowed_then_warnings_are_suppressed() -> None:
    clock = FakeClock()
    limiter = SlowCallLimiter(burst=3, interval=60.0, clock=clock)
    messages = [warn(limiter) for _ in range(5)]
    assert messages[3:] == [None, None]
    assert messages[0] == (
        "Performance degradation detected for op: 0.500s (baseline p95: 0.100s, threshold: 0.200s)"
    )
    assert messages[1] == messages[2] == messages[0]


def test_the_allowance_refills_after_the_interval_naming_the_suppressed() -> None:
    clock = FakeClock()
    limiter = SlowCallLimiter(burst=2, interval=60.0, clock=clock)
    for _ in range(6):
        warn(limiter)  # 2 allowed, 4 suppressed
    clock.advance(59.9)
    assert warn(limiter) is None  # still in the interval: 5 suppressed now
    clock.advance(0.1)
    refilled = warn(limiter)
    assert refilled is not None and refilled.endswith("[5 similar warnings suppressed]")
    second = warn(limiter)
    assert second is not None and "suppressed" not in second
    assert warn(limiter) is None


def test_a_quiet_interval_says_nothing_was_suppressed() -> None:
    clock = FakeClock()
    limiter = SlowCallLimiter(burst=1, interval=10.0, clock=clock)
    assert warn(limiter) is not None
    clock.advance(10.0)
    message = warn(limiter)
    assert message is not None and "suppressed" not in message


def test_each_operation_has_its_own_allowance() -> None:
    limiter = SlowCallLimiter(burst=1, interval=60.0, clock=FakeClock())
    assert warn(limiter, "a") is not None
    assert warn(limiter, "a") is None
    b = warn(limiter, "b")
    assert b is not None and "for b:" in b


# -- sinks and history -----------------------------------------------------------------


def test_a_failing_sink_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    alerting = Alerting(FakeClock(), SlowCallLimiter(1, 1.0, FakeClock()))
    before: list[DegradationEvent] = []
    after: list[DegradationEvent] = []

    def broken(_: DegradationEvent) -> None:
        raise RuntimeError("sink down")

    alerting.add_sink(before.append)
    alerting.add_sink(broken)
    alerting.add_sink(after.append)
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        alerting.emit(event(1))
        alerting.emit(event(2))
    assert [e.sample_index for e in before] == [1, 2]
    assert [e.sample_index for e in after] == [1, 2]
    failures = [r for r in caplog.records if "alert callback" in r.getMessage()]
    assert len(failures) == 2 and all(r.exc_info is not None for r in failures)


def test_a_sink_that_is_not_callable_is_refused() -> None:
    alerting = Alerting(FakeClock(), SlowCallLimiter(1, 1.0, FakeClock()))
    with pytest.raises(TypeError):
        alerting.add_sink("print")  # type: ignore[arg-type]


def test_history_keeps_the_last_hundred_events_per_operation() -> None:
    alerting = Alerting(FakeClock(), SlowCallLimiter(1, 1.0, FakeClock()))
    for index in range(150):
        alerting.emit(event(index))
    alerting.emit(event(0, operation="other"))
    kept = alerting.events("op")
    assert HISTORY_LENGTH == 100 and len(kept) == 100
    assert [e.sample_index for e in kept] == list(range(50, 150))  # oldest first
    assert len(alerting.events("other")) == 1
    assert alerting.events("never") == []


def test_degraded_is_logged_as_a_warning_and_recovered_as_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    alerting = Alerting(FakeClock(), SlowCallLimiter(1, 1.0, FakeClock()))
    with caplog.at_level(logging.INFO, logger="perfguard"):
        alerting.emit(event(1, kind="degraded"))
        alerting.emit(event(2, kind="recovered"))
    levels = [(r.levelno, r.getMessage().split(" ")[2]) for r in caplog.records]
    assert levels == [(logging.WARNING, "degraded"), (logging.INFO, "recovered")]


# -- dispatch ------------------------------------------------------------------------------


def test_dispatch_turns_state_changes_into_events_at_the_clock_s_time() -> None:
    clock = FakeClock()
    alerting = Alerting(clock, SlowCallLimiter(1, 1.0, clock))
    received: list[DegradationEvent] = []
    alerting.add_sink(received.append)
    verdict = Verdict(
        kind="degraded",
        signals=("errors",),
        current={"error_rate": 0.2},
        effect_ratio=10.0,
        evidence={"test": "errors"},
        started_at_sample=64,
    )
    clock.advance(5.0)
    alerting.dispatch([StateChange("op", verdict, fixed_baseline(100), 128, (), 42.0)])
    (only,) = received
    assert (only.operation, only.kind, only.signals) == ("op", "degraded", ("errors",))
    assert only.time == clock.wall() and only.sample_index == 128
    assert (only.started_at_sample, only.started_at_time) == (64, 42.0)
    assert only.baseline["p95"] == fixed_baseline(100).p95
    assert alerting.events("op") == [only]


def test_baseline_changes_call_the_persistence_hook_once_per_dispatch() -> None:
    alerting = Alerting(FakeClock(), SlowCallLimiter(1, 1.0, FakeClock()))
    calls: list[None] = []
    alerting.dispatch([BaselineChange("op", "established", fixed_baseline(10))])  # no hook yet
    alerting.on_baseline_change = lambda: calls.append(None)
    alerting.dispatch(
        [
            BaselineChange("a", "established", fixed_baseline(10)),
            BaselineChange("b", "matured", fixed_baseline(20)),
        ]
    )
    assert len(calls) == 1
    alerting.dispatch([])
    assert len(calls) == 1
    assert alerting.events("a") == []  # a baseline change is no alert


def test_the_tracker_wide_budget_then_one_summary_line(caplog: pytest.LogCaptureFixture) -> None:
    """Issue 13: 100 operations each allowed 5 warnings a minute log at most the
    tracker's budget, then one line saying how many were not logged."""
    clock = FakeClock()
    limiter = SlowCallLimiter(5, 60.0, clock, budget=20)
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        allowed = [limiter.message(f"op{i}", 0.5, 0.1, 0.2) for i in range(100) for _ in range(3)]
        assert sum(m is not None for m in allowed) == 20
        assert caplog.records == []  # the summary waits for the interval to end
        clock.advance(61.0)
        assert limiter.message("op0", 0.5, 0.1, 0.2) is not None
    (summary,) = [r.getMessage() for r in caplog.records]
    assert summary.startswith("perfguard: 280 more slow-call warnings of 94 operation(s)")


def test_three_decimals_that_say_nothing_become_readable_units() -> None:
    limiter = SlowCallLimiter(5, 60.0, FakeClock())
    assert limiter.message("op", 0.1004, 0.1, 0.1001) == (
        "Performance degradation detected for op: 100.4ms (baseline p95: 100ms, threshold: 100.1ms)"
    )
    assert limiter.message("op", 0.00042, 0.00021, 0.0003) == (
        "Performance degradation detected for op: 420µs (baseline p95: 210µs, threshold: 300µs)"
    )
    assert limiter.message("op", 0.25, 0.1, 0.12) == (
        "Performance degradation detected for op: 0.250s (baseline p95: 0.100s, threshold: 0.120s)"
    )


def test_a_transition_line_says_when_in_clock_time_and_in_readable_units() -> None:
    line = event(1, kind="degraded").describe()
    assert line.startswith("Operation op degraded (")
    assert " since " in line and "Z (call " in line and "effect x" in line
