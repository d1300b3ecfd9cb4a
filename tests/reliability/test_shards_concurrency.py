"""16 processes flushing shards and combining at the same time: exact totals."""

from __future__ import annotations

import multiprocessing
import random
from pathlib import Path

from perfguard import PerformanceTracker, ShardStore

PROCESSES = 16
CALLS = 600
FLUSHES = 4


def worker(folder: str, seed: int) -> None:
    rng = random.Random(seed)
    store = ShardStore(folder)
    tracker = PerformanceTracker(storage=store, autosave_interval=None)
    for flush in range(FLUSHES):
        for call in range(CALLS // FLUSHES):
            tracker.record("api", rng.lognormvariate(-3.0, 0.5), success=call % 10 != 0)
        tracker.save()
        if (seed + flush) % 2 == 0:
            store.combine()  # while the others write and combine
    tracker.close(save=False)  # everything was flushed above
    tracker.close()


def test_concurrent_flushes_and_combines_count_everything_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=worker, args=(str(tmp_path), seed)) for seed in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    ShardStore(tmp_path).combine()
    baseline = ShardStore(tmp_path).load()["api"]
    successes = PROCESSES * CALLS * 9 // 10
    assert baseline.sample_count == successes
    assert baseline.error_rate == PROCESSES * CALLS // 10 / (PROCESSES * CALLS)
    assert list((tmp_path / "shards").glob("*.json")) == []
