"""perfguard.celery on Celery's own signals, in this process (tasks applied eagerly, so
the same prerun/postrun signals a worker sends), with a fake clock: names, durations,
failures, retries, the app filter, and that nothing perfguard does reaches a task."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("celery")

from celery import Celery, signals

import perfguard.celery
from perfguard import ConfigurationError, PerformanceTracker
from perfguard.testing import FakeClock


@pytest.fixture
def app() -> Celery:
    return Celery("perfguard_unit", broker="memory://", backend="cache+memory://")


@pytest.fixture
def instrumented(
    make_tracker: Callable[..., PerformanceTracker], app: Celery
) -> Iterator[tuple[PerformanceTracker, perfguard.celery.CeleryInstrumentation]]:
    tracker = make_tracker(min_samples=2)
    hooks = perfguard.celery.instrument(tracker, app=app)
    yield tracker, hooks
    hooks.uninstrument()


def test_each_task_is_timed_under_its_name_with_the_trackers_clock(
    app: Celery, instrumented: Any, clock: FakeClock
) -> None:
    tracker, _ = instrumented

    @app.task(name="billing.charge")
    def charge(amount: int) -> int:
        clock.advance(0.25)
        return amount

    for amount in range(5):
        assert charge.apply((amount,)).get() == amount
    stats = tracker.stats("billing.charge")
    assert stats["sample_count"] == 5 and stats["failure_count"] == 0
    assert stats["recent_min"] == stats["recent_max"] == pytest.approx(0.25)


def test_a_failure_is_counted_with_its_exception_type(
    app: Celery, instrumented: Any, clock: FakeClock
) -> None:
    tracker, _ = instrumented

    @app.task(name="reports.build")
    def build(n: int) -> float:
        clock.advance(0.01)
        return 1 / n

    outcomes = [build.apply((n,)) for n in (1, 0, 2, 0, 3)]
    assert [o.state for o in outcomes].count("FAILURE") == 2
    stats = tracker.stats("reports.build")
    assert stats["sample_count"] == 5 and stats["failure_count"] == 2
    errors = [e["metadata"] for e in stats["recent_errors"]]
    assert errors == [{"error": "ZeroDivisionError"}] * 2


def test_a_retry_is_a_failed_call_of_its_own_operation_never_a_success(
    app: Celery, instrumented: Any, clock: FakeClock
) -> None:
    tracker, _ = instrumented

    @app.task(name="mail.send", bind=True, max_retries=5)
    def send(self: Any) -> str:
        clock.advance(0.1)
        if self.request.retries < 2:
            raise self.retry(countdown=0)
        return "sent"

    assert send.apply().get() == "sent"
    assert tracker.stats("mail.send")["sample_count"] == 1
    assert tracker.stats("mail.send")["failure_count"] == 0
    retries = tracker.stats("mail.send retry")
    assert retries["sample_count"] == 2 and retries["failure_count"] == 2


def test_only_the_given_apps_tasks_are_timed(app: Celery, instrumented: Any) -> None:
    tracker, _ = instrumented
    other = Celery("perfguard_other", broker="memory://", backend="cache+memory://")

    @other.task(name="other.job")
    def job() -> int:
        return 1

    assert job.apply().get() == 1
    assert "other.job" not in tracker.operations()


def test_a_postrun_without_its_prerun_is_skipped_and_counted(
    app: Celery, instrumented: Any
) -> None:
    tracker, hooks = instrumented

    @app.task(name="late.task")
    def late() -> None: ...

    signals.task_postrun.send(sender=late, task_id="never-started", task=late, state="SUCCESS")
    signals.task_postrun.send(sender=None, task_id=None, task=None)  # nothing at all
    assert hooks.unmatched == 1
    assert "late.task" not in tracker.operations()


def test_a_broken_name_callable_never_reaches_the_task(
    make_tracker: Callable[..., PerformanceTracker], app: Celery, caplog: Any
) -> None:
    tracker = make_tracker()

    def broken(task: Any) -> str:
        raise RuntimeError("name callable bug")

    hooks = perfguard.celery.instrument(tracker, app=app, name=broken)
    try:

        @app.task(name="safe.task")
        def safe() -> str:
            return "done"

        with caplog.at_level(logging.ERROR, logger="perfguard"):
            assert safe.apply().get() == "done"
            assert safe.apply().get() == "done"
        assert tracker.operations() == []
        assert sum("could not time a Celery task" in r.message for r in caplog.records) == 1
    finally:
        hooks.uninstrument()


def test_name_callable_and_uninstrument(
    make_tracker: Callable[..., PerformanceTracker], app: Celery
) -> None:
    tracker = make_tracker()
    hooks = perfguard.celery.instrument(tracker, app=app, name=lambda t: f"celery {t.name}")

    @app.task(name="named.task")
    def named() -> int:
        return 3

    named.apply().get()
    hooks.uninstrument()
    named.apply().get()
    assert tracker.operations() == ["celery named.task"]
    assert tracker.stats("celery named.task")["sample_count"] == 1


def test_the_receivers_survive_garbage_collection(
    make_tracker: Callable[..., PerformanceTracker], app: Celery
) -> None:
    import gc

    tracker = make_tracker()
    perfguard.celery.instrument(tracker, app=app)  # the handle is dropped at once
    gc.collect()

    @app.task(name="kept.task")
    def kept() -> int:
        return 1

    kept.apply().get()
    assert tracker.stats("kept.task")["sample_count"] == 1
    for owner in _instrumentations():
        owner.uninstrument()
    assert _instrumentations() == []


def _instrumentations() -> list[perfguard.celery.CeleryInstrumentation]:
    found = []
    for _, receiver in signals.task_prerun.receivers:
        owner = getattr(receiver, "__self__", None)
        if isinstance(owner, perfguard.celery.CeleryInstrumentation):
            found.append(owner)
    return found


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"tracker": "not a tracker"}, "tracker"),
        ({"app": object()}, "app"),
        ({"name": "tasks"}, "name"),
        ({"max_in_flight": 0}, "max_in_flight"),
    ],
)
def test_bad_arguments_are_configuration_errors(
    make_tracker: Callable[..., PerformanceTracker], kwargs: dict[str, Any], setting: str
) -> None:
    arguments: dict[str, Any] = {"tracker": make_tracker(), **kwargs}
    with pytest.raises(ConfigurationError) as raised:
        perfguard.celery.instrument(**arguments)
    assert raised.value.setting == setting
