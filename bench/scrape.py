"""Cost of one /metrics scrape with 1,000 operations: perfguard's collector (served by
perfguard.prometheus.render, what make_asgi_app / make_wsgi_app call) beside
prometheus_client's own Histogram holding the same series (the same three labels, the
same buckets) and exposed with generate_latest.

    python bench/scrape.py [--operations 1000] [--repeats 31]

Cases: the tracker in memory, and on a path (host_wide=True: a scrape also reads the
folder of published figures; here with this process alone, then with 3 more workers'
files beside it). "changed" scrapes follow new calls on every operation (every
histogram block is rewritten); "unchanged" ones do not (the text of operations with no
new call is reused). Median of the repeats, in milliseconds.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from perfguard import PerformanceTracker
from perfguard._promtext import label_pairs
from perfguard.prometheus import DEFAULT_BUCKETS, PerfguardCollector, render


def median_ms(work: Callable[[], object], repeats: int, before: Callable[[], None]) -> float:
    times = []
    for _ in range(repeats):
        before()
        gc.collect()
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def names(count: int) -> list[str]:
    methods = ("GET", "POST", "PUT", "DELETE")
    return [f"{methods[i % 4]} /api/v1/resource{i}/{{id}}" for i in range(count)]


def fill(tracker: PerformanceTracker, ops: list[str], rng: random.Random, calls: int) -> None:
    for name in ops:
        for _ in range(calls):
            tracker.record(name, rng.lognormvariate(-4.0, 0.5))


def fake_workers(folder: Path, collector: PerfguardCollector, workers: int) -> None:
    """Published figures of `workers` more live processes (this pid: alive, same host)."""
    source = next(folder.glob("*.json"))
    document = json.loads(source.read_text())
    for index in range(workers):
        document["pid"] = os.getpid()
        (folder / f"worker-{index}.json").write_text(json.dumps(document))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--operations", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=31)
    args = parser.parse_args()
    logging.getLogger("perfguard").setLevel(logging.ERROR)
    rng = random.Random(12)
    operations = names(args.operations)
    repeats = args.repeats

    def touch(tracker: PerformanceTracker) -> Callable[[], None]:
        return lambda: fill(tracker, operations, rng, 1)

    rows = []
    tracker = PerformanceTracker(autosave_interval=None)
    registry = CollectorRegistry()
    registry.register(PerfguardCollector(tracker, host_wide=False, max_operations=10**6))
    fill(tracker, operations, rng, 40)
    render(registry)
    rows.append(
        ("in memory, changed", median_ms(lambda: render(registry), repeats, touch(tracker)))
    )
    rows.append(
        ("in memory, unchanged", median_ms(lambda: render(registry), repeats, lambda: None))
    )
    rows.append(
        (
            "in memory, via generate_latest",
            median_ms(lambda: generate_latest(registry), 5, touch(tracker)),
        )
    )

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "baselines.json"
        on_path = PerformanceTracker(storage=str(path), autosave_interval=None)
        path_registry = CollectorRegistry()
        collector = PerfguardCollector(on_path, host_wide=True, max_operations=10**6)
        path_registry.register(collector)
        fill(on_path, operations, rng, 40)
        collector._publisher.publish()  # type: ignore[union-attr]
        render(path_registry)
        rows.append(
            (
                "path, 1 process, changed",
                median_ms(lambda: render(path_registry), repeats, touch(on_path)),
            )
        )
        fake_workers(Path(f"{path}.metrics"), collector, 3)
        rows.append(
            (
                "path, 4 processes, changed",
                median_ms(lambda: render(path_registry), repeats, touch(on_path)),
            )
        )
        on_path.close(save=False)

    client_registry = CollectorRegistry()
    histogram = Histogram(
        "requests_seconds",
        "Request durations",
        ["operation", "method", "route"],
        buckets=DEFAULT_BUCKETS,
        registry=client_registry,
    )
    children = [histogram.labels(**label_pairs(name)) for name in operations]
    for child in children:
        for _ in range(40):
            child.observe(rng.lognormvariate(-4.0, 0.5))

    def observe_all() -> None:
        for child in children:
            child.observe(0.02)

    rows.append(
        (
            "prometheus_client Histogram, generate_latest",
            median_ms(lambda: generate_latest(client_registry), repeats, observe_all),
        )
    )
    print(f"one scrape, {args.operations} operations (median of {repeats}; generate_latest of")
    print("perfguard's collector: median of 5)")
    for label, value in rows:
        print(f"  {label:<48} {value:8.1f} ms")


if __name__ == "__main__":
    main()
