"""Issue 11, item 6: an operation name holding a lone surrogate (bytes decoded with
surrogateescape) is exported under one consistent, valid UTF-8 spelling; the scrape of
every other operation goes on."""

from __future__ import annotations

import pytest

pytest.importorskip("prometheus_client")

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from perfguard import PerformanceTracker
from perfguard.prometheus import PerfguardCollector


def test_a_lone_surrogate_name_does_not_break_the_scrape() -> None:
    tracker = PerformanceTracker(autosave_interval=None)
    tracker.record(b"caf\xe9".decode("utf-8", "surrogateescape"), 0.01)
    tracker.record("plain", 0.02)
    registry = CollectorRegistry()
    registry.register(PerfguardCollector(tracker))
    first, second = generate_latest(registry), generate_latest(registry)
    assert first.decode("utf-8")  # valid UTF-8 text
    calls = {
        sample.labels["operation"]: sample.value
        for family in text_string_to_metric_families(first.decode("utf-8"))
        if family.name == "perfguard_calls"
        for sample in family.samples
    }
    assert calls == {"caf\\udce9": 1.0, "plain": 1.0}
    assert second.count(b"caf\\\\udce9") == first.count(b"caf\\\\udce9") > 0
