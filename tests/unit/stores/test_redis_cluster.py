"""The fleet store on a real 3-master Redis Cluster started on loopback: a URL naming any
node works as it is, calls of operations spread over every master all land, a replay is
applied once, a node restart during flushes loses nothing, and a store that did not know
it was talking to a cluster switches over on the first MOVED reply without dropping."""

from __future__ import annotations

import threading

import pytest

from perfguard import PerformanceTracker, StorageError
from perfguard._sketch import LogSketch, SketchDelta

pytest.importorskip("redis")

from perfguard import RedisStore
from tests.redis_cluster import RedisCluster

OPERATIONS = 60


def _delta(calls: int) -> SketchDelta:
    sketch = LogSketch(6)
    sketch.add_many([0.001 * (1 + i % 9) for i in range(calls)])
    return SketchDelta(sketch, 0, 1000.0)


def test_a_url_of_any_node_works_and_every_call_lands(redis_cluster: RedisCluster) -> None:
    tracker = PerformanceTracker(storage=redis_cluster.url(1), autosave_interval=None)
    assert isinstance(tracker.store, RedisStore) and tracker.store.cluster
    for index in range(OPERATIONS):
        for call in range(40):
            tracker.record(f"op-{index}", 0.001 * (1 + call % 5))
    tracker.close()
    stored = RedisStore(redis_cluster.url(2)).load()
    assert {name: b.sample_count for name, b in stored.items()} == {
        f"op-{i}": 40 for i in range(OPERATIONS)
    }
    assert all(count > 0 for count in redis_cluster.keys_per_node())  # every master holds some


def test_a_replayed_flush_is_applied_once(redis_cluster: RedisCluster) -> None:
    store = RedisStore(redis_cluster.url(0))
    deltas = {f"op-{i}": _delta(10) for i in range(OPERATIONS)}
    assert store.apply_flush("host-1-1-a", 1, deltas) == OPERATIONS
    assert store.apply_flush("host-1-1-a", 1, deltas) == 0
    assert all(b.sample_count == 10 for b in RedisStore(redis_cluster.url(1)).load().values())


def test_a_node_restart_during_flushes_loses_nothing(redis_cluster: RedisCluster) -> None:
    store = RedisStore(redis_cluster.url(0), timeout=0.5)
    sent = 0
    for _ in range(3):
        store.save_deltas({f"op-{i}": _delta(5) for i in range(OPERATIONS)})
        sent += 5
    stopped = redis_cluster.ports[2]
    redis_cluster.stop_node(stopped)
    with pytest.raises(StorageError):
        store.save_deltas({f"op-{i}": _delta(5) for i in range(OPERATIONS)})
    sent += 5  # kept by the store, to be replayed
    redis_cluster.start_node(stopped)
    redis_cluster.wait_until_ok()
    pause = threading.Event()
    for _ in range(100):  # readiness: the client may hold a dead connection once or twice
        try:
            store.save_deltas({f"op-{i}": _delta(5) for i in range(OPERATIONS)})
            break
        except StorageError:
            pause.wait(0.1)
    else:
        raise AssertionError("the cluster never took the flush after the node came back")
    sent += 5
    assert store.dropped == {}
    stored = RedisStore(redis_cluster.url(1)).load()
    assert {b.sample_count for b in stored.values()} == {sent}
    assert len(stored) == OPERATIONS


def test_a_store_that_missed_the_cluster_switches_on_moved(redis_cluster: RedisCluster) -> None:
    store = RedisStore(redis_cluster.url(0), cluster=False)  # as if the node was down at start
    deltas = {f"op-{i}": _delta(7) for i in range(OPERATIONS)}
    with pytest.raises(StorageError):
        store.save_deltas(deltas)  # MOVED for the slots of the other masters
    assert store.cluster
    store.save_deltas({})  # replays the kept flush, now through the cluster
    assert store.dropped == {}
    stored = RedisStore(redis_cluster.url(2)).load()
    assert {b.sample_count for b in stored.values()} == {7} and len(stored) == OPERATIONS
