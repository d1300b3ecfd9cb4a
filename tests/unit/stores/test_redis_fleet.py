"""A fleet sharing baselines through a real redis-server (started by the fixture)."""

from __future__ import annotations

import logging
import math
import random
import threading

import pytest

from perfguard import PerformanceTracker, RedisStore, StorageError
from perfguard._sketch import LogSketch, SketchDelta
from tests.conftest import RedisServer


def values(seed: int, count: int, median: float = 0.05) -> list[float]:
    rng = random.Random(seed)
    return [rng.lognormvariate(math.log(median), 0.4) for _ in range(count)]


def host(url: str, seed: int, count: int, name: str = "checkout") -> list[float]:
    recorded = values(seed, count)
    tracker = PerformanceTracker(storage=url, autosave_interval=None)
    for value in recorded:
        tracker.record(name, value)
    tracker.close()  # the last flush
    return recorded


def test_two_hosts_share_one_baseline(redis_server: RedisServer) -> None:
    from perfguard import RedisStore

    first = host(redis_server.url, 1, 800)
    second = host(redis_server.url, 2, 600)
    reader = PerformanceTracker(storage=redis_server.url, autosave_interval=None)
    baseline = reader.baseline("checkout")
    assert baseline is not None
    assert baseline.sample_count == 1400
    union = sorted(first + second)
    truth = union[math.floor(0.95 * (len(union) - 1))]
    assert abs(baseline.p95 - truth) <= 0.0055 * truth
    assert baseline.mean == pytest.approx(sum(union) / len(union))
    assert isinstance(reader.store, RedisStore)
    reader.close(save=False)
    reader.close()


def test_a_replayed_flush_is_applied_once(redis_server: RedisServer) -> None:
    from perfguard import RedisStore

    store = RedisStore(redis_server.url)
    sketch = LogSketch()
    sketch.add_many(values(3, 100))
    flush = {"op": SketchDelta(sketch, failures=2)}
    assert store.apply_flush("host-a", 1, flush) == 1
    assert store.apply_flush("host-a", 1, flush) == 0  # the same flush again
    assert store.apply_flush("host-b", 1, flush) == 1  # another process's flush
    baseline = store.load()["op"]
    assert baseline.sample_count == 200
    assert baseline.error_rate == pytest.approx(4 / 204)


def test_fifty_concurrent_flushers_give_exact_totals(redis_server: RedisServer) -> None:
    from perfguard import RedisStore

    def flusher(seed: int) -> None:
        store = RedisStore(redis_server.url)
        for _ in range(5):
            sketch = LogSketch()
            sketch.add_many(values(seed, 40))
            store.save_deltas({"shared": SketchDelta(sketch, failures=1)})

    threads = [threading.Thread(target=flusher, args=(seed,)) for seed in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    baseline = RedisStore(redis_server.url).load()["shared"]
    assert baseline.sample_count == 50 * 5 * 40
    assert baseline.error_rate == pytest.approx(250 / (10_000 + 250))


def test_redis_down_then_back_loses_nothing(redis_server: RedisServer) -> None:
    tracker = PerformanceTracker(storage=redis_server.url, autosave_interval=None)
    for value in values(4, 300):
        tracker.record("op", value)
    tracker.save()
    redis_server.stop()
    for value in values(5, 500):  # recording goes on while the fleet is unreachable
        tracker.record("op", value)
    with pytest.raises(StorageError):
        tracker.save()
    with pytest.raises(StorageError):
        tracker.save()  # failing again keeps the samples too
    assert tracker.stats("op")["sample_count"] == 800
    redis_server.start()  # the same server back, with its append-only file
    tracker.save()
    from perfguard import RedisStore

    assert RedisStore(redis_server.url).load()["op"].sample_count == 800  # the truth
    tracker.close(save=False)
    tracker.close()


def test_hostile_names_are_escaped_in_keys(redis_server: RedisServer) -> None:
    import redis

    from perfguard._stores.redis_fleet import escape_name, unescape_name

    names = ["a:b{c}d", "../x", "nul\x00", "lone \ud800", "🐢"]
    for name in names:
        assert unescape_name(escape_name(name)) == name
        host(redis_server.url, 6, 20, name=name)
    keys = redis.Redis.from_url(redis_server.url, decode_responses=True).keys("*")
    assert all(k.isascii() and "\x00" not in k for k in keys)
    assert all(k.count("{") == 1 and k.count("}") == 1 for k in keys)  # one hash tag
    reader = PerformanceTracker(storage=redis_server.url, autosave_interval=None)
    assert sorted(reader.operations()) == sorted(names)
    reader.close(save=False)
    reader.close()


def test_a_running_process_reads_the_fleet_baseline_back(redis_server: RedisServer) -> None:
    local = PerformanceTracker(storage=redis_server.url, autosave_interval=None)
    for value in values(7, 50):
        local.record("search", value)
    local.save()
    young = local.baseline("search")
    assert young is not None and young.sample_count <= 50  # learned locally
    host(redis_server.url, 8, 2000, name="search")  # the rest of the fleet
    assert local.refresh_baselines() == 1
    shared = local.baseline("search")
    assert shared is not None and shared.sample_count == 2050
    assert local.state("search") == "ok"
    local.close(save=False)
    local.close()


def test_recording_never_waits_on_redis(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While Redis is down, record() goes on without a single network call: flushes only
    happen in save() (the background saver and close)."""
    import socket

    tracker = PerformanceTracker(storage=redis_server.url, autosave_interval=None)
    redis_server.stop()
    connects: list[object] = []
    real_connect = socket.socket.connect

    def counting_connect(self: socket.socket, address: object) -> None:
        connects.append(address)
        real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", counting_connect)
    for value in values(9, 20_000):
        tracker.record("op", value)
    assert tracker.stats("op")["sample_count"] == 20_000
    assert connects == []  # no network on the recording path
    with pytest.raises(StorageError):
        tracker.save()
    assert connects  # the flush did try
    tracker.close(save=False)
    tracker.close()


def test_a_flush_applied_in_part_is_never_counted_twice(redis_server: RedisServer) -> None:
    """'b' is kept by the fleet at a coarser scale: the first attempt applies 'a' and
    fails on 'b'; 'b' is downscaled and sent again in the same flush; 'a' is not."""
    from perfguard import RedisStore

    coarse = RedisStore(redis_server.url, scale=5)
    sketch = LogSketch(5)
    sketch.add_many(values(10, 30))
    coarse.save_deltas({"b": SketchDelta(sketch)})
    tracker = PerformanceTracker(storage=redis_server.url, autosave_interval=None)
    for value in values(11, 100):
        tracker.record("a", value)
        tracker.record("b", value)
    for _ in range(3):
        tracker.save()
    fleet = RedisStore(redis_server.url).load()
    assert fleet["a"].sample_count == 100
    assert fleet["b"].sample_count == 130
    tracker.close(save=False)
    tracker.close()


def test_a_lost_reply_is_retried_under_the_same_flush(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server ran the flush but the reply was lost: the retry is a replay."""
    from perfguard import RedisStore

    store = RedisStore(redis_server.url)
    real = store.apply_flush
    calls = {"n": 0}

    def lose_first_reply(identity: str, sequence: int, deltas: object) -> int:
        result = real(identity, sequence, deltas)  # type: ignore[arg-type]
        calls["n"] += 1
        if calls["n"] == 1:
            raise StorageError(redis_server.url, "reply lost")
        return result

    monkeypatch.setattr(store, "apply_flush", lose_first_reply)
    sketch = LogSketch()
    sketch.add_many(values(12, 40))
    with pytest.raises(StorageError):
        store.save_deltas({"op": SketchDelta(sketch)})
    extra = LogSketch()
    extra.add_many(values(13, 10))
    store.save_deltas({"op": SketchDelta(extra)})  # retries the lost flush, then the new one
    assert RedisStore(redis_server.url).load()["op"].sample_count == 50


def test_another_prefix_is_not_read(redis_server: RedisServer) -> None:
    from perfguard import RedisStore

    for prefix, name in (("perfguard", "a"), ("perfguard:staging", "checkout")):
        sketch = LogSketch()
        sketch.add_many(values(14, 5))
        RedisStore(redis_server.url, prefix=prefix).save_deltas({name: SketchDelta(sketch)})
    assert sorted(RedisStore(redis_server.url).load()) == ["a"]
    staging = RedisStore(redis_server.url, prefix="perfguard:staging").load()
    assert sorted(staging) == ["checkout"]


def test_an_operation_the_fleet_refuses_does_not_hold_back_the_others(
    redis_server: RedisServer,
) -> None:
    """The fleet keeps 'x' at a finer scale than this process sends: 'x' is dropped and
    counted, 'y' keeps flowing."""
    from perfguard import RedisStore

    fine = LogSketch(8)
    fine.add_many(values(15, 10))
    RedisStore(redis_server.url, scale=8).save_deltas({"x": SketchDelta(fine)})
    store = RedisStore(redis_server.url, scale=6)
    for seed in range(3):
        x, y = LogSketch(6), LogSketch(6)
        x.add_many(values(16 + seed, 5))
        y.add_many(values(20 + seed, 10))
        store.save_deltas({"x": SketchDelta(x), "y": SketchDelta(y)})
    fleet = RedisStore(redis_server.url).load()
    assert fleet["y"].sample_count == 30
    assert fleet["x"].sample_count == 10
    assert store.dropped == {"x": 15}


def test_a_damaged_fleet_entry_is_skipped_with_a_warning(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 11, item 2: one malformed hash under the prefix (here: no `scale` field)
    must not make every constructor raise."""
    import redis as redis_client

    store = RedisStore(redis_server.url)
    sketch = LogSketch(6)
    sketch.add_many([0.01] * 20)
    store.save_deltas({"good": SketchDelta(sketch, 0, 1.0), "bad": SketchDelta(sketch, 0, 1.0)})
    client = redis_client.Redis.from_url(redis_server.url)
    client.hdel("{perfguard:bad}:sketch", "scale")
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        tracker = PerformanceTracker(storage=redis_server.url, autosave_interval=None)
    assert tracker.operations() == ["good"]
    assert any("damaged entry" in r.getMessage() for r in caplog.records)
    tracker.close(save=False)
