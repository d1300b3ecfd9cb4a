"""Multi-process store figures: writing and combining 1,000 shards, loading the result.

Run: python bench/shards.py [--shards 1000] [--operations 20]

Each shard stands for one flush of one worker process: `--operations` operations with 500
recorded calls each (sketches at the default scale 6). Timings are wall-clock seconds on
this machine, single-threaded, in a temporary folder.
"""

from __future__ import annotations

import argparse
import logging
import random
import tempfile
import time
from pathlib import Path

from perfguard import LogSketch, ShardStore, SketchDelta

logging.getLogger("perfguard").setLevel(logging.ERROR)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=1000)
    parser.add_argument("--operations", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as folder:
        writers = [ShardStore(folder) for _ in range(args.shards)]  # one identity each
        deltas = []
        for _ in range(args.shards):
            shard = {}
            for index in range(args.operations):
                sketch = LogSketch()
                sketch.add_many([rng.lognormvariate(-4 + index * 0.1, 0.5) for _ in range(500)])
                shard[f"operation-{index:03d}"] = SketchDelta(sketch, failures=3)
            deltas.append(shard)
        started = time.perf_counter()
        for writer, shard in zip(writers, deltas, strict=True):
            writer.save_deltas(shard)
        written = time.perf_counter() - started
        size = sum(p.stat().st_size for p in (Path(folder) / "shards").iterdir())
        started = time.perf_counter()
        report = ShardStore(folder).combine()
        combined = time.perf_counter() - started
        started = time.perf_counter()
        baselines = ShardStore(folder).load()
        loaded = time.perf_counter() - started
        assert len(report.merged) == args.shards
        assert baselines["operation-000"].sample_count == 500 * args.shards
        combined_size = (Path(folder) / "baselines.json").stat().st_size
    print(f"{args.shards} shards x {args.operations} operations x 500 calls")
    print("| step | seconds | |\n|---|---:|---|")
    print(
        f"| write {args.shards} shards (atomic, fsync) | {written:.2f} | {size / 2**20:.1f} MiB |"
    )
    per_shard = combined / args.shards * 1e3
    print(f"| combine {args.shards} shards | {combined:.2f} | {per_shard:.1f} ms a shard |")
    print(f"| load the combined baselines | {loaded:.3f} | {combined_size / 1024:.0f} KiB file |")


if __name__ == "__main__":
    main()
