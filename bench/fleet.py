"""Fleet figures against a real redis-server on loopback (started and stopped here).

Run: python bench/fleet.py [--operations 10000]

- flushing N operations' sketches (100 calls each) in one flush (a pipeline of one Lua
  call per operation);
- reading the fleet baselines back (SCAN + HGETALL of every operation);
- record() cost while the server is up and while it is down (interleaved rounds, median
  ns per call; flushes run in the background saver and fail while it is down).
"""

from __future__ import annotations

import argparse
import logging
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from loopback_redis import start_redis

logging.getLogger("perfguard").setLevel(logging.CRITICAL)


def start_server(folder: str) -> tuple[subprocess.Popen[bytes], str]:
    process, port = start_redis(folder, "--appendonly", "no")
    return process, f"redis://127.0.0.1:{port}/0"


def record_ns(tracker: object, calls: int) -> float:
    record = tracker.record  # type: ignore[attr-defined]
    start = time.perf_counter_ns()
    for _ in range(calls):
        record("hot", 0.004)
    return (time.perf_counter_ns() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=10_000)
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        print("redis-server is not installed: nothing measured", file=sys.stderr)
        return
    from perfguard import LogSketch, PerformanceTracker, RedisStore, SketchDelta

    rng = random.Random(3)
    with tempfile.TemporaryDirectory() as folder:
        server, url = start_server(folder)
        try:
            store = RedisStore(url)
            deltas = {}
            for index in range(args.operations):
                sketch = LogSketch()
                sketch.add_many([rng.lognormvariate(-4, 0.5) for _ in range(100)])
                deltas[f"operation-{index:05d}"] = SketchDelta(sketch, failures=1)
            started = time.perf_counter()
            store.save_deltas(deltas)
            flushed = time.perf_counter() - started
            started = time.perf_counter()
            baselines = RedisStore(url).load()
            read_back = time.perf_counter() - started
            assert len(baselines) == args.operations

            tracker = PerformanceTracker(storage=url, autosave_interval=0.05)
            up, down = [], []
            for _ in range(15):
                up.append(record_ns(tracker, 50_000))
            server.terminate()
            server.wait()
            for _ in range(15):
                down.append(record_ns(tracker, 50_000))
            tracker.close(save=False)
        finally:
            if server.poll() is None:
                server.terminate()
                server.wait()
    print("| fleet step | figure |\n|---|---:|")
    print(f"| flush {args.operations} operations (one flush) | {flushed:.2f} s |")
    print(f"| read {args.operations} fleet baselines back | {read_back:.2f} s |")
    print(
        f"| record(), Redis up (background flushes every 50 ms) | {statistics.median(up):.0f} ns |"
    )
    print(f"| record(), Redis down (flushes failing) | {statistics.median(down):.0f} ns |")


if __name__ == "__main__":
    main()
