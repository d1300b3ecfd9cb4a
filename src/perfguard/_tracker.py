"""PerformanceTracker: the public face of perfguard.

The per-call path (`record`, the decorator, `measure`) validates, looks the operation up
and appends one float to its pending buffer. Statistics, baselines and detection run in
`Operation.absorb` every `batch_size` calls or when figures are asked for, and their
notifications (log lines, callbacks, autosave) are dispatched after the operation's lock
is released. The async API is a thin shell over this synchronous core.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import secrets
import threading
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast, overload

from ._autosave import AutoSaver, register_for_exit
from ._baseline import Baseline
from ._clock import SystemClock
from ._config import ThresholdMode, TrackerConfig
from ._detect import DetectorSettings
from ._errors import (
    ConfigurationError,
    InvalidDurationError,
    InvalidOperationNameError,
    PerfguardError,
    StorageError,
    TimerAlreadyEndedError,
    TooManyOpenTimersError,
    UnknownOperationError,
    UnknownTimerError,
)
from ._events import DegradationEvent
from ._json_store import JsonFileStore, write_atomically
from ._operation import BaselineChange, Notification, Operation, StateChange
from ._protocols import AlertSink, BaselineStore, Clock, MergeableStore
from ._sketch import SketchDelta
from ._snapshot import OperationSnapshot
from ._timing import P, Timer, default_name, is_async_callable, wrap_async, wrap_sync
from ._window import encode_failure

R = TypeVar("R")
_MAX_DURATION = 1e12  # seconds (31,000 years): beyond it a "duration" is a bug
OVERFLOW_NAME = "<overflow>"
logger = logging.getLogger("perfguard")
_INF = math.inf


class PerformanceTracker:
    """Times named operations, learns their baselines and reports degradation.

    storage: None (in memory), a path (JSON file; ".json.gz" compressed) or a
        BaselineStore. Baselines load at construction and are saved (debounced, in a
        background thread) when established or updated, and on close() or exit.
    Unknown operations: stats(), state() and baseline() raise UnknownOperationError.
    """

    def __init__(
        self,
        storage: str | os.PathLike[str] | BaselineStore | None = None,
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
        if config is None:
            config = TrackerConfig(
                window_size=window_size,
                min_samples=min_samples,
                threshold=threshold,
                std_multiplier=std_multiplier,
                retention_seconds=retention_seconds,
                autosave_interval=autosave_interval,
                max_operations=max_operations,
            )
        self.config = config
        self._detector_settings = detector_settings or DetectorSettings()
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._perf_function: Callable[[], float] = self._clock.perf
        self._operations: dict[str, Operation] = {}
        self._operations_lock = threading.Lock()
        self._overflow: Operation | None = None
        self._history: dict[str, deque[DegradationEvent]] = {}  # last 100 events each
        self._histogram_bounds: tuple[float, ...] | None = None
        self._alert_sinks: list[AlertSink] = [] if on_alert is None else [on_alert]
        self._timer_token = secrets.token_hex(4)
        self._timer_counter = itertools.count()
        self._open_timers: dict[str, tuple[str, float, Mapping[str, Any] | None]] = {}
        self._closed = False
        self._store: BaselineStore | None = _make_store(storage)
        self._sketch_scale: int | None = (
            getattr(self._store, "scale", 6) if getattr(self._store, "mergeable", False) else None
        )
        if self._sketch_scale is not None:
            _register_for_fork(self)
        self._save_lock = threading.Lock()
        self._autosaver: AutoSaver | None = None
        if self._store is not None:
            self._restore(self._store.load())
            if config.autosave_interval is not None:
                # A shared store is flushed every interval (other processes wait for our
                # samples); a file of baselines only when a baseline changed.
                self._autosaver = AutoSaver(
                    self, config.autosave_interval, periodic=self._sketch_scale is not None
                )
            register_for_exit(self)

    # -- recording: the hot path ---------------------------------------------------------

    def record(
        self,
        name: str,
        duration: float,
        success: bool = True,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Record one finished call of `name` that took `duration` seconds."""
        try:
            valid = 0.0 <= duration < _MAX_DURATION  # also refuses inf and huge ints
        except TypeError:
            valid = False
        if not valid or duration.__class__ is bool:
            raise InvalidDurationError(str(name), duration)
        self._record_outcome(name, duration, success, metadata)

    def _record_outcome(
        self, name: str, duration: float, success: bool, metadata: Mapping[str, Any] | None
    ) -> None:
        try:
            op = self._operations.get(name)
        except TypeError:  # unhashable name
            raise InvalidOperationNameError(name) from None
        if op is None:
            op = self._operation_for(name)
        if success and metadata is None and duration <= op.slow_threshold:
            pending = op.pending
            pending.append(duration)
            if len(pending) >= op.drain_trigger:
                self._absorb_if_free(op)
        else:
            self._record_notable(op, duration, success, metadata)

    def _record_notable(
        self, op: Operation, duration: float, success: bool, metadata: Mapping[str, Any] | None
    ) -> None:
        """Failures, slow calls and calls with metadata: rare enough to take the lock."""
        warning: str | None = None
        now = self._clock.wall()
        with op.lock:
            if success:
                encoded = duration
                op.pending.append(encoded)
                if duration > op.slow_threshold:
                    op.degradation_count += 1
                    warning = self._slow_call_warning(op, duration)
                if metadata is not None and duration > op.exemplar_floor:
                    op.offer_exemplar(encoded, metadata, now)
            else:
                encoded = encode_failure(duration)
                op.pending.append(encoded)
                op.pending_failures += 1
                error = {"duration": duration, "time": now, "metadata": dict(metadata or {})}
                op.recent_errors.append(error)
            absorb_now = len(op.pending) >= op.drain_trigger
        if warning is not None:
            logger.warning(warning)
        if absorb_now:
            self._absorb_if_free(op)

    def _slow_call_warning(self, op: Operation, duration: float) -> str | None:
        """Rate-limited per operation: `warning_burst` per `warning_interval` seconds."""
        config = self.config
        now = self._clock.perf()
        if now - op.warn_window_start >= config.warning_interval:
            suppressed = op.warn_suppressed
            op.warn_window_start = now
            op.warn_tokens = config.warning_burst
            op.warn_suppressed = 0
        else:
            suppressed = 0
        if op.warn_tokens <= 0:
            op.warn_suppressed += 1
            return None
        op.warn_tokens -= 1
        baseline = op.baseline
        assert baseline is not None  # a finite threshold implies a baseline
        message = (
            f"Performance degradation detected for {op.name}: {duration:.3f}s "
            f"(baseline p95: {baseline.p95:.3f}s, threshold: {op.slow_threshold:.3f}s)"
        )
        if suppressed:
            message += f" [{suppressed} similar warnings suppressed]"
        return message

    def _operation_for(self, name: str) -> Operation:
        if not isinstance(name, str) or not name:
            raise InvalidOperationNameError(name)
        with self._operations_lock:
            op = self._operations.get(name)
            if op is None:
                if len(self._operations) >= self.config.max_operations:
                    return self._overflowed(name)
                op = Operation(
                    name, self.config, self._detector_settings, sketch_scale=self._sketch_scale
                )
                if self._histogram_bounds is not None:
                    op.enable_histogram(self._histogram_bounds)
                self._operations[name] = op
            return op

    def _overflowed(self, name: str) -> Operation:
        """Past the cardinality cap, new names share one hidden operation: their calls
        are counted (overflow_count) and memory stays bounded. Caller holds the lock."""
        if self._overflow is None:
            self._overflow = Operation(OVERFLOW_NAME, self.config, self._detector_settings)
            logger.warning(
                "perfguard tracks at most %d operations (max_operations); calls of new "
                "operations such as %r are only counted from now on",
                self.config.max_operations,
                name[:200],
            )
        return self._overflow

    @property
    def overflow_count(self) -> int:
        """Calls of operations refused by the cardinality cap."""
        op = self._overflow
        if op is None:
            return 0
        with op.lock:
            op.absorb(self._clock.wall())  # the overflow operation has no detector
            return op.sample_count

    def _absorb_if_free(self, op: Operation) -> None:
        """Absorb unless another thread is already at it (it will take our samples)."""
        if not op.lock.acquire(blocking=False):
            return
        try:
            notes = op.absorb(self._clock.wall())
        finally:
            op.lock.release()
        if notes:
            self._dispatch(notes)

    def _absorbed(self, name: str) -> Operation:
        """The operation with every pending sample absorbed (for reads)."""
        op = self._lookup(name)
        with op.lock:
            notes = op.absorb(self._clock.wall())
        if notes:
            self._dispatch(notes)
        return op

    def _lookup(self, name: str) -> Operation:
        try:
            op = self._operations.get(name)
        except TypeError:
            raise InvalidOperationNameError(name) from None
        if op is None:
            if not isinstance(name, str) or not name:
                raise InvalidOperationNameError(name)
            raise UnknownOperationError(name)
        return op

    def _perf(self) -> Callable[[], float]:
        return self._perf_function

    # -- notifications -------------------------------------------------------------------

    def _dispatch(self, notes: list[Notification]) -> None:
        baseline_changed = False
        for note in notes:
            if isinstance(note, BaselineChange):
                baseline_changed = True
                logger.debug(
                    "Baseline %s for %s: p50 %.6fs, p95 %.6fs from %d samples",
                    note.reason,
                    note.operation,
                    note.baseline.p50,
                    note.baseline.p95,
                    note.baseline.sample_count,
                )
            elif isinstance(note, StateChange):
                self._emit(_event_from(note, self._clock.wall()))
        if baseline_changed and self._autosaver is not None:
            self._autosaver.mark_dirty()

    def _emit(self, event: DegradationEvent) -> None:
        history = self._history.setdefault(event.operation, deque(maxlen=100))
        history.append(event)
        if event.kind == "degraded":
            logger.warning(event.describe())
        else:
            logger.info(event.describe())
        for sink in list(self._alert_sinks):
            try:
                sink(event)
            except Exception:
                logger.exception("perfguard alert callback %r failed", sink)

    def on_alert(self, callback: AlertSink) -> AlertSink:
        """Register a callback for every state transition; usable as a decorator."""
        if not callable(callback):
            raise TypeError(f"on_alert callback must be callable, got {callback!r}")
        self._alert_sinks.append(callback)
        return callback

    # -- timing APIs ---------------------------------------------------------------------

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

        def decorator(fn: Callable[P, R]) -> Callable[P, R]:
            return self._decorate(chosen or default_name(fn), fn)

        return decorator

    def _decorate(self, name: str, fn: Callable[P, R]) -> Callable[P, R]:
        if is_async_callable(fn):
            return wrap_async(self, name, fn)  # type: ignore[arg-type, return-value]
        return wrap_sync(self, name, fn)

    def measure(self, name: str, metadata: Mapping[str, Any] | None = None) -> Timer:
        """A timer for a block: `with tracker.measure("op") as t: ...` (or `async with`)."""
        if not isinstance(name, str) or not name:
            raise InvalidOperationNameError(name)
        return Timer(self, name, metadata)

    def start(self, name: str, metadata: Mapping[str, Any] | None = None) -> str:
        """Start a timer; returns its id for end()."""
        if not isinstance(name, str) or not name:
            raise InvalidOperationNameError(name)
        if len(self._open_timers) >= self.config.max_open_timers:
            raise TooManyOpenTimersError(name, self.config.max_open_timers)
        timer_id = f"{self._timer_token}-{next(self._timer_counter)}"
        self._open_timers[timer_id] = (name, self._perf_function(), metadata)
        return timer_id

    def end(
        self,
        timer_id: str,
        success: bool = True,
        metadata: Mapping[str, Any] | None = None,
    ) -> float:
        """End a timer started by start(); records and returns its duration in seconds."""
        try:
            entry = self._open_timers.pop(timer_id, None)
        except TypeError:
            raise UnknownTimerError(timer_id) from None
        if entry is None:
            raise self._timer_error(timer_id)
        name, started, start_metadata = entry
        duration = max(0.0, self._perf_function() - started)
        merged: Mapping[str, Any] | None = start_metadata
        if metadata:
            merged = {**(start_metadata or {}), **metadata}
        self._record_outcome(name, duration, bool(success), merged)
        return duration

    def _timer_error(self, timer_id: object) -> PerfguardError:
        if isinstance(timer_id, str):
            token, _, number = timer_id.partition("-")
            if token == self._timer_token and number.isascii() and number.isdigit():
                issued = int(number) < self._issued_timers()
                if issued:
                    return TimerAlreadyEndedError(timer_id)
        return UnknownTimerError(timer_id)

    def _issued_timers(self) -> int:
        # itertools.count has no peek; its repr holds the next value ("count(7)").
        return int(repr(self._timer_counter)[6:-1])

    async def start_operation(self, name: str, metadata: Mapping[str, Any] | None = None) -> str:
        """Async twin of start()."""
        return self.start(name, metadata)

    async def end_operation(
        self,
        timer_id: str,
        success: bool = True,
        metadata: Mapping[str, Any] | None = None,
    ) -> float:
        """Async twin of end()."""
        return self.end(timer_id, success, metadata)

    async def get_operation_stats(self, name: str) -> dict[str, Any]:
        """Async twin of stats()."""
        return self.stats(name)

    # -- reading -------------------------------------------------------------------------

    def stats(self, name: str) -> dict[str, Any]:
        """Figures for one operation (see the README for every key)."""
        op = self._absorbed(name)
        with op.lock:
            return op.figures()

    def state(self, name: str) -> str:
        """ "learning", "ok" or "degraded"."""
        return self._absorbed(name).state

    def baseline(self, name: str) -> Baseline | None:
        """The current baseline of an operation, None while it is learning."""
        return self._absorbed(name).baseline

    def enable_histogram(self, bounds: tuple[float, ...]) -> None:
        """Keep a cumulative duration histogram per operation (for exporters). Counting
        starts now; a few tens of ns a call, paid in the batch absorb."""
        ordered = tuple(sorted(float(b) for b in bounds))
        if not ordered or any(not 0 < b < _INF for b in ordered):
            raise ConfigurationError("histogram bounds", bounds, "finite numbers > 0")
        self._histogram_bounds = ordered
        for name in list(self._operations):
            op = self._operations[name]
            with op.lock:
                notes = op.absorb(self._clock.wall())
                op.enable_histogram(ordered)
            if notes:
                self._dispatch(notes)

    def snapshot(self, name: str) -> OperationSnapshot:
        """Counters and figures of one operation, for exporters."""
        op = self._absorbed(name)
        with op.lock:
            bounds = op.histogram_bounds or ()
            cumulative: list[int] = []
            running = 0
            for count in op.histogram if bounds else ():
                running += count
                cumulative.append(running)
            return OperationSnapshot(
                name=op.name,
                state=op.state,
                calls=op.sample_count,
                failures=op.failure_count,
                slow_calls=op.degradation_count,
                episodes=op.episodes,
                baseline=op.baseline,
                histogram_bounds=(*bounds, _INF) if bounds else (),
                histogram=tuple(cumulative),
                histogram_sum=op.histogram_sum,
            )

    def durations_since(self, name: str, since: int) -> tuple[list[float], int, int]:
        """Durations of the calls recorded from sample index `since` on that the window
        still holds, the index to continue from, and how many were no longer held."""
        op = self._absorbed(name)
        with op.lock:
            total = op.sample_count
            held = op.window.encoded()
            first_held = total - len(held)
            start = max(since, first_held)
            missed = max(0, first_held - since)
            fresh = held[start - first_held :]
            return [v if v >= 0.0 else -1.0 - v for v in fresh], total, missed

    def events(self, name: str) -> list[DegradationEvent]:
        """The last state transitions of an operation (at most 100), oldest first."""
        return list(self._history.get(name, ()))

    def report(self) -> dict[str, Any]:
        """Everything a report or a CI check needs, JSON-ready (see `perfguard report`)."""
        operations = {}
        for name in self.operations():
            stats = self.stats(name)
            durations, _, _ = self.durations_since(name, 0)
            stats["recent_durations"] = [round(d, 9) for d in durations]
            stats["events"] = [_event_dict(e) for e in self.events(name)]
            operations[name] = stats
        return {
            "schema": "perfguard.report",
            "version": 1,
            "generated_at": self._clock.wall(),
            "operations": operations,
        }

    def write_report(self, path: str | os.PathLike[str]) -> None:
        """Write report() as JSON, atomically."""
        payload = json.dumps(
            self.report(), allow_nan=False, ensure_ascii=True, default=repr
        ).encode()
        write_atomically(Path(path), payload)

    def operations(self) -> list[str]:
        """Names of every operation known (recorded or restored), sorted."""
        return sorted(self._operations)

    def accept_baseline(self, name: str) -> Baseline:
        """Adopt the operation's current window as its new normal, explicitly."""
        op = self._absorbed(name)
        with op.lock:
            try:
                baseline = op.accept_current(self._clock.wall())
            except ValueError:
                raise UnknownOperationError(name) from None
        self._dispatch([BaselineChange(name, "accepted", baseline)])
        return baseline

    # -- persistence ---------------------------------------------------------------------

    def _restore(self, baselines: Mapping[str, Baseline]) -> None:
        cutoff = self._retention_cutoff()
        for name, baseline in baselines.items():
            if cutoff is not None and baseline.last_seen_at < cutoff:
                continue
            self._operations[name] = Operation(
                name, self.config, self._detector_settings, baseline, self._sketch_scale
            )

    def _retention_cutoff(self) -> float | None:
        retention = self.config.retention_seconds
        return None if retention is None else self._clock.wall() - retention

    def snapshot_baselines(self) -> dict[str, Baseline]:
        """Every established baseline, stamped with when its operation was last seen."""
        cutoff = self._retention_cutoff()
        result: dict[str, Baseline] = {}
        for name in list(self._operations):
            op = self._operations[name]
            with op.lock:
                notes = op.absorb(self._clock.wall())
                baseline = op.baseline
                last_seen = op.last_seen
            if notes:
                self._dispatch(notes)
            if baseline is None:
                continue
            stamped = baseline.seen_at(max(last_seen, baseline.last_seen_at))
            if cutoff is not None and stamped.last_seen_at < cutoff:
                continue
            result[name] = stamped
        return result

    def save(self) -> None:
        """Write every baseline to storage now (no-op without storage).

        Raises StorageError naming the path when the write fails; the old file is left
        as it was and recording goes on in memory.
        """
        store = self._store
        if store is None:
            return
        with self._save_lock:
            if self._sketch_scale is not None:
                self._save_deltas(cast("MergeableStore", store))
            else:
                store.save(self.snapshot_baselines())

    def refresh_baselines(self) -> int:
        """Read the shared store back and adopt its baselines (learned from every process)
        where an operation is healthy; returns how many were adopted. The background
        saver does this after each flush to a shared store."""
        store = self._store
        if store is None:
            return 0
        adopted = 0
        for name, baseline in store.load().items():
            op = self._operations.get(name)
            if op is None:
                with self._operations_lock:
                    if name not in self._operations and (
                        len(self._operations) < self.config.max_operations
                    ):
                        new = Operation(
                            name,
                            self.config,
                            self._detector_settings,
                            baseline,
                            self._sketch_scale,
                        )
                        if self._histogram_bounds is not None:
                            new.enable_histogram(self._histogram_bounds)
                        self._operations[name] = new
                        adopted += 1
                continue
            with op.lock:
                notes = op.absorb(self._clock.wall())
                adopted += op.adopt_shared(baseline)
            if notes:
                self._dispatch(notes)
        return adopted

    def _after_fork_in_child(self) -> None:
        """A forked child starts with nothing to send: what its parent recorded (pending
        calls, unsent sketches) is the parent's to send. Locks are renewed, since a
        parent's thread may have held one at the fork."""
        self._operations_lock = threading.Lock()
        self._save_lock = threading.Lock()
        if self._overflow is not None:
            self._overflow.lock = threading.Lock()
        for op in self._operations.values():
            op.lock = threading.Lock()
            op.pending = []
            op.pending_failures = 0
            op.take_delta()

    def _save_deltas(self, store: MergeableStore) -> None:
        """Hand what every operation recorded since the last flush to the store, which
        keeps what it could not send and sends it first next time (_outbox)."""
        deltas: dict[str, SketchDelta] = {}
        for name in list(self._operations):
            op = self._operations[name]
            with op.lock:
                notes = op.absorb(self._clock.wall())
                delta = op.take_delta()
            if notes:
                self._dispatch(notes)
            if delta is not None and (delta.sketch.count or delta.failures):
                deltas[name] = delta
        try:
            store.save_deltas(deltas)
        except BaseException:
            if not getattr(store, "keeps_unsent", False):
                # a store that does not keep what it failed to send: keep it here
                for name, delta in deltas.items():
                    op = self._operations[name]
                    with op.lock:
                        if op.delta is not None:
                            op.delta.merge_in(delta)
            raise

    def close(self) -> None:
        """Stop the background saver and save a last time. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._autosaver is not None:
            self._autosaver.stop()
        self.save()

    @property
    def storage_location(self) -> str | None:
        return None if self._store is None else self._store.location

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


_forking_trackers: weakref.WeakSet[PerformanceTracker] = weakref.WeakSet()
_fork_hook_registered = False


def _register_for_fork(tracker: PerformanceTracker) -> None:
    global _fork_hook_registered
    _forking_trackers.add(tracker)
    if not _fork_hook_registered:
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_hook_registered = True


def _after_fork_in_child() -> None:
    for tracker in list(_forking_trackers):
        tracker._after_fork_in_child()


def _make_store(storage: str | os.PathLike[str] | BaselineStore | None) -> BaselineStore | None:
    if storage is None:
        return None
    if isinstance(storage, str) and storage.startswith(("redis://", "rediss://", "unix://")):
        from ._redis_store import RedisStore  # optional extra, imported only when used

        return RedisStore(storage)
    if isinstance(storage, (str, os.PathLike)):
        text = os.fspath(storage)
        if not text:
            raise StorageError(text, "an empty path; pass None for in-memory tracking")
        return JsonFileStore(text)
    return storage


def _event_dict(event: DegradationEvent) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "signals": list(event.signals),
        "time": event.time,
        "sample_index": event.sample_index,
        "started_at_sample": event.started_at_sample,
        "started_at_time": event.started_at_time,
        "effect_ratio": event.effect_ratio if math.isfinite(event.effect_ratio) else None,
        "summary": event.describe(),
    }


def _event_from(note: StateChange, now: float) -> DegradationEvent:
    verdict = note.verdict
    baseline = note.baseline
    return DegradationEvent(
        operation=note.operation,
        kind="degraded" if verdict.kind == "degraded" else "recovered",
        signals=verdict.signals,
        baseline={
            "p50": baseline.p50,
            "p95": baseline.p95,
            "p99": baseline.p99,
            "error_rate": baseline.error_rate,
        },
        current=dict(verdict.current),
        effect_ratio=verdict.effect_ratio,
        evidence=dict(verdict.evidence),
        sample_index=note.sample_index,
        time=now,
        started_at_sample=verdict.started_at_sample,
        started_at_time=note.started_at_time,
        exemplars=note.exemplars,
    )


__all__ = ["PerformanceTracker"]
