"""PerformanceTracker: the public face of perfguard, a facade that wires parts and
delegates (as coverage.py's `Coverage` hands `xml_report()` to `XmlReporter`):

- `OperationRegistry` (_registry.py): operations, their cap, absorbing;
- `Recorder` (_recorder.py): the hot path; `_timing.py`: decorator and timer shells;
- `TimerBook` (_timers.py): start()/end() ids;
- `Alerting` (_alerting.py): events, sinks, history, rate-limited slow-call warnings;
- a `Persistence` strategy (_persistence.py), chosen once from `storage=`, and the
  `AutoSaver` (_autosave.py) that runs it off the hot path;
- `_views.py` and `_reporting.py`: the figures people and exporters read.

The async API is a thin shell over this synchronous core.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from functools import partial
from types import TracebackType
from typing import Any, TypeVar, overload

from . import _hooks
from ._alerting import Alerting, SlowCallLimiter
from ._arguments import as_seconds, checked_metadata, checked_outcome
from ._autosave import AutoSaver
from ._baseline import Baseline
from ._clock import SystemClock
from ._config import ThresholdMode, TrackerConfig, resolve_config
from ._detect import DetectorSettings
from ._errors import (
    IncompatibleStorageError,
    InvalidDurationError,
    InvalidOperationNameError,
    StorageError,
    UnknownOperationError,
)
from ._events import DegradationEvent
from ._histogram import checked_bounds
from ._losses import LossFigures
from ._notifications import BaselineChange
from ._persistence import Persistence, persistence_for, retention_cutoff, snapshot_baselines
from ._recorder import Recorder
from ._registry import OperationRegistry
from ._reporting import Reporting
from ._stores import AnyStore
from ._timers import TimerBook
from ._timing import P, Timer, default_name, is_async_callable, wrap_async, wrap_sync
from ._views import OperationSnapshot, OperationStats, durations_of, snapshot_of, stats_of
from .types import AlertSink, Clock

R = TypeVar("R")
MAX_DURATION = 1e12  # seconds (31,000 years): beyond it a "duration" is a bug
logger = logging.getLogger("perfguard")


class PerformanceTracker(LossFigures, Reporting):
    """Times named operations, learns their baselines and reports degradation.

    storage: None (in memory), a path (JSON file; ".json.gz" compressed), a Redis URL,
        or a store. Baselines load at construction and are saved (debounced, in a
        background thread) when established or updated, and on close() or exit.
    Unknown operations: stats(), state() and baseline() raise UnknownOperationError.
    """

    def __init__(
        self,
        storage: str | os.PathLike[str] | AnyStore | None = None,
        window_size: int = 1000,
        min_samples: int = 10,
        threshold: ThresholdMode = "stddev",
        std_multiplier: float = 2.0,
        *,
        on_alert: AlertSink | None = None,
        clock: Clock | None = None,
        retention_seconds: float | None = None,
        autosave_interval: float | None = 5.0,
        max_operations: int = 100_000,
        config: TrackerConfig | None = None,
        detector_settings: DetectorSettings | None = None,
    ) -> None:
        self.config = config = resolve_config(
            config,
            window_size=window_size,
            min_samples=min_samples,
            threshold=threshold,
            std_multiplier=std_multiplier,
            retention_seconds=retention_seconds,
            autosave_interval=autosave_interval,
            max_operations=max_operations,
        )
        self._clock: Clock = clock if clock is not None else SystemClock()
        limiter = SlowCallLimiter(config.warning_burst, config.warning_interval, self._clock)
        self._alerting = Alerting(self._clock, limiter)
        if on_alert is not None:
            self._alerting.add_sink(on_alert)
        self._persistence: Persistence = persistence_for(storage)
        self._registry = OperationRegistry(
            config,
            detector_settings or DetectorSettings(),
            self._clock,
            self._alerting.dispatch,
            self._persistence.sketch_scale,
        )
        self._operations = self._registry.operations
        self._recorder = Recorder(self._registry, self._clock, limiter, logger.warning)
        self._gate_clock = self._recorder.gate_clock  # the slow-call WARNING gate's clock
        self._timers = TimerBook(config.max_open_timers)
        self._closed = False
        self._autosaver: AutoSaver | None = None
        _hooks.after_fork_in_child.register(self, _renew_after_fork)
        if self._persistence.location is not None:
            _open_storage(self)

    # -- recording -----------------------------------------------------------------------

    def record(
        self,
        name: str,
        duration: float,
        success: bool = True,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Record one finished call of `name` that took `duration` seconds."""
        if duration.__class__ is not float:  # ints, numpy scalars, Decimal: a float now
            duration = as_seconds(name, duration)
        if not 0.0 <= duration < MAX_DURATION:  # also refuses NaN, inf and huge values
            raise InvalidDurationError(str(name), duration)
        # Recorder.record_outcome's fast branch inlined (a call level is ~0.2x the floor)
        try:
            op = self._operations.get(name)
        except TypeError:  # unhashable: record_outcome names the error
            op = None
        if op and (success is True or success is False):
            if metadata is not None:  # its exemplar's path (a dict: nothing to check)
                if metadata.__class__ is dict:
                    return self._recorder.record_notable(op, duration, success, metadata)
                return self._recorder.record_outcome(name, duration, success, metadata)
            pending = op.pending
            if success is False:  # the failure's mark first (see Operation.__init__)
                op.failure_notes.append(None)
                pending.append(-1.0 - duration)
            else:
                if duration > op.slow_threshold:  # Recorder.slow_call, inlined: mark, gate
                    op.slow_marks.append(duration)
                    if self._gate_clock() < op.warn_quiet_until:
                        op.warn_skipped += 1
                    else:
                        self._recorder.warn_slow(op, duration)
                pending.append(duration)
            if len(pending) >= op.drain_trigger:
                self._registry.absorb_if_free(op)
            return
        self._recorder.record_outcome(name, duration, success, metadata)

    @overload
    def time_operation(self, name: Callable[P, R]) -> Callable[P, R]: ...

    @overload
    def time_operation(
        self, name: str | None = None
    ) -> Callable[[Callable[P, R]], Callable[P, R]]: ...

    def time_operation(self, name: Any = None) -> Any:
        """Decorator timing every call of a sync or async function.

        `@tracker.time_operation`, `@tracker.time_operation()` and
        `@tracker.time_operation("name")` all work; the default name is the function's
        qualified name. Exceptions are recorded as failures and re-raised unchanged.
        """
        if callable(name):
            return self._decorate(default_name(name), name)
        if name is not None and (not isinstance(name, str) or not name):
            raise InvalidOperationNameError(name)
        chosen: str | None = name
        return lambda fn: self._decorate(chosen or default_name(fn), fn)

    def _decorate(self, name: str, fn: Callable[P, R]) -> Callable[P, R]:
        if is_async_callable(fn):
            return wrap_async(self._recorder, name, fn)  # type: ignore[arg-type, return-value]
        return wrap_sync(self._recorder, name, fn)

    def measure(self, name: str, metadata: Mapping[str, Any] | None = None) -> Timer:
        """A timer for a block: `with tracker.measure("op") as t: ...` (or `async with`)."""
        checked_metadata(name, metadata)
        if not isinstance(name, str) or not name:
            raise InvalidOperationNameError(name)
        return Timer(self._recorder, name, metadata)

    def start(self, name: str, metadata: Mapping[str, Any] | None = None) -> str:
        """Start a timer; returns its id for end()."""
        checked_metadata(name, metadata)
        return self._timers.start(name, self._clock.perf(), metadata)

    def end(
        self, timer_id: str, success: bool = True, metadata: Mapping[str, Any] | None = None
    ) -> float:
        """End a timer started by start() (bad arguments raise first); its seconds."""
        if success is not True or metadata is not None:
            success = checked_outcome(self._timers.name_of(timer_id), success, metadata)
        name, started, start_metadata = self._timers.finish(timer_id)
        duration = max(0.0, self._clock.perf() - started)
        merged = {**(start_metadata or {}), **metadata} if metadata else start_metadata
        self._recorder.record_outcome(name, duration, success, merged)
        return duration

    async def start_operation(self, name: str, metadata: Mapping[str, Any] | None = None) -> str:
        """Async twin of start()."""
        return self.start(name, metadata)

    async def end_operation(
        self, timer_id: str, success: bool = True, metadata: Mapping[str, Any] | None = None
    ) -> float:
        """Async twin of end()."""
        return self.end(timer_id, success, metadata)

    async def get_operation_stats(self, name: str) -> OperationStats:
        """Async twin of stats()."""
        return self.stats(name)

    # -- alerts --------------------------------------------------------------------------

    def on_alert(self, callback: AlertSink) -> AlertSink:
        """Register a callback for every state transition; usable as a decorator."""
        self._alerting.add_sink(callback)
        return callback

    def events(self, name: str) -> list[DegradationEvent]:
        """The last state transitions of an operation (at most 100), oldest first."""
        return self._alerting.events(name)

    # -- reading -------------------------------------------------------------------------

    def stats(self, name: str) -> OperationStats:
        """Figures for one operation (see the README for every key)."""
        now = self._clock.wall()
        return self._registry.absorbed(self._registry.lookup(name), lambda o: stats_of(o, now))

    def state(self, name: str) -> str:
        """ "learning", "ok", "degraded", or "idle" after `idle_after` seconds without calls."""
        now = self._clock.wall()
        return self._registry.absorbed(self._registry.lookup(name), lambda o: o.state_at(now))

    def baseline(self, name: str) -> Baseline | None:
        """The current baseline of an operation, None while it is learning."""
        return self._registry.absorbed(self._registry.lookup(name), lambda op: op.baseline)

    def snapshot(self, name: str) -> OperationSnapshot:
        """Counters and figures of one operation, for exporters."""
        now = self._clock.wall()
        return self._registry.absorbed(self._registry.lookup(name), lambda o: snapshot_of(o, now))

    def snapshots(self) -> list[OperationSnapshot]:
        """snapshot() of every operation, in one pass (what a scrape reads)."""
        return self._registry.absorbed_all(partial(snapshot_of, now=self._clock.wall()))

    def operations(self) -> list[str]:
        """Names of every operation known (recorded or restored), sorted."""
        return self._registry.names()

    @property
    def clock(self) -> Clock:
        """The clock this tracker reads (shells time calls with `clock.perf`)."""
        return self._clock

    def durations_since(self, name: str, since: int) -> tuple[list[float], int, int]:
        """Durations of the calls recorded from sample index `since` on that the window
        still holds, the index to continue from, and how many were no longer held."""
        return self._registry.absorbed(
            self._registry.lookup(name), lambda op: durations_of(op, since)
        )

    def enable_histogram(self, bounds: tuple[float, ...]) -> None:
        """Keep a cumulative duration histogram per operation (for exporters). Counting
        starts now; a few tens of ns a call, paid in the batch absorb."""
        self._registry.enable_histogram(checked_bounds(bounds))

    def accept_baseline(self, name: str) -> Baseline:
        """Adopt the operation's current window as its new normal, explicitly."""
        now = self._clock.wall()
        try:
            baseline = self._registry.absorbed(
                self._registry.lookup(name), lambda op: op.accept_current(now)
            )
        except ValueError:
            raise UnknownOperationError(name) from None
        self._alerting.dispatch([BaselineChange(name, "accepted", baseline)])
        return baseline

    # -- persistence ---------------------------------------------------------------------

    def snapshot_baselines(self) -> dict[str, Baseline]:
        """Every established baseline, stamped with when its operation was last seen."""
        return snapshot_baselines(self._registry, _cutoff(self))

    def save(self) -> None:
        """Write every baseline (and the status record, _status.py) to storage now.

        Raises StorageError naming the path when the write fails; the old file is left
        as it was and recording goes on in memory.
        """
        self._persistence.save(self._registry, _cutoff(self), self._status_record)

    def refresh_baselines(self) -> int:
        """Read the store back and adopt its baselines (learned from every process)
        where an operation is healthy; returns how many were adopted. The background
        saver does this after each flush to a shared store."""
        return self._persistence.refresh(self._registry)

    @property
    def storage_location(self) -> str | None:
        return self._persistence.location

    @property
    def store(self) -> AnyStore | None:
        """The store baselines are kept in (None: in memory)."""
        return self._persistence.store

    @property
    def autosaving(self) -> bool:
        """True while a background saver runs (storage, an interval, not closed)."""
        return self._autosaver is not None and not self._closed

    def close(self, *, save: bool = True) -> None:
        """Stop the background saver and, unless `save=False`, save a last time.
        Idempotent; a closed tracker saves nothing more, not even at exit."""
        if self._closed:
            return
        self._closed = True
        if self._autosaver is not None:
            self._autosaver.stop()
        if save:
            self.save()

    def __enter__(self) -> PerformanceTracker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> PerformanceTracker:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _cutoff(tracker: PerformanceTracker) -> float | None:
    """Retention: operations not seen since then are dropped at load and save."""
    return retention_cutoff(tracker.config.retention_seconds, tracker._clock)


def _open_storage(tracker: PerformanceTracker) -> None:
    """Load the stored baselines, start the background saver, and hook the saves at exit
    (and at the exit of a multiprocessing worker, for a shared store)."""
    persistence = tracker._persistence
    try:
        stored = persistence.load()
    except IncompatibleStorageError:
        raise  # a newer perfguard's file: refused at once, left untouched
    except StorageError as exc:
        # a shared store that is down (Redis restarting, a password refused) or a file
        # that cannot be read now (EMFILE, EACCES): the service starts on local
        # baselines. Nothing is overwritten: a JSON save merges with what the file holds
        # and fails (and is retried) while it cannot read it.
        logger.warning("perfguard starts without the stored baselines for now: %s", exc)
        stored = {}
    tracker._registry.restore(stored, _cutoff(tracker))
    interval = tracker.config.autosave_interval
    if interval is not None:
        # A shared store is flushed every interval (other processes wait for our
        # samples); a file of baselines only when a baseline changed.
        tracker._autosaver = AutoSaver(tracker, interval, periodic=persistence.periodic)
        tracker._alerting.on_baseline_change = tracker._autosaver.mark_dirty
    _hooks.at_exit.register(tracker, _close_at_exit)
    if persistence.sketch_scale is not None:
        # a shared store: a worker's last samples are its own to send
        _hooks.flush_when_a_multiprocessing_child_exits(tracker, _close_at_exit)


def _close_at_exit(tracker: PerformanceTracker) -> None:
    try:
        tracker.close()
    except Exception as exc:  # a failed last save must not break the exit
        logger.warning("perfguard could not save at exit: %s", exc)


def _renew_after_fork(tracker: PerformanceTracker) -> None:
    """A forked child starts with fresh locks (a parent's thread may have held one) and,
    with a store several processes share (sketches, or the JSON file's merge), nothing
    of its parent's to save: what its parent recorded is the parent's to send. It gets
    its own saver (threads do not survive a fork) and flushes at its exit."""
    persistence = tracker._persistence
    shared = persistence.sketch_scale is not None or persistence.location is not None
    tracker._registry.renew_after_fork(discard_unsent=shared)
    tracker._timers.renew_after_fork()
    persistence.renew_after_fork(tracker._registry)
    saver = tracker._autosaver
    if saver is not None and shared and not tracker._closed:
        tracker._autosaver = saver.renewed_in_child(tracker)
        tracker._alerting.on_baseline_change = tracker._autosaver.mark_dirty
    elif saver is not None:
        saver.forget()
        tracker._autosaver = None
        tracker._alerting.on_baseline_change = None
    if shared and not tracker._closed:
        # a tracker built before the program imported multiprocessing
        _hooks.flush_when_a_multiprocessing_child_exits(tracker, _close_at_exit)


__all__ = ["PerformanceTracker"]
