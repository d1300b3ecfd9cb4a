"""Several real processes on one JSON path (the natural `storage="baselines.json"`):
nobody overwrites anybody, every call is counted, a worker that learned during an
incident does not set the shared baseline, forked pool workers deliver without close(),
and workers killed while saving never leave a file that fails to load."""

from __future__ import annotations

import math
import multiprocessing
import os
import random
import signal
import sys
from pathlib import Path

import pytest

from perfguard import JsonFileStore, PerformanceTracker

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="real processes, flock")

SHARED_CALLS = 3000
OWN_CALLS = 1500
HEALTHY_P50 = math.exp(-4.0)  # lognormal(-4, 0.3): p50 18.3 ms


def _worker(path: str, index: int, slow: bool) -> None:
    """One service process: its own tracker on the shared path, closed at the end as a
    worker's shutdown would (the pool test below covers exits without close())."""
    rng = random.Random(index)
    tracker = PerformanceTracker(storage=path, autosave_interval=0.05)
    factor = 3.0 if slow else 1.0  # this worker learns its baseline during an incident
    for _ in range(SHARED_CALLS):
        tracker.record("shared", factor * rng.lognormvariate(-4.0, 0.3))
    for _ in range(OWN_CALLS):
        tracker.record(f"own-{index}", rng.lognormvariate(-6.0, 0.3))
    tracker.close()


def test_processes_on_one_path_keep_every_operation_and_call(tmp_path: Path) -> None:
    path = tmp_path / "baselines.json"
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=_worker, args=(str(path), i, i == 3)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]

    store = JsonFileStore(path)
    baselines = store.load()
    assert set(baselines) == {"shared", "own-0", "own-1", "own-2", "own-3"}
    calls = store.calls()
    assert calls["shared"] == 4 * SHARED_CALLS
    assert all(calls[f"own-{i}"] == OWN_CALLS for i in range(4))
    # three healthy workers outvote the one that learned during a 3x slowdown
    assert 0.9 * HEALTHY_P50 < baselines["shared"].p50 < 1.1 * HEALTHY_P50
    # the processes exited: their contributions are folded when the next one saves
    later = PerformanceTracker(storage=path, autosave_interval=None)
    assert later.baseline("shared") == baselines["shared"]  # a latecomer reads the merge
    later.record("shared", 0.018)
    later.close()
    assert store.contributors() <= 2  # one folded part, the latecomer's own (exited now)
    assert store.calls()["shared"] == 4 * SHARED_CALLS + 1


_pool_tracker: PerformanceTracker | None = None
TASKS, CALLS_PER_TASK = 8, 500


def _pool_init(path: str) -> None:
    global _pool_tracker
    _pool_tracker = PerformanceTracker(storage=path, autosave_interval=60.0)


def _pool_task(index: int) -> int:
    assert _pool_tracker is not None
    for call in range(CALLS_PER_TASK):
        _pool_tracker.record("work", 0.001 * (1 + (index + call) % 7))
    return os.getpid()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pool_workers_deliver_every_call_to_the_path_without_close(
    tmp_path: Path, method: str
) -> None:
    global _pool_tracker
    path = tmp_path / "baselines.json"
    context = multiprocessing.get_context(method)
    parent: PerformanceTracker | None = None
    if method == "fork":
        parent = _pool_tracker = PerformanceTracker(storage=path, autosave_interval=60.0)
        pool = context.Pool(2)
    else:
        pool = context.Pool(2, initializer=_pool_init, initargs=(str(path),))
    try:
        workers = set(pool.map(_pool_task, range(TASKS)))
    finally:
        pool.close()
        pool.join()
    _pool_tracker = None
    assert os.getpid() not in workers
    if parent is not None:
        parent.close()  # recorded nothing itself: adds nothing
    assert JsonFileStore(path).calls()["work"] == TASKS * CALLS_PER_TASK


def _saver_loop(path: str, index: int) -> None:
    tracker = PerformanceTracker(storage=path, autosave_interval=None)
    rng = random.Random(index)
    while True:
        for _ in range(50):
            tracker.record(f"op-{index}", rng.lognormvariate(-5.0, 0.3))
        tracker.save()


def test_workers_killed_while_saving_never_break_the_file(tmp_path: Path) -> None:
    path = tmp_path / "baselines.json"
    spawn = multiprocessing.get_context("spawn")
    rng = random.Random(5)
    seen: set[str] = set()
    for round_ in range(6):
        workers = [spawn.Process(target=_saver_loop, args=(str(path), i)) for i in range(3)]
        for worker in workers:
            worker.start()
        # wait until each has saved at least once, then kill at a random moment
        deadline = 200
        while deadline and not all(f"op-{i}" in _stored(path) for i in range(3)):
            deadline -= 1
            workers[0].join(0.05)
        for worker in workers:
            worker.join(rng.uniform(0.0, 0.2))
            os.kill(worker.pid or 0, signal.SIGKILL)
            worker.join()
        stored = JsonFileStore(path).load()  # never set aside: no process wrote half a file
        assert not list(tmp_path.glob("*.corrupt*")), f"round {round_}"
        seen |= set(stored)
        assert {"op-0", "op-1", "op-2"} <= set(stored)
    assert seen == {"op-0", "op-1", "op-2"}


def _stored(path: Path) -> set[str]:
    try:
        return set(JsonFileStore(path).load())
    except OSError:
        return set()
