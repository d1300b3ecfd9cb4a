"""Celery: one operation per task name, timed in the worker.

    import perfguard.celery
    perfguard.celery.instrument(tracker, app=app)     # in the module the worker imports

Each execution of a task is timed from Celery's `task_prerun` signal to its
`task_postrun` (the tracker's monotonic clock, `tracker.clock.perf`), in the process that
runs it, and recorded under the task's name (`tasks.add`; `name=` takes a callable
`task -> str` to choose another):

- state SUCCESS (and IGNORED: the task chose to skip or replace itself) is a success;
- state FAILURE (the task raised; `task_failure` was sent) or REJECTED is a failure, with
  the exception's type in the metadata;
- state RETRY (`task_retry` was sent: `self.retry()` or `autoretry_for`) is recorded under
  a separate operation, `"<task> retry"`, as a failed call. Why a separate operation:
  the task's own operation then describes what its callers get, one call per task that
  ended (its latency, its failure rate), and the retries are a figure of their own
  (`tracker.stats("tasks.add retry")["sample_count"]`, Prometheus' `perfguard_calls_total`)
  instead of hiding in the task's error rate; why a failure: the attempt did not do the
  work, so it must never count as a success. A task that retried twice and then
  succeeded is one success of `tasks.add` and two calls of `tasks.add retry`.

With `app=`, only that application's tasks are timed (signals are global in Celery).
Receivers are connected strongly (Celery holds them weakly by default, which would drop a
closure silently) and disconnected by `uninstrument()`. A postrun whose prerun was not
seen (instrumented mid-task) is skipped and counted in `unmatched`. Nothing perfguard
does raises into a task: an error while recording is logged once.

Prefork workers: create the tracker with `storage="baselines.json"` in the module the
worker imports; each pool child then records its own calls and saves them when it exits
(at Celery's `worker_process_shutdown`: pool children end with `os._exit`, so no exit hook
would run), merged with the other children's under the file's lock. Requires
`perfguard[celery]`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from celery import Celery, signals  # type: ignore[import-untyped]

from ._errors import ConfigurationError
from ._hostwide import publish_now
from ._tracker import PerformanceTracker

logger = logging.getLogger("perfguard")
RETRY_SUFFIX = " retry"
MAX_IN_FLIGHT = 100_000  # started tasks whose postrun is awaited, per process (a leak guard)
_OK_STATES = frozenset({"SUCCESS", "IGNORED"})


def task_name(task: Any) -> str:
    """The default name: the task's registered name (bounded by the tasks defined)."""
    name = getattr(task, "name", None)
    return name if isinstance(name, str) and name else "unnamed task"


class CeleryInstrumentation:
    """The signal receivers of one `instrument()` call; `uninstrument()` ends them."""

    def __init__(
        self,
        tracker: PerformanceTracker,
        app: Any,
        name: Callable[[Any], str],
        max_in_flight: int,
    ) -> None:
        self.tracker = tracker
        self.app = app
        self.name = name
        self.max_in_flight = max_in_flight
        self.unmatched = 0  # postruns without a prerun: not recorded
        self.dropped = 0  # starts forgotten at max_in_flight (their postrun never came)
        self._perf = tracker.clock.perf
        # task id -> starts: one, or several when an eager retry runs the next attempt
        # inside the first (under the same id); the innermost ends first
        self._started: dict[str, list[float]] = {}
        self._lock = threading.Lock()  # thread and gevent pools run tasks concurrently
        self._warned = False
        self._receivers: list[tuple[Any, Callable[..., None]]] = [
            (signals.task_prerun, self._on_prerun),
            (signals.task_postrun, self._on_postrun),
            (signals.worker_process_shutdown, self._on_process_shutdown),
            (signals.worker_shutdown, self._on_process_shutdown),
        ]
        for signal, receiver in self._receivers:
            signal.connect(receiver, weak=False, dispatch_uid=self._uid(receiver))

    def _uid(self, receiver: Callable[..., None]) -> str:
        return f"perfguard.celery.{id(self)}.{receiver.__name__}"

    def uninstrument(self) -> None:
        """Disconnects every receiver; tasks running now are not recorded."""
        for signal, receiver in self._receivers:
            signal.disconnect(receiver, dispatch_uid=self._uid(receiver))
        with self._lock:
            self._started.clear()

    def _ours(self, task: Any) -> bool:
        return self.app is None or getattr(task, "app", None) is self.app

    def _on_prerun(
        self, sender: Any = None, task_id: Any = None, task: Any = None, **_: Any
    ) -> None:
        try:
            if task_id is None or not self._ours(task if task is not None else sender):
                return
            start = self._perf()
            with self._lock:
                if len(self._started) >= self.max_in_flight:
                    self._started.pop(next(iter(self._started)))  # the oldest start
                    self.dropped += 1
                self._started.setdefault(str(task_id), []).append(start)
        except Exception:
            self._warn_once()

    def _on_postrun(
        self,
        sender: Any = None,
        task_id: Any = None,
        task: Any = None,
        state: Any = None,
        retval: Any = None,
        **_: Any,
    ) -> None:
        try:
            task = task if task is not None else sender
            if task_id is None or not self._ours(task):
                return
            with self._lock:
                starts = self._started.get(str(task_id))
                if not starts:
                    self.unmatched += 1
                    return
                start = starts.pop()
                if not starts:
                    del self._started[str(task_id)]
            self._record(task, max(0.0, self._perf() - start), state, retval)
        except Exception:
            self._warn_once()

    def _record(self, task: Any, duration: float, state: Any, retval: Any) -> None:
        name = self.name(task)
        if state in _OK_STATES:
            self.tracker.record(name, duration)
            return
        failed = isinstance(retval, BaseException)
        error = {"error": type(retval).__qualname__ if failed else str(state)}
        if state == "RETRY":
            self.tracker.record(name + RETRY_SUFFIX, duration, success=False, metadata=error)
        else:  # FAILURE, REJECTED, or a state this version does not know
            self.tracker.record(name, duration, success=False, metadata=error)

    def _on_process_shutdown(self, **_: Any) -> None:
        """A pool child (or the worker) is ending: save now, no exit hook will run."""
        try:
            self.tracker.save()
            publish_now(self.tracker)
        except Exception:
            logger.exception("perfguard could not save at the Celery worker's shutdown")

    def _warn_once(self) -> None:
        if not self._warned:
            self._warned = True
            logger.exception("perfguard could not time a Celery task (reported once)")


def instrument(
    tracker: PerformanceTracker,
    app: Any = None,
    *,
    name: Callable[[Any], str] | None = None,
    max_in_flight: int = MAX_IN_FLIGHT,
) -> CeleryInstrumentation:
    """Times every task the worker runs (only `app`'s, when given); see the module doc."""
    if not isinstance(tracker, PerformanceTracker):
        raise ConfigurationError("tracker", tracker, "a perfguard.PerformanceTracker")
    if app is not None and not isinstance(app, Celery):
        raise ConfigurationError("app", app, "a celery.Celery application or None")
    if name is not None and not callable(name):
        raise ConfigurationError("name", name, "a callable taking the task, or None")
    if type(max_in_flight) is not int or max_in_flight < 1:
        raise ConfigurationError("max_in_flight", max_in_flight, "an int >= 1")
    return CeleryInstrumentation(tracker, app, name or task_name, max_in_flight)


__all__ = ["RETRY_SUFFIX", "CeleryInstrumentation", "instrument", "task_name"]
