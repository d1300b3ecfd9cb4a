"""Real processes: multiprocessing workers (fork and spawn) deliver every sample to a
shared store without calling close(), and fork() while other threads record and read
never leaves a child deadlocked on a lock a parent thread held."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfguard import PerformanceTracker, ShardStore

CALLS_PER_TASK = 500
TASKS = 8
_worker_tracker: PerformanceTracker | None = None  # the tracker a worker records into


def _tracker_in_worker(folder: str) -> None:
    """Pool initializer for spawn: each worker builds its own tracker, as a user's
    worker module would at import."""
    global _worker_tracker
    _worker_tracker = PerformanceTracker(storage=ShardStore(folder), autosave_interval=60.0)


def _task(index: int) -> int:
    tracker = _worker_tracker
    assert tracker is not None
    for call in range(CALLS_PER_TASK):
        tracker.record("work", 0.001 * (1 + (index + call) % 7))
    return os.getpid()


@pytest.mark.skipif(sys.platform != "linux", reason="fork and spawn both exist on Linux")
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pool_workers_deliver_every_sample_without_close(tmp_path: Path, method: str) -> None:
    global _worker_tracker
    folder = tmp_path / "store"
    context = multiprocessing.get_context(method)
    parent: PerformanceTracker | None = None
    if method == "fork":
        # built in the parent, before the pool: every forked worker inherits it
        parent = _worker_tracker = PerformanceTracker(
            storage=ShardStore(folder), autosave_interval=60.0
        )
        pool = context.Pool(2)
    else:
        pool = context.Pool(2, initializer=_tracker_in_worker, initargs=(str(folder),))
    try:
        workers = set(pool.map(_task, range(TASKS)))
    finally:
        pool.close()  # workers finish and exit on their own: nobody calls close() there
        pool.join()
    _worker_tracker = None
    assert os.getpid() not in workers and len(workers) >= 1
    if parent is not None:
        parent.close()  # the parent recorded nothing: it must not add or resend anything
    ShardStore(folder).combine()
    stored = ShardStore(folder).load()
    assert stored["work"].sample_count == TASKS * CALLS_PER_TASK


def _child_reads_and_records(tracker: PerformanceTracker) -> None:
    """In a forked child: every lock the tracker takes must be free."""
    signal.alarm(30)  # a deadlocked child is killed by SIGALRM instead of hanging
    tracker.stats("op")
    tracker.record("op", 0.002)
    tracker.record("op", 0.9, success=False, metadata={"in": "child"})
    tracker.state("op")
    tracker.snapshot_baselines()
    timer = tracker.start("op")
    tracker.end(timer)
    tracker.close(save=False)


@pytest.fixture
def quiet_perfguard_logger() -> Iterator[None]:
    """No log I/O: a stream a parent thread was writing to when it forked stays locked
    in the child (CPython renews logging's handler locks at fork, not the stream's
    buffer lock), which is a hazard of fork with threads, not one of perfguard's locks."""
    logger = logging.getLogger("perfguard")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
@pytest.mark.parametrize("storage", ["memory", "json", "shards"])
@pytest.mark.usefixtures("quiet_perfguard_logger")
def test_fork_while_threads_record_and_read_never_deadlocks(tmp_path: Path, storage: str) -> None:
    store: object = {
        "memory": None,
        "json": tmp_path / "baselines.json",
        "shards": ShardStore(tmp_path / "store"),
    }[storage]
    tracker = PerformanceTracker(storage=store, autosave_interval=0.001)  # type: ignore[arg-type]
    stop = threading.Event()

    def record() -> None:
        while not stop.is_set():
            for _ in range(100):
                tracker.record("op", 0.001)
            tracker.record("op", 0.5, success=False)  # the locked path

    def read() -> None:
        while not stop.is_set():
            tracker.stats("op")
            tracker.snapshot_baselines()

    threads = [threading.Thread(target=f) for f in (record, record, read)]
    for thread in threads:
        thread.start()
    tracker.record("op", 0.001)
    statuses = []
    try:
        for _ in range(25):
            pid = os.fork()
            if pid == 0:  # the child
                code = 1
                try:
                    _child_reads_and_records(tracker)
                    code = 0
                finally:
                    os._exit(code)
            statuses.append(os.waitpid(pid, 0)[1])
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        tracker.close(save=False)
    assert [os.waitstatus_to_exitcode(s) for s in statuses] == [0] * 25
