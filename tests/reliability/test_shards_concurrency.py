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


def _flush_and_exit(folder: str, index: int) -> None:
    """A worker that records, flushes its shard and exits without combining."""
    tracker = PerformanceTracker(
        storage=ShardStore(folder, fold_every=None), autosave_interval=None
    )
    for _ in range(300):
        tracker.record("folded", 0.001 * (1 + index))
    tracker.close()


def test_shards_fold_themselves_including_those_of_exited_workers(tmp_path: Path) -> None:
    """No cron job: a process that flushes folds every pending shard (its own, live
    workers', exited workers'), so shards do not pile up and nothing is lost."""
    folder = tmp_path / "store"
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=_flush_and_exit, args=(str(folder), i)) for i in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert len(list((folder / "shards").glob("*.json"))) == 3  # exited, never combined
    survivor = PerformanceTracker(
        storage=ShardStore(folder, fold_every=0.0), autosave_interval=None
    )
    for _ in range(100):
        survivor.record("folded", 0.002)
    survivor.save()
    assert list((folder / "shards").glob("*.json")) == []
    assert ShardStore(folder).load()["folded"].sample_count == 3 * 300 + 100
    survivor.close(save=False)
