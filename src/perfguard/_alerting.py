"""Alerting: what the tracker tells people. Notifications from absorbs become log lines,
events for the callbacks (sinks) and a short history per operation; slow single calls
become rate-limited warnings."""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ._events import DegradationEvent
from ._notifications import BaselineChange, Notification, StateChange
from .types import AlertSink, Clock

logger = logging.getLogger("perfguard")
HISTORY_LENGTH = 100  # events kept per operation


@dataclass
class _Allowance:
    tokens: int
    window_start: float = -math.inf
    suppressed: int = 0


TRACKER_BUDGET = 20  # slow-call warnings per interval for the whole tracker


class SlowCallLimiter:
    """Per operation, at most `burst` warnings per `interval` seconds; the first warning
    after a quiet interval says how many were suppressed. And for the whole tracker at
    most `budget` per interval (100 operations must not print 500 lines a minute): past
    it warnings are counted, and one summary line says how many were not logged."""

    def __init__(
        self, burst: int, interval: float, clock: Clock, budget: int = TRACKER_BUDGET
    ) -> None:
        self._burst = burst
        self._interval = interval
        self._clock = clock
        self._allowances: dict[str, _Allowance] = {}
        self._budget = max(budget, burst)
        self._tracker_window = _Allowance(self._budget)
        self._over_budget: dict[str, int] = {}
        self._lock = threading.Lock()  # the tracker-wide count spans operations

    def message(
        self,
        operation: str,
        duration: float,
        baseline_p95: float,
        threshold: float,
        *,
        skipped: int = 0,
    ) -> str | None:
        """The warning to log for a slow call, or None when it is suppressed. `skipped`:
        slow calls held back since the last ask, while quiet_until() had not passed
        (counted as suppressed). Callers serialize per operation (they hold its lock)."""
        allowance = self._allowances.get(operation)
        if allowance is None:
            allowance = self._allowances.setdefault(operation, _Allowance(self._burst))
        allowance.suppressed += skipped
        now = self._clock.perf()
        suppressed = 0
        if now - allowance.window_start >= self._interval:
            suppressed = allowance.suppressed
            allowance.window_start = now
            allowance.tokens = self._burst
            allowance.suppressed = 0
        if allowance.tokens <= 0:
            allowance.suppressed += 1
            return None
        if not self._within_budget(operation, now):
            return None
        allowance.tokens -= 1
        message = (
            f"Performance degradation detected for {operation}: {_seconds(duration)} "
            f"(baseline p95: {_seconds(baseline_p95)}, threshold: {_seconds(threshold)})"
        )
        if _seconds(duration) == _seconds(threshold) or min(duration, baseline_p95) < 0.01:
            message = (  # three decimals would say nothing: readable units
                f"Performance degradation detected for {operation}: {readable(duration)} "
                f"(baseline p95: {readable(baseline_p95)}, threshold: {readable(threshold)})"
            )
        if suppressed:
            message += f" [{suppressed} similar warnings suppressed]"
        return message

    def quiet_until(self, operation: str) -> float:
        """The clock reading (perf) before which every warning of `operation` would be
        suppressed (its own allowance or the tracker's budget is spent): the recording
        path does not ask before then, and hands the calls it held back to message()."""
        allowance = self._allowances.get(operation)
        own = 0.0 if allowance is None or allowance.tokens > 0 else allowance.window_start
        window = self._tracker_window
        shared = window.window_start if window.tokens <= 0 else 0.0
        latest = max(own, shared)
        return latest + self._interval if latest else 0.0

    def _within_budget(self, operation: str, now: float) -> bool:
        """Take one of the tracker-wide budget; a new interval first logs the summary of
        the one before."""
        with self._lock:
            window = self._tracker_window
            if now - window.window_start >= self._interval:
                if self._over_budget:
                    logger.warning(self._summary())
                window.window_start, window.tokens = now, self._budget
                self._over_budget = {}
            if window.tokens <= 0:
                self._over_budget[operation] = self._over_budget.get(operation, 0) + 1
                return False
            window.tokens -= 1
            return True

    def _summary(self) -> str:
        counts = self._over_budget
        busiest = max(counts, key=lambda name: counts[name])
        return (
            f"perfguard: {sum(counts.values())} more slow-call warnings of {len(counts)} "
            f"operation(s) were not logged (tracker-wide budget: {self._budget} per "
            f"{self._interval:g}s; most: {busiest}, {counts[busiest]}); sustained "
            "degradations are always logged"
        )


class Alerting:
    """Dispatches notifications: baseline changes are logged (DEBUG) and reported to
    `on_baseline_change` (persistence); state changes become DegradationEvents, logged
    (WARNING when degraded, INFO when recovered), kept and handed to every sink."""

    def __init__(self, clock: Clock, limiter: SlowCallLimiter) -> None:
        self._clock = clock
        self.limiter = limiter
        self._sinks: list[AlertSink] = []
        self._history: dict[str, deque[DegradationEvent]] = {}
        self.on_baseline_change: Callable[[], None] | None = None

    def add_sink(self, sink: AlertSink) -> None:
        if not callable(sink):
            raise TypeError(f"on_alert callback must be callable, got {sink!r}")
        self._sinks.append(sink)

    def events(self, operation: str) -> list[DegradationEvent]:
        return list(self._history.get(operation, ()))

    def dispatch(self, notes: list[Notification]) -> None:
        baseline_changed = False
        for note in notes:
            if isinstance(note, BaselineChange):
                baseline_changed = True
                logger.debug(
                    "Baseline %s for %s: p50 %.6fs, p95 %.6fs from %d samples",
                    note.reason,
                    note.operation,
                    note.baseline.p50,
                    note.baseline.p95,
                    note.baseline.sample_count,
                )
            elif isinstance(note, StateChange):
                baseline_changed = True  # the store's status record wants it too
                self.emit(event_from(note, self._clock.wall()))
        if baseline_changed and self.on_baseline_change is not None:
            self.on_baseline_change()

    def emit(self, event: DegradationEvent) -> None:
        history = self._history.get(event.operation)
        if history is None:
            history = self._history.setdefault(event.operation, deque(maxlen=HISTORY_LENGTH))
        history.append(event)
        if event.kind == "degraded" and not event.reopened:
            logger.warning(event.describe())
        else:
            logger.info(event.describe())
        for sink in list(self._sinks):
            try:
                sink(event)
            except Exception:
                logger.exception("perfguard alert callback %r failed", sink)


def _seconds(value: float) -> str:
    return f"{value:.3f}s"


def readable(seconds: float, digits: int = 4) -> str:
    """A duration with `digits` significant digits in a unit read at a glance."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.{digits}g}µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.{digits}g}ms"
    return f"{seconds:.{digits}g}s"


def event_from(note: StateChange, now: float) -> DegradationEvent:
    verdict = note.verdict
    baseline = note.baseline
    return DegradationEvent(
        operation=note.operation,
        kind="degraded" if verdict.kind == "degraded" else "recovered",
        signals=verdict.signals,
        baseline={
            "p50": baseline.p50,
            "p95": baseline.p95,
            "p99": baseline.p99,
            "error_rate": baseline.error_rate,
        },
        current=dict(verdict.current),
        effect_ratio=verdict.effect_ratio,
        evidence=dict(verdict.evidence),
        sample_index=note.sample_index,
        time=now,
        started_at_sample=verdict.started_at_sample,
        started_at_time=note.started_at_time,
        exemplars=note.exemplars,
    )
