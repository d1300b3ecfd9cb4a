"""Several worker processes, one baseline: each writes its own shards, one combine merges
them (run `perfguard combine FOLDER` from cron or a deploy hook in real life)."""

import multiprocessing
import random
import sys
import tempfile

from perfguard import PerformanceTracker, ShardStore


def worker(folder: str, seed: int) -> None:
    rng = random.Random(seed)
    tracker = PerformanceTracker(storage=ShardStore(folder))
    for _ in range(1000):
        tracker.record("checkout", rng.lognormvariate(-3.0, 0.4))
    tracker.close()  # flushes this worker's shard


if __name__ == "__main__":
    folder = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="perfguard-")
    workers = [multiprocessing.Process(target=worker, args=(folder, s)) for s in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join()
    report = ShardStore(folder).combine()
    baseline = ShardStore(folder).load()["checkout"]
    print(
        f"merged {len(report.merged)} shards: checkout learned from {baseline.sample_count} "
        f"calls of 4 processes, p95 {baseline.p95:.4f}s"
    )
