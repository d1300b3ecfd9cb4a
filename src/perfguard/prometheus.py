"""Prometheus export: a collector for a prometheus_client CollectorRegistry.

    from prometheus_client import CollectorRegistry, generate_latest
    from perfguard.prometheus import PerfguardCollector

    registry = CollectorRegistry()
    registry.register(PerfguardCollector(tracker))

Metrics (names follow the Prometheus conventions: base units, `_total` counters,
`_seconds`; one label, `operation`):

    perfguard_calls_total, perfguard_failures_total, perfguard_slow_calls_total
    perfguard_call_duration_seconds (histogram, counted from registration on)
    perfguard_baseline_seconds{quantile="0.5"|"0.95"|"0.99"} (gauge)
    perfguard_degraded (gauge, 0/1), perfguard_degradation_events_total
    perfguard_exporter_operations_dropped (gauge: operations beyond max_operations)

At most `max_operations` operations are exported (the first in name order), so a
cardinality explosion in the application cannot explode the scrape. Requires the extra
`perfguard[prometheus]`.

Host-wide: when the tracker stores to a path (a JSON file, a ShardStore folder), every
process on that path publishes its figures once a second, and a scrape answered by any
of them reports the sums of all (counters, histogram), degraded when any live process is,
and their combined baseline (_hostwide.py). `host_wide=False` reports this process only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ._errors import UnknownOperationError
from ._hostwide import publisher_for
from ._stores.host_metrics import Figures, figures_of
from ._tracker import PerformanceTracker

DEFAULT_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    10.0,
)


def exportable(name: str) -> str:
    """The label value of an operation name: valid UTF-8 whatever the name holds (a lone
    surrogate becomes its escape, \\udc80), the same spelling at every scrape."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return name.encode("utf-8", "backslashreplace").decode("utf-8")
    return name


class PerfguardCollector(Collector):
    """Exposes a tracker's operations at scrape time; it never writes to the tracker
    except to switch its histogram on."""

    def __init__(
        self,
        tracker: PerformanceTracker,
        *,
        namespace: str = "perfguard",
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        max_operations: int = 500,
        host_wide: bool = True,
    ) -> None:
        self._tracker = tracker
        self._namespace = namespace
        self._max_operations = max_operations
        tracker.enable_histogram(tuple(buckets))
        self._publisher = publisher_for(tracker) if host_wide else None

    def _figures(self) -> dict[str, Figures]:
        if self._publisher is not None:
            return self._publisher.host_figures()
        figures = {}
        for name in self._tracker.operations():
            try:
                figures[name] = figures_of(self._tracker.snapshot(name))
            except UnknownOperationError:
                continue
        return figures

    def collect(self) -> Iterator[Metric]:
        ns = self._namespace
        calls = CounterMetricFamily(f"{ns}_calls", "Calls recorded", labels=["operation"])
        failures = CounterMetricFamily(f"{ns}_failures", "Calls that failed", labels=["operation"])
        slow = CounterMetricFamily(
            f"{ns}_slow_calls", "Calls slower than the per-call threshold", labels=["operation"]
        )
        durations = HistogramMetricFamily(
            f"{ns}_call_duration_seconds", "Call durations", labels=["operation"], unit=""
        )
        baseline = GaugeMetricFamily(
            f"{ns}_baseline_seconds",
            "Baseline latency quantiles",
            labels=["operation", "quantile"],
        )
        degraded = GaugeMetricFamily(
            f"{ns}_degraded", "1 while the operation is degraded", labels=["operation"]
        )
        episodes = CounterMetricFamily(
            f"{ns}_degradation_events", "Transitions into degraded", labels=["operation"]
        )
        figures = self._figures()
        names = sorted(figures)
        exported = names[: self._max_operations]
        for name in exported:
            snap = figures[name]
            label = exportable(name)
            labels = [label]
            calls.add_metric(labels, snap.calls)
            failures.add_metric(labels, snap.failures)
            slow.add_metric(labels, snap.slow_calls)
            episodes.add_metric(labels, snap.episodes)
            degraded.add_metric(labels, 1.0 if snap.degraded else 0.0)
            if snap.histogram:
                buckets = [
                    ("+Inf" if bound == float("inf") else repr(bound), count)
                    for bound, count in zip(snap.bounds, snap.histogram, strict=True)
                ]
                durations.add_metric(labels, buckets, snap.histogram_sum)
            if snap.baseline is not None:
                for quantile, value in (
                    ("0.5", snap.baseline.p50),
                    ("0.95", snap.baseline.p95),
                    ("0.99", snap.baseline.p99),
                ):
                    baseline.add_metric([label, quantile], value)
        dropped = GaugeMetricFamily(
            f"{ns}_exporter_operations_dropped",
            "Operations not exported (beyond max_operations)",
            value=len(names) - len(exported),
        )
        yield from (calls, failures, slow, durations, baseline, degraded, episodes, dropped)
