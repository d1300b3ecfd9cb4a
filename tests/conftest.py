"""Shared fixtures: a fake clock and tracker factories that never touch real time."""

from __future__ import annotations

import importlib.util
import logging
import os
import random
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from perfguard import PerformanceTracker
from perfguard._baseline import Baseline
from perfguard.testing import FakeClock

pytest_plugins = ["pytester"]  # for the pytest plugin's own tests


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_tracker(clock: FakeClock) -> Iterator[Callable[..., PerformanceTracker]]:
    created: list[PerformanceTracker] = []

    def factory(**kwargs: object) -> PerformanceTracker:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("autosave_interval", None)
        tracker = PerformanceTracker(**kwargs)  # type: ignore[arg-type]
        created.append(tracker)
        return tracker

    yield factory
    for tracker in created:
        tracker.close()


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20261127)


@pytest.fixture(autouse=True)
def _perfguard_logs_propagate() -> Iterator[None]:
    logger = logging.getLogger("perfguard")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    yield
    logger.setLevel(level)


def lognormal_stream(
    rng: random.Random, count: int, median: float = 0.05, sigma: float = 0.4
) -> list[float]:
    return [rng.lognormvariate(0.0, sigma) * median for _ in range(count)]


class RedisServer:
    """A throwaway redis-server on a loopback port, for the fleet tests."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2)
        ready = threading.Event()
        for _ in range(200):  # readiness, not timing: up to ~10 s for the server to listen
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                ready.wait(0.05)
        else:
            raise RuntimeError("redis-server did not start")
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None or importlib.util.find_spec("redis") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the Redis tests: redis-server or the redis package is missing")
        pytest.skip("redis-server or the redis package is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = RedisServer(tmp_path, port)
    server.start()
    yield server
    server.stop()


def fixed_baseline(sample_count: int) -> Baseline:
    """A valid baseline whose only distinguishing figure is its sample count."""
    return Baseline(
        p50=0.01,
        p75=0.02,
        p95=0.03,
        p99=0.04,
        mean=0.015,
        std=0.005,
        sample_count=sample_count,
        error_rate=0.0,
        log_scale=0.4,
        established_at=1.0,
        updated_at=1.0,
        last_seen_at=1.0,
    )


@pytest.fixture
def redis_cluster(tmp_path: Path) -> Iterator[object]:
    """A real 3-master Redis Cluster on loopback, always stopped."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the Redis Cluster tests: redis-server is missing")
        pytest.skip("redis-server or redis-cli is not installed")
    pytest.importorskip("redis")
    from tests.redis_cluster import RedisCluster, free_ports

    cluster = RedisCluster(tmp_path / "cluster", free_ports(3))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
