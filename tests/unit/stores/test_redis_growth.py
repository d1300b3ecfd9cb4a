"""Issue 11, item 15: a fleet's Redis data stays bounded and its reads do not scan the
keyspace. The per-operation `applied` hashes lose identities silent for a week; load()
reads the prefix's index of operations, and scans only a fleet written before it."""

from __future__ import annotations

import time

import redis

from perfguard import RedisStore
from perfguard._sketch import LogSketch, SketchDelta
from perfguard._stores.redis_layout import APPLIED_RETENTION_SECONDS, index_key
from tests.conftest import RedisServer


def delta(count: int) -> dict[str, SketchDelta]:
    sketch = LogSketch(6)
    sketch.add_many([0.01 + 0.001 * i for i in range(count)])
    return {"checkout": SketchDelta(sketch)}


def scans(admin: redis.Redis) -> int:
    stats = admin.info("commandstats")
    return int(stats.get("cmdstat_scan", {}).get("calls", 0))


def test_identities_silent_for_a_week_are_pruned_from_the_applied_hash(
    redis_server: RedisServer,
) -> None:
    admin = redis.Redis.from_url(redis_server.url, decode_responses=True)
    applied, applied_at = "{perfguard:checkout}:applied", "{perfguard:checkout}:applied_at"
    now = time.time()  # the store stamps flushes with the wall clock; stored, not timed
    for index in range(40):  # processes of past deploys, last seen 8 days ago
        admin.hset(applied, f"old-{index}", 3)
        admin.hset(applied_at, f"old-{index}", repr(now - APPLIED_RETENTION_SECONDS - 86400))
    for index in range(5):  # live processes, seen an hour ago
        admin.hset(applied, f"live-{index}", 7)
        admin.hset(applied_at, f"live-{index}", repr(now - 3600))
    admin.hset(applied, "written-before-times", 2)  # no applied_at: stamped, kept
    store = RedisStore(redis_server.url)
    store.save_deltas(delta(10))
    kept = set(admin.hkeys(applied))
    assert kept == {f"live-{i}" for i in range(5)} | {"written-before-times", store.identity}
    assert admin.hget(applied_at, "written-before-times") is not None
    assert store.load()["checkout"].sample_count == 10


def test_load_reads_the_index_and_never_scans_the_keyspace(redis_server: RedisServer) -> None:
    admin = redis.Redis.from_url(redis_server.url, decode_responses=True)
    pipeline = admin.pipeline(transaction=False)
    for index in range(20_000):  # another application's keys in the same database
        pipeline.set(f"session:{index}", "x")
    pipeline.execute()
    writer = RedisStore(redis_server.url)
    writer.save_deltas(delta(20))
    writer.save_deltas({"search": delta(5)["checkout"]})
    admin.config_resetstat()
    for _ in range(5):
        reader = RedisStore(redis_server.url)
        assert sorted(reader.load()) == ["checkout", "search"]
        reader.load()
    assert scans(admin) == 0


def test_a_fleet_written_before_the_index_is_scanned_once_and_indexed(
    redis_server: RedisServer,
) -> None:
    admin = redis.Redis.from_url(redis_server.url, decode_responses=True)
    RedisStore(redis_server.url).save_deltas(delta(12))
    admin.delete(index_key("perfguard"))  # as an earlier perfguard left it
    admin.config_resetstat()
    first = RedisStore(redis_server.url)
    assert first.load()["checkout"].sample_count == 12
    assert scans(admin) >= 1
    assert admin.smembers(index_key("perfguard")) == {"checkout"}
    admin.config_resetstat()
    assert RedisStore(redis_server.url).load()["checkout"].sample_count == 12
    assert scans(admin) == 0
