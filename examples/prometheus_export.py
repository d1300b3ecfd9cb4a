"""Expose perfguard's figures to Prometheus (prints the scrape; serve it with
prometheus_client.start_http_server(8000, registry=registry) in a real service)."""

import random

from prometheus_client import CollectorRegistry, generate_latest

from perfguard import PerformanceTracker
from perfguard.prometheus import PerfguardCollector

tracker = PerformanceTracker()
registry = CollectorRegistry()
registry.register(PerfguardCollector(tracker))

rng = random.Random(1)
for _ in range(500):
    tracker.record("db.query", rng.lognormvariate(-4.5, 0.4))

print(generate_latest(registry).decode())
