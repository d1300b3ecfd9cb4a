"""The Celery application the worker test starts (`celery -A tests.integrations.celery_app
worker`): a tracker on the JSON path the test names, instrumented as a user would.

Each pool child also writes what its tracker counted (calls and failures per operation)
to PERFGUARD_TEST_DUMP/<pid>.json when it exits, so the test can tell what every child
saw from what the shared file stored."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from celery import Celery, signals

import perfguard.celery
from perfguard import PerformanceTracker

app = Celery(
    "perfguard_test",
    broker=os.environ["PERFGUARD_TEST_BROKER"],
    backend=os.environ["PERFGUARD_TEST_BACKEND"],
)
app.conf.update(
    broker_connection_retry_on_startup=True,
    worker_prefetch_multiplier=1,
    task_default_retry_delay=0,
)
tracker = PerformanceTracker(storage=os.environ["PERFGUARD_TEST_STORAGE"], min_samples=2)
perfguard.celery.instrument(tracker, app=app)


@app.task(name="tests.add")
def add(x: int, y: int) -> int:
    return x + y


@app.task(name="tests.divide")
def divide(x: int, y: int) -> float:
    return x / y  # y == 0: a failure


@app.task(name="tests.flaky", bind=True, max_retries=3)
def flaky(self: Any, value: int) -> int:
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return value


@signals.worker_process_shutdown.connect(weak=False)
def _dump_counts(**_: Any) -> None:
    counts = {}
    for name in tracker.operations():
        stats = tracker.stats(name)
        counts[name] = {"calls": stats["sample_count"], "failures": stats["failure_count"]}
    folder = Path(os.environ["PERFGUARD_TEST_DUMP"])
    (folder / f"{os.getpid()}.json").write_text(json.dumps(counts), encoding="utf-8")
