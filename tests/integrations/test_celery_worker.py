"""A real Celery worker (prefork pool, two children) on a real Redis broker and result
backend, with the tracker on one JSON path: every task sent is counted once under its
name, failures as failures, the retry under "<task> retry", and after a graceful stop
(SIGTERM) the shared file holds the calls of both children."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("celery")
pytest.importorskip("redis")

from celery import Celery

from perfguard import JsonFileStore

ROOT = Path(__file__).resolve().parents[2]
ADDS = 30
DIVIDES = 20  # every fourth divides by zero
FAILURES = DIVIDES // 4


def _client(broker: str, backend: str) -> Celery:
    """The sending side: the same task names, no tracker."""
    return Celery("perfguard_test_client", broker=broker, backend=backend)


def _send_all(client: Celery) -> list[Any]:
    results = [client.send_task("tests.add", (i, i)) for i in range(ADDS)]
    results += [client.send_task("tests.divide", (i, i % 4)) for i in range(DIVIDES)]
    results.append(client.send_task("tests.flaky", (7,)))
    return results


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)  # Celery's warm shutdown
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


@pytest.mark.skipif(sys.platform != "linux", reason="the prefork pool needs fork()")
def test_prefork_worker_counts_every_task_in_the_shared_file(
    tmp_path: Path, redis_server: Any
) -> None:
    path = tmp_path / "baselines.json"
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    broker = redis_server.url
    backend = redis_server.url.removesuffix("/0") + "/1"
    env = {
        **os.environ,
        "PERFGUARD_TEST_STORAGE": str(path),
        "PERFGUARD_TEST_DUMP": str(dumps),
        "PERFGUARD_TEST_BROKER": broker,
        "PERFGUARD_TEST_BACKEND": backend,
        "PYTHONPATH": str(ROOT),
    }
    command = [
        sys.executable, "-m", "celery", "-A", "tests.integrations.celery_app", "worker",
        "--pool", "prefork", "--concurrency", "2", "--loglevel", "INFO",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--hostname", f"perfguard-test-{os.getpid()}@localhost",
    ]  # fmt: skip
    log = tmp_path / "worker.log"
    client = _client(broker, backend)
    with log.open("wb") as output:
        worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)
        try:
            results = _send_all(client)
            outcomes = [r.get(timeout=60, propagate=False) for r in results]
            states = [r.state for r in results]
        finally:
            _stop(worker)
            client.close()
    worker_log = log.read_text(errors="replace")[-3000:]
    assert worker.returncode == 0, worker_log
    assert outcomes[:ADDS] == [2 * i for i in range(ADDS)]
    assert states.count("FAILURE") == FAILURES and outcomes[-1] == 7, worker_log

    # what each child counted (written when it exited), and that both children worked
    children = [json.loads(p.read_text(encoding="utf-8")) for p in dumps.glob("*.json")]
    assert len(children) == 2, worker_log

    def total(name: str, field: str) -> int:
        return sum(child.get(name, {}).get(field, 0) for child in children)

    assert total("tests.add", "calls") == ADDS and total("tests.add", "failures") == 0
    assert total("tests.divide", "calls") == DIVIDES
    assert total("tests.divide", "failures") == FAILURES
    assert total("tests.flaky", "calls") == 1 and total("tests.flaky", "failures") == 0
    assert total("tests.flaky retry", "calls") == 1
    assert total("tests.flaky retry", "failures") == 1  # a retry is never a success

    # the shared file: each child saved its own part at its exit, merged under the lock.
    # A child's part of an operation is stored once it has a baseline (min_samples=2
    # successful calls in that child), so the expectation is computed per child.
    def stored_expected(name: str) -> int:
        return sum(
            child[name]["calls"]
            for child in children
            if name in child and child[name]["calls"] - child[name]["failures"] >= 2
        )

    calls = JsonFileStore(path).calls()
    assert calls.get("tests.add") == stored_expected("tests.add") == ADDS
    assert calls.get("tests.divide", 0) == stored_expected("tests.divide")
    assert calls["tests.divide"] >= DIVIDES // 2  # at least one child's part is there
    assert "tests.flaky retry" not in calls  # failures only: no baseline to store
