"""Export perfguard's figures through OpenTelemetry (printed by the console exporter)."""

import random

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader

from perfguard import PerformanceTracker
from perfguard.otel import instrument

reader = PeriodicExportingMetricReader(ConsoleMetricExporter(), export_interval_millis=60_000)
provider = MeterProvider(metric_readers=[reader])
tracker = PerformanceTracker()
instrument(tracker, meter_provider=provider)

rng = random.Random(1)
for _ in range(500):
    tracker.record("render.page", rng.lognormvariate(-4.0, 0.3))

provider.shutdown()  # flushes one export to the console
