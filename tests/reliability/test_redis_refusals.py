"""Issue 11, item 7: a Redis that refuses writes for now (out of memory under
`noeviction`, a replica that is read-only after a failover, a server still loading) keeps
the flush queued and retried; only a refusal that can never succeed drops calls, and
those are counted in `tracker.dropped`. Against a real redis-server."""

from __future__ import annotations

import logging
import random

import pytest
import redis

from perfguard import PerformanceTracker, RedisStore, StorageError
from tests.conftest import RedisServer


def record(tracker: PerformanceTracker, seed: int, count: int) -> None:
    rng = random.Random(seed)
    for _ in range(count):
        tracker.record("checkout", rng.lognormvariate(-3.0, 0.3))


def stored_calls(url: str) -> int:
    baseline = RedisStore(url).load().get("checkout")
    return 0 if baseline is None else baseline.sample_count


def test_out_of_memory_keeps_the_flush_until_memory_is_back(redis_server: RedisServer) -> None:
    admin = redis.Redis.from_url(redis_server.url)
    tracker = PerformanceTracker(storage=redis_server.url, autosave_interval=None)
    record(tracker, 1, 300)
    tracker.save()
    used = int(admin.info("memory")["used_memory"])
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", str(used // 2))  # every write refused: OOM
    record(tracker, 2, 1000)
    with pytest.raises(StorageError, match="refused"):
        tracker.save()
    with pytest.raises(StorageError):
        tracker.save()  # still refused: still kept
    assert stored_calls(redis_server.url) == 300
    assert tracker.dropped == 0
    admin.config_set("maxmemory", "0")
    tracker.save()
    assert stored_calls(redis_server.url) == 1300
    assert tracker.dropped == 0
    tracker.close(save=False)


def test_a_read_only_replica_keeps_the_flush_until_it_is_a_master_again(
    redis_server: RedisServer,
) -> None:
    admin = redis.Redis.from_url(redis_server.url)
    tracker = PerformanceTracker(storage=redis_server.url, autosave_interval=None)
    record(tracker, 3, 200)
    tracker.save()
    # a failover demoted this node: it follows a master that is not there, read-only
    admin.execute_command("REPLICAOF", "127.0.0.1", "1")
    record(tracker, 4, 500)
    with pytest.raises(StorageError):
        tracker.save()
    admin.execute_command("REPLICAOF", "NO", "ONE")
    tracker.save()
    assert stored_calls(redis_server.url) == 700
    assert tracker.dropped == 0
    tracker.close(save=False)


def test_a_refusal_that_cannot_pass_is_dropped_counted_and_logged(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The operation's sketch key holds a string (another program's key): WRONGTYPE
    never passes, so those calls are dropped, counted, logged; other operations flow."""
    admin = redis.Redis.from_url(redis_server.url)
    admin.set("{perfguard:checkout}:sketch", "not a hash")
    tracker = PerformanceTracker(storage=redis_server.url, autosave_interval=None)
    record(tracker, 5, 40)
    tracker.record("search", 0.01)
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        tracker.save()
    assert tracker.dropped == 40
    assert RedisStore(redis_server.url).load()["search"].sample_count == 1
    assert any("dropped" in r.getMessage() for r in caplog.records)
    tracker.close(save=False)


def test_the_dropped_figure_starts_at_zero_in_a_forked_child(redis_server: RedisServer) -> None:
    import multiprocessing

    admin = redis.Redis.from_url(redis_server.url)
    admin.set("{perfguard:checkout}:sketch", "not a hash")
    tracker = PerformanceTracker(storage=redis_server.url, autosave_interval=None)
    record(tracker, 6, 10)
    tracker.save()
    assert tracker.dropped == 10
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=lambda: queue.put(tracker.dropped))
    child.start()
    child.join(30)
    assert queue.get(timeout=30) == 0
    tracker.close(save=False)
