"""The Prometheus collector, scraped as text and parsed by prometheus_client's parser."""

from __future__ import annotations

import random

import pytest

prometheus_client = pytest.importorskip("prometheus_client")

from prometheus_client import CollectorRegistry, generate_latest  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from perfguard import PerformanceTracker  # noqa: E402
from perfguard.prometheus import PerfguardCollector  # noqa: E402


def scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_scrape_exposes_counters_histogram_baseline_and_state() -> None:
    tracker = PerformanceTracker(autosave_interval=None)
    registry = CollectorRegistry()
    registry.register(PerfguardCollector(tracker, buckets=(0.01, 0.1, 1.0)))
    rng = random.Random(1)
    durations = [rng.lognormvariate(-3.5, 0.4) for _ in range(2000)]
    for index, value in enumerate(durations):
        tracker.record("db query", value, success=index % 100 != 0)
    samples = scrape(registry)
    op = (("operation", "db query"),)
    assert samples[("perfguard_calls_total", op)] == 2000
    assert samples[("perfguard_failures_total", op)] == 20
    assert samples[("perfguard_degraded", op)] == 0
    assert samples[("perfguard_degradation_events_total", op)] == 0
    assert samples[("perfguard_call_duration_seconds_count", op)] == 2000
    assert samples[("perfguard_call_duration_seconds_sum", op)] == pytest.approx(sum(durations))
    below = sum(1 for v in durations if v <= 0.1)
    assert samples[("perfguard_call_duration_seconds_bucket", (("le", "0.1"), *op))] == below
    assert samples[("perfguard_call_duration_seconds_bucket", (("le", "+Inf"), *op))] == 2000
    p95 = tracker.baseline("db query").p95  # type: ignore[union-attr]
    assert samples[("perfguard_baseline_seconds", (*op, ("percentile", "p95")))] == pytest.approx(
        p95
    )

    for value in [rng.lognormvariate(-1.0, 0.4) for _ in range(600)]:  # 10x slower
        tracker.record("db query", value)
    samples = scrape(registry)
    assert samples[("perfguard_degraded", op)] == 1
    assert samples[("perfguard_degradation_events_total", op)] == 1


def test_operation_cardinality_is_capped() -> None:
    tracker = PerformanceTracker(autosave_interval=None)
    registry = CollectorRegistry()
    registry.register(PerfguardCollector(tracker, max_operations=3))
    for index in range(10):
        tracker.record(f"op{index}", 0.01)
    samples = scrape(registry)
    exported = {labels for (name, labels) in samples if name == "perfguard_calls_total"}
    assert len(exported) == 3
    assert samples[("perfguard_exporter_operations_dropped", ())] == 7
