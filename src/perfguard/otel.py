"""OpenTelemetry export: instruments on a MeterProvider, alerts as span events.

    from perfguard.otel import instrument
    instrument(tracker, meter_provider=provider)   # default: the global provider

Instruments (attribute `operation`):
- `perfguard.calls`, `perfguard.failures`, `perfguard.degradation.events`
  (observable counters);
- `perfguard.baseline.p50` / `.p95` / `.p99` and `perfguard.latency.p50` / `.p95`
  (observable gauges, seconds); `perfguard.degraded` (0/1);
- `perfguard.call.duration` (histogram, seconds): at each collection the calls recorded
  since the previous one are replayed into it, off the hot path; when more calls than the
  window holds happened in between, the ones no longer held are counted in
  `perfguard.export.missed` instead (use a shorter export interval or a larger window).

Each state transition is also added as an event to the current span, when there is one.
At most `max_operations` operations are exported. Requires `perfguard[otel]`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from ._events import DegradationEvent
from ._exportable import exportable
from ._tracker import PerformanceTracker
from ._views import OperationSnapshot


class _Exporter:
    def __init__(
        self, tracker: PerformanceTracker, provider: MeterProvider, max_operations: int
    ) -> None:
        self.tracker = tracker
        self.max_operations = max_operations
        self._lock = threading.Lock()
        self._exported_upto: dict[str, int] = {}
        meter = provider.get_meter("perfguard")
        self.durations = meter.create_histogram(
            "perfguard.call.duration", unit="s", description="Call durations"
        )
        self.missed = meter.create_counter(
            "perfguard.export.missed", description="Calls not replayed into the histogram"
        )
        self.snapshots: dict[str, OperationSnapshot] = {}

        def counter(field: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
            def observe(options: CallbackOptions) -> Iterable[Observation]:
                self._refresh()
                return [
                    Observation(getattr(s, field), {"operation": exportable(n)})
                    for n, s in self.snapshots.items()
                ]

            return observe

        meter.create_observable_counter("perfguard.calls", [counter("calls")])
        meter.create_observable_counter("perfguard.failures", [counter("failures")])
        meter.create_observable_counter("perfguard.degradation.events", [counter("episodes")])
        for quantile in ("p50", "p95", "p99"):
            meter.create_observable_gauge(
                f"perfguard.baseline.{quantile}", [self._baseline_gauge(quantile)], unit="s"
            )
        for quantile in ("p50", "p95"):
            meter.create_observable_gauge(
                f"perfguard.latency.{quantile}", [self._recent_gauge(quantile)], unit="s"
            )
        meter.create_observable_gauge("perfguard.degraded", [self._degraded])

    def _names(self) -> list[str]:
        return self.tracker.operations()[: self.max_operations]

    def _refresh(self) -> None:
        """Snapshot every exported operation and replay new calls into the histogram."""
        with self._lock:
            snapshots = {}
            for name in self._names():
                snapshots[name] = self.tracker.snapshot(name)
                since = self._exported_upto.get(name, 0)
                durations, upto, missed = self.tracker.durations_since(name, since)
                attributes = {"operation": exportable(name)}
                for duration in durations:
                    self.durations.record(duration, attributes)
                if missed:
                    self.missed.add(missed, attributes)
                self._exported_upto[name] = upto
            self.snapshots = snapshots

    def _baseline_gauge(self, quantile: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            return [
                Observation(getattr(s.baseline, quantile), {"operation": exportable(n)})
                for n, s in self.snapshots.items()
                if s.baseline is not None
            ]

        return observe

    def _recent_gauge(self, quantile: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            result = []
            for name in list(self.snapshots):
                stats = self.tracker.stats(name)
                value = stats["recent_p50"] if quantile == "p50" else stats["recent_p95"]
                if value is not None:
                    result.append(Observation(value, {"operation": exportable(name)}))
            return result

        return observe

    def _degraded(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(1 if s.state == "degraded" else 0, {"operation": exportable(n)})
            for n, s in self.snapshots.items()
        ]


def _span_event(event: DegradationEvent) -> None:
    span = trace.get_current_span()
    if span.is_recording():
        attributes: dict[str, Any] = {
            "perfguard.operation": exportable(event.operation),
            "perfguard.signals": list(event.signals),
            "perfguard.effect_ratio": event.effect_ratio,
            "perfguard.started_at_sample": event.started_at_sample,
        }
        span.add_event(f"perfguard.{event.kind}", attributes)


def instrument(
    tracker: PerformanceTracker,
    *,
    meter_provider: MeterProvider | None = None,
    max_operations: int = 500,
) -> None:
    """Export a tracker's operations through OpenTelemetry metrics and span events."""
    provider = meter_provider or metrics.get_meter_provider()
    _Exporter(tracker, provider, max_operations)
    tracker.on_alert(_span_event)
