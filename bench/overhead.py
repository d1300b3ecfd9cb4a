"""Per-call overhead and memory of perfguard, measured beside its peers in one process.

Run: python bench/overhead.py [--quick] [--markdown]

Every variant times the same no-op function. Rounds are interleaved (each round runs
every variant once, in a shuffled order) so drift of the machine hits all of them alike;
figures are medians over rounds of ns per call, with the cost of the bare loop
subtracted. Ratios are to the floor measured in the same run: a decorator that reads
`time.perf_counter_ns()` twice and does nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from overhead_states import state_variants
from perfguard import PerformanceTracker, ShardStore

logging.getLogger("perfguard").setLevel(logging.ERROR)  # figures, not warnings

perf_counter_ns = time.perf_counter_ns


def noop() -> None:
    return None


async def async_noop() -> None:
    return None


def floor_decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The floor: what any timing decorator must do (forward arguments, read the clock
    twice, subtract)."""

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = perf_counter_ns()
        result = fn(*args, **kwargs)
        _elapsed = perf_counter_ns() - start
        return result

    return timed


def async_floor_decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
    async def timed(*args: Any, **kwargs: Any) -> Any:
        start = perf_counter_ns()
        result = await fn(*args, **kwargs)
        _elapsed = perf_counter_ns() - start
        return result

    return timed


def loop_calls(fn: Callable[[], Any], calls: int) -> float:
    start = perf_counter_ns()
    for _ in range(calls):
        fn()
    return (perf_counter_ns() - start) / calls


def loop_empty(calls: int) -> float:
    start = perf_counter_ns()
    for _ in range(calls):
        pass
    return (perf_counter_ns() - start) / calls


def loop_record(tracker: PerformanceTracker, calls: int) -> float:
    record = tracker.record
    start = perf_counter_ns()
    for _ in range(calls):
        record("recorded", 0.042)
    return (perf_counter_ns() - start) / calls


def loop_measure(tracker: PerformanceTracker, calls: int) -> float:
    measure = tracker.measure
    start = perf_counter_ns()
    for _ in range(calls):
        with measure("measured"):
            pass
    return (perf_counter_ns() - start) / calls


def async_loop(fn: Callable[[], Any], calls: int) -> float:
    async def run() -> float:
        start = perf_counter_ns()
        for _ in range(calls):
            await fn()
        return (perf_counter_ns() - start) / calls

    return asyncio.run(run())


def build_variants(calls: int) -> dict[str, Callable[[], float]]:
    tracker = PerformanceTracker()

    def sync_calls(fn: Callable[..., Any]) -> Callable[[], float]:
        return lambda: loop_calls(fn, calls)

    def async_calls(fn: Callable[..., Any]) -> Callable[[], float]:
        return lambda: async_loop(fn, calls)

    variants: dict[str, Callable[[], float]] = {
        "empty loop": lambda: loop_empty(calls),
        "floor (2x perf_counter_ns)": sync_calls(floor_decorator(noop)),
        "perfguard decorator": sync_calls(tracker.time_operation("decorated")(noop)),
        "perfguard measure()": lambda: loop_measure(tracker, calls),
        "perfguard record()": lambda: loop_record(tracker, calls),
        "async floor": async_calls(async_floor_decorator(async_noop)),
        "perfguard async decorator": async_calls(
            tracker.time_operation("async_decorated")(async_noop)
        ),
        "async empty loop": async_calls(async_noop),
    }
    # A store shared by many processes keeps a mergeable sketch per operation as well.
    shared = PerformanceTracker(
        storage=ShardStore(tempfile.mkdtemp(prefix="perfguard-bench-")), autosave_interval=None
    )
    variants["perfguard decorator, ShardStore (sketches)"] = sync_calls(
        shared.time_operation("decorated")(noop)
    )
    try:
        from prometheus_client import CollectorRegistry, Histogram

        histogram = Histogram("bench_seconds", "bench", registry=CollectorRegistry())
        variants["prometheus_client Histogram.time()"] = sync_calls(histogram.time()(noop))
    except ImportError:
        print("prometheus_client not installed: skipped", file=sys.stderr)
    try:
        from ddsketch import DDSketch

        sketch = DDSketch()

        def ddsketch_decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
            add = sketch.add

            def timed(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                result = fn(*args, **kwargs)
                add(time.perf_counter() - start)
                return result

            return timed

        variants["DDSketch add (decorator)"] = sync_calls(ddsketch_decorator(noop))
    except ImportError:
        print("ddsketch not installed: skipped", file=sys.stderr)
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        otel_histogram = provider.get_meter("bench").create_histogram("bench.duration", unit="s")

        def otel_decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
            record = otel_histogram.record

            def timed(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                result = fn(*args, **kwargs)
                record(time.perf_counter() - start)
                return result

            return timed

        variants["OpenTelemetry histogram record (decorator)"] = sync_calls(otel_decorator(noop))
    except ImportError:
        print("opentelemetry-sdk not installed: skipped", file=sys.stderr)
    variants.update(state_variants(calls, sync_calls))
    return variants


def measure_overhead(rounds: int, calls: int, seed: int = 7) -> dict[str, float]:
    variants = build_variants(calls)
    samples: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants)
    shuffler = random.Random(seed)
    for name in order:  # warm-up: establish baselines, fill caches
        variants[name]()
    gc.disable()
    try:
        for _ in range(rounds):
            shuffler.shuffle(order)
            for name in order:
                samples[name].append(variants[name]())
    finally:
        gc.enable()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    SPREADS.update(
        {name: max(values) / statistics.median(values) for name, values in samples.items()}
    )
    return medians


SPREADS: dict[str, float] = {}  # per variant: its slowest round / its median round


def measure_memory(operations: int, window: int) -> tuple[float, float]:
    """Bytes per operation with full windows, and total MiB for `operations` operations."""
    values = [random.Random(3).lognormvariate(-4, 0.5) for _ in range(window)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tracker = PerformanceTracker(window_size=window)
    for index in range(operations):
        name = f"operation-{index:05d}"
        record = tracker.record
        for value in values:
            # a fresh float per call, as a real timing would make; the last partial
            # batch stays pending (not absorbed), as it would between reads
            record(name, value * 1.0)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    total = after - before
    return total / operations, total / 2**20


def measure_persistence(operations: int) -> tuple[float, float, int]:
    """Seconds to save and to load `operations` baselines; file size in bytes."""
    rng = random.Random(5)
    tracker = PerformanceTracker(min_samples=10)
    for index in range(operations):
        name = f"operation-{index:05d}"
        for _ in range(12):
            tracker.record(name, rng.lognormvariate(-4, 0.5))
        tracker.state(name)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "baselines.json"
        from perfguard import JsonFileStore

        store = JsonFileStore(path)
        baselines = tracker.snapshot_baselines()
        start = time.perf_counter()
        store.save(baselines)
        saved = time.perf_counter() - start
        size = path.stat().st_size
        start = time.perf_counter()
        loaded = PerformanceTracker(storage=path, autosave_interval=None)
        load_seconds = time.perf_counter() - start
        assert len(loaded.operations()) == operations
        loaded.close(save=False)  # nothing to write back
    return saved, load_seconds, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    args = parser.parse_args()
    rounds, calls = (5, 20_000) if args.quick else (31, 100_000)
    medians = measure_overhead(rounds, calls)
    empty = medians.pop("empty loop")
    async_empty = medians.pop("async empty loop")
    floor = medians["floor (2x perf_counter_ns)"] - empty
    async_floor = medians["async floor"] - async_empty
    print(f"python {sys.version.split()[0]}, {rounds} rounds x {calls} calls, medians")
    print(f"bare loop {empty:.1f} ns/iteration, bare async loop {async_empty:.1f} ns (subtracted)")
    print()
    print("| variant | ns per call | ratio to floor | slowest round / median |")
    print("|---|---:|---:|---:|")
    for name, value in medians.items():
        is_async = name.startswith("async") or "async" in name
        net = value - (async_empty if is_async else empty)
        reference = async_floor if is_async else floor
        label = "async floor" if is_async else "floor"
        if "raising" in name:  # a raising call against the floor that raises as often
            share = "10 %" if "10 %" in name else "100 %"
            reference = medians[f"floor, {share} raising"] - empty
            label = f"floor raising {share}"
        spread = SPREADS.get(name, float("nan"))
        print(f"| {name} | {net:.0f} | {net / reference:.2f}x {label} | {spread:.2f} |")
    print()
    operations = 1000 if args.quick else 10_000
    per_op, total = measure_memory(operations, 1000)
    print(
        f"memory: {per_op / 1024:.2f} KiB per operation with a full 1000-sample window; "
        f"{total:.1f} MiB for {operations} such operations"
    )
    saved, loaded, size = measure_persistence(operations)
    print(
        f"persistence: {operations} baselines saved in {saved:.3f} s, loaded in "
        f"{loaded:.3f} s ({size / 1024:.0f} KiB file)"
    )


if __name__ == "__main__":
    main()
