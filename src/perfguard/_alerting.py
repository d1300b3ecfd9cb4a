"""Alerting: what the tracker tells people. Notifications from absorbs become log lines,
events for the callbacks (sinks) and a short history per operation; slow single calls
become rate-limited warnings."""

from __future__ import annotations

import logging
import math
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


class SlowCallLimiter:
    """Per operation, at most `burst` warnings per `interval` seconds; the first warning
    after a quiet interval says how many were suppressed."""

    def __init__(self, burst: int, interval: float, clock: Clock) -> None:
        self._burst = burst
        self._interval = interval
        self._clock = clock
        self._allowances: dict[str, _Allowance] = {}

    def message(
        self, operation: str, duration: float, baseline_p95: float, threshold: float
    ) -> str | None:
        """The warning to log for a slow call, or None when it is suppressed. Callers
        serialize per operation (they hold its lock)."""
        allowance = self._allowances.get(operation)
        if allowance is None:
            allowance = self._allowances.setdefault(operation, _Allowance(self._burst))
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
        allowance.tokens -= 1
        message = (
            f"Performance degradation detected for {operation}: {duration:.3f}s "
            f"(baseline p95: {baseline_p95:.3f}s, threshold: {threshold:.3f}s)"
        )
        if suppressed:
            message += f" [{suppressed} similar warnings suppressed]"
        return message


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
