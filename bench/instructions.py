"""Per-call cost of the hot paths in CPU instructions (valgrind's callgrind), as ratios
to the timing floor: figures that do not move with the machine's load.

Run: python bench/instructions.py [--calls 50000] [--variants record decorator ...]

Wall-clock figures (bench/overhead.py) move by 0.5x the floor between runs on a shared
2-core machine; instruction counts repeat to a few per call. Each variant runs in a fresh
interpreter under callgrind twice, with N and 2N calls; the difference divided by N is
the steady-state cost of one call (interpreter start, imports, warm-up and the
baseline's learning phase cancel out). The tracker gets a clock whose `perf()` advances
1 us per read (a C-level callable, like `time.perf_counter`), so every decorated call
lasts 1 us and every run takes the same path. PYTHONHASHSEED is fixed.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

VARIANTS = (
    "floor",
    "async_floor",
    "record",
    "decorator",
    "async_decorator",
    "measure",
    "decorator_json",
    "decorator_shards",
    # issue 14: the same hot paths in the states an incident brings
    "record_slow",
    "record_fail10",
    "record_fail100",
    "record_metadata",
    "record_varied",
    "decorator_slow",
    "decorator_fail100",
    "floor_fail100",
    "decorator_submicro",
)
WARM = 3000  # calls before a state variant changes state: learned, armed


class TickClock:
    """perf() advances 1 us a read; wall() is the real wall clock. With `slow_after`,
    it advances 5 us a read after that many reads: every call from then on lasts 5x
    longer, with nothing more in the measured function (a C-level chain of counters)."""

    monotonic = True  # as the system clock: read without perfguard's guard

    def __init__(self, slow_after: int | None = None) -> None:
        ticks: Any = itertools.count(1000.0, 1e-6)
        if slow_after is not None:
            later = itertools.count(1000.0 + slow_after * 1e-6, 5e-6)
            ticks = itertools.chain(itertools.islice(ticks, slow_after), later)
        self.perf: Callable[[], float] = ticks.__next__
        self.wall: Callable[[], float] = time.time


def run_variant(variant: str, calls: int) -> None:
    """The measured loop (in the child interpreter)."""
    perf_counter_ns = time.perf_counter_ns

    def noop() -> None:
        return None

    async def async_noop() -> None:
        return None

    if variant == "floor":

        def timed() -> Any:
            start = perf_counter_ns()
            result = noop()
            _elapsed = perf_counter_ns() - start
            return result

        for _ in range(calls):
            timed()
        return
    if variant == "async_floor":

        async def async_timed() -> Any:
            start = perf_counter_ns()
            result = await async_noop()
            _elapsed = perf_counter_ns() - start
            return result

        async def floor_loop() -> None:
            for _ in range(calls):
                await async_timed()

        asyncio.run(floor_loop())
        return
    if variant == "floor_fail100":
        # the timing floor of a call that raises, in the decorated call's shape: the
        # function raises into a wrapper that times it and re-raises to the caller
        def failing() -> None:
            raise ValueError("failed")

        def failing_timed() -> Any:
            start = perf_counter_ns()
            try:
                return failing()
            except Exception:
                _elapsed = perf_counter_ns() - start
                raise

        for _ in range(calls):
            try:  # noqa: SIM105 - as the decorator's measured loop
                failing_timed()
            except ValueError:
                pass
        return
    from perfguard import PerformanceTracker

    logging.getLogger("perfguard").setLevel(logging.ERROR)
    storage: object = None
    if variant in ("decorator_json", "decorator_shards"):
        import tempfile

        from perfguard import ShardStore

        folder = tempfile.mkdtemp(prefix="perfguard-bench-")
        # the storage modes: one JSON path (several processes may share it), and the
        # mergeable sketches every shared store (shards, Redis) keeps per operation
        storage = os.path.join(folder, "baselines.json")
        if variant == "decorator_shards":
            storage = ShardStore(os.path.join(folder, "shards"))
        variant = "decorator"
    tracker = PerformanceTracker(
        storage=storage,  # type: ignore[arg-type]
        autosave_interval=None,
        # decorator_slow: two reads a call, so every call after WARM lasts 5 us
        clock=TickClock(2 * WARM if variant == "decorator_slow" else None),
    )
    if variant.startswith("record_"):
        run_record_state(tracker, variant, calls)
    elif variant in ("decorator_slow", "decorator_fail100", "decorator_submicro"):
        run_decorator_state(tracker, variant, calls)
    elif variant == "record":
        record = tracker.record
        for _ in range(calls):
            record("recorded", 0.042)
    elif variant == "decorator":
        decorated = tracker.time_operation("decorated")(noop)
        for _ in range(calls):
            decorated()
    elif variant == "async_decorator":
        async_decorated = tracker.time_operation("async_decorated")(async_noop)

        async def loop() -> None:
            for _ in range(calls):
                await async_decorated()

        asyncio.run(loop())
    elif variant == "measure":
        measure = tracker.measure
        for _ in range(calls):
            with measure("measured"):
                pass


def run_record_state(tracker: Any, variant: str, calls: int) -> None:
    """record() after WARM healthy calls: every call 5x slower (degraded), every 10th
    or every call failed, every call with metadata, or healthy calls whose durations
    vary."""
    record = tracker.record
    if variant == "record_varied":
        # durations that vary as real ones do (log-normal, seeded), from the warm-up
        # on: the absorb's blocks then hold calls above the p95 and p99, which
        # constant durations never do
        rng = random.Random(7)
        varied = [0.042 * rng.lognormvariate(0.0, 0.3) for _ in range(4096)]
        for index in range(WARM + calls):
            record("recorded", varied[index & 4095])
        return
    for index in range(WARM):
        record("recorded", 0.040 + 0.001 * (index % 5))
    if variant == "record_slow":
        for _ in range(calls):
            record("recorded", 0.2)
    elif variant == "record_fail10":
        for index in range(calls):
            record("recorded", 0.042, index % 10 != 0)
    elif variant == "record_fail100":
        for _ in range(calls):
            record("recorded", 0.042, False)
    else:
        metadata = {"user": 7}
        for _ in range(calls):
            record("recorded", 0.042, True, metadata)


def run_decorator_state(tracker: Any, variant: str, calls: int) -> None:
    """The decorator after WARM healthy calls of 1 us: then every call lasts 5 us (the
    clock's ticks grow: slow, degraded), or raises; or a no-op whose every call lasts
    one tick from the start (a sub-microsecond operation, timed by a clock of 1 us
    resolution)."""
    state = {"slow": False}

    def noop() -> None:
        return None

    def failing() -> None:
        if state["slow"]:
            raise ValueError("failed")

    function = failing if variant == "decorator_fail100" else noop
    decorated = tracker.time_operation("decorated")(function)
    if variant == "decorator_submicro":
        for _ in range(calls + WARM):
            decorated()
        return
    for _ in range(WARM):
        decorated()
    state["slow"] = True
    if variant == "decorator_slow":
        for _ in range(calls):
            decorated()
        return
    for _ in range(calls):
        try:  # noqa: SIM105 - suppress() would add its own cost to the measured loop
            decorated()
        except ValueError:
            pass


def instructions(variant: str, calls: int) -> int:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    result = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--child",
            variant,
            str(calls),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    match = re.search(r"Collected : (\d+)", result.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count from callgrind: {result.stderr[-500:]}")
    return int(match.group(1))


def per_call(variant: str, calls: int) -> float:
    return (instructions(variant, 2 * calls) - instructions(variant, calls)) / calls


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        run_variant(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: nothing measured", file=sys.stderr)
        return
    costs = {variant: per_call(variant, args.calls) for variant in args.variants}
    print(f"python {sys.version.split()[0]}, callgrind, {args.calls} calls, instructions a call")
    print("\n| variant | instructions per call | ratio to floor |")
    print("|---|---:|---:|")
    for variant, cost in costs.items():
        floor = costs.get(
            "async_floor"
            if variant.startswith("async")
            else "floor_fail100"
            if variant == "decorator_fail100"
            else "floor"
        )
        ratio = f"{cost / floor:.2f}x" if floor else "-"
        print(f"| {variant} | {cost:,.0f} | {ratio} |")


if __name__ == "__main__":
    main()
