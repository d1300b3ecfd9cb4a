"""OpenTelemetry export, read back with the SDK's in-memory metric reader."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from perfguard import PerformanceTracker
from perfguard.otel import instrument


def collect(reader: InMemoryMetricReader) -> dict[str, dict[str, object]]:
    result: dict[str, dict[str, object]] = {}
    data = reader.get_metrics_data()
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    operation = str(point.attributes.get("operation"))
                    result.setdefault(metric.name, {})[operation] = point
    return result


def test_metrics_through_a_meter_provider() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    tracker = PerformanceTracker(autosave_interval=None, window_size=500)
    instrument(tracker, meter_provider=provider)
    rng = random.Random(2)
    first = [rng.lognormvariate(-4.0, 0.4) for _ in range(300)]
    for index, value in enumerate(first):
        tracker.record("render", value, success=index % 50 != 0)
    metrics = collect(reader)
    assert metrics["perfguard.calls"]["render"].value == 300
    assert metrics["perfguard.failures"]["render"].value == 6
    histogram = metrics["perfguard.call.duration"]["render"]
    assert histogram.count == 300
    assert histogram.sum == pytest.approx(sum(first))
    assert metrics["perfguard.degraded"]["render"].value == 0
    baseline = tracker.baseline("render")
    assert baseline is not None
    assert metrics["perfguard.baseline.p95"]["render"].value == pytest.approx(baseline.p95)

    for value in first[:200]:  # a second collection replays only the new calls
        tracker.record("render", value)
    assert collect(reader)["perfguard.call.duration"]["render"].count == 500
    for value in first * 3:  # more than the window between two collections
        tracker.record("render", value)
    metrics = collect(reader)
    assert metrics["perfguard.call.duration"]["render"].count == 1000
    assert metrics["perfguard.export.missed"]["render"].value == 400


def test_alerts_become_span_events() -> None:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = tracer_provider.get_tracer("test")
    tracker = PerformanceTracker(autosave_interval=None)
    instrument(tracker, meter_provider=MeterProvider(metric_readers=[InMemoryMetricReader()]))
    rng = random.Random(3)
    for _ in range(2000):
        tracker.record("search", rng.lognormvariate(-4.0, 0.4))
    with tracer.start_as_current_span("request"):
        for _ in range(400):
            tracker.record("search", rng.lognormvariate(-2.0, 0.4))  # 7x slower
        assert tracker.state("search") == "degraded"
    (span,) = exporter.get_finished_spans()
    names = [event.name for event in span.events]
    assert names == ["perfguard.degraded"]
    assert span.events[0].attributes["perfguard.operation"] == "search"


def test_a_name_with_a_lone_surrogate_is_exported_as_valid_utf8() -> None:
    """Issue 11, item 6: OTLP exporters encode UTF-8; every attribute value must."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    tracker = PerformanceTracker(autosave_interval=None)
    instrument(tracker, meter_provider=provider)
    hostile = "report-\udc80.pdf"
    for _ in range(50):
        tracker.record(hostile, 0.01)
        tracker.record("plain", 0.01)
    seen = set()
    for _ in range(2):  # the same spelling at every collection
        for points in collect(reader).values():
            seen.update(points)
    assert seen == {"report-\\udc80.pdf", "plain"}
    for name in seen:
        name.encode("utf-8")
