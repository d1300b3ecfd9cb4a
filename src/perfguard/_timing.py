"""Timing shells: the decorator and the `measure()` timer, for sync and async code.

Sync versus async is decided once, when decorating, and a coroutine function is timed
over its awaited run, not over the creation of its coroutine. Only exceptions that are
`Exception`s count as failures: a cancellation or an interrupt did not finish the call,
so its duration is not a measurement and nothing is recorded.

The wrappers inline `Recorder.record_outcome` (the contract in perfguard.types says
how): a slow call, a failure and a fast call cost about the same, their classification
is the absorb's; tests/unit/test_hot_path_twins.py keeps the copies in step.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from .types import Recorder

if TYPE_CHECKING:
    from ._operation import Operation

P = ParamSpec("P")
R = TypeVar("R")


def is_async_callable(fn: Callable[..., Any]) -> bool:
    """True for coroutine functions, also behind functools.partial or a callable object."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - a callable object's method
    return call is not None and inspect.iscoroutinefunction(call)


def default_name(fn: Callable[..., Any]) -> str:
    while isinstance(fn, functools.partial):
        fn = fn.func
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return name if isinstance(name, str) and name else type(fn).__qualname__


class _OperationSlot:
    """The operation a wrapper records into, resolved on the first call (so decorating a
    function that is never called creates nothing). Operations are never replaced, so
    the wrapper may keep it: the hot path then skips the name lookup entirely."""

    __slots__ = ("op",)

    def __init__(self) -> None:
        self.op: Operation | None = None


def wrap_sync(recorder: Recorder, name: str, fn: Callable[P, R]) -> Callable[P, R]:
    perf = recorder.perf
    warn_slow = recorder.warn_slow
    absorb = recorder.absorb_if_free
    slot = _OperationSlot()

    @functools.wraps(fn)
    def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        start = perf()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            duration = perf() - start
            op = slot.op
            if op is None:
                op = slot.op = recorder.operation_for(name)
            op.failure_notes.append(exc.__class__)  # the mark first
            pending = op.pending
            pending.append(-1.0 - duration)  # record_failure, inlined
            if len(pending) >= op.drain_trigger:
                absorb(op)
            raise
        end = perf()
        duration = end - start
        op = slot.op
        if op is None:
            op = slot.op = recorder.operation_for(name)
        if duration > op.slow_threshold:  # Recorder.slow_call, inlined: its mark first
            op.slow_marks.append(duration)
            if end >= op.warn_quiet_until:  # the gate, read at the call's own end
                warn_slow(op, duration)
            else:
                op.warn_skipped += 1
        pending = op.pending
        pending.append(duration)
        if len(pending) >= op.drain_trigger:
            absorb(op)
        return result

    return timed


def wrap_async(
    recorder: Recorder, name: str, fn: Callable[P, Awaitable[R]]
) -> Callable[P, Awaitable[R]]:
    perf = recorder.perf
    warn_slow = recorder.warn_slow
    absorb = recorder.absorb_if_free
    slot = _OperationSlot()

    @functools.wraps(fn)
    async def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        start = perf()
        try:
            result = await fn(*args, **kwargs)
        except Exception as exc:
            duration = perf() - start
            op = slot.op
            if op is None:
                op = slot.op = recorder.operation_for(name)
            op.failure_notes.append(exc.__class__)  # the mark first
            pending = op.pending
            pending.append(-1.0 - duration)  # record_failure, inlined
            if len(pending) >= op.drain_trigger:
                absorb(op)
            raise
        end = perf()
        duration = end - start
        op = slot.op
        if op is None:
            op = slot.op = recorder.operation_for(name)
        if duration > op.slow_threshold:  # Recorder.slow_call, inlined: its mark first
            op.slow_marks.append(duration)
            if end >= op.warn_quiet_until:  # the gate, read at the call's own end
                warn_slow(op, duration)
            else:
                op.warn_skipped += 1
        pending = op.pending
        pending.append(duration)
        if len(pending) >= op.drain_trigger:
            absorb(op)
        return result

    return timed


class Timer:
    """Times one block, as `with` or `async with`. A fresh object per use, so one timer
    never carries state between threads or tasks. `duration` is set on exit."""

    __slots__ = ("_perf", "_recorder", "_start", "duration", "metadata", "name", "success")

    def __init__(
        self, recorder: Recorder, name: str, metadata: Mapping[str, Any] | None = None
    ) -> None:
        self._recorder = recorder
        self._perf = recorder.perf
        self.name = name
        self.metadata = metadata
        self._start: float | None = None
        self.duration: float | None = None
        self.success: bool | None = None

    def __enter__(self) -> Timer:
        self._start = self._perf()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        start = self._start
        if start is None:
            raise RuntimeError(f"timer for {self.name!r} exited without being entered")
        self._start = None
        duration = self._perf() - start
        self.duration = duration
        if exc is None:
            self.success = True
            self._recorder.record_outcome(self.name, duration, True, self.metadata)
        elif isinstance(exc, Exception):
            self.success = False
            recorder = self._recorder
            op = recorder.operation_for(self.name)
            recorder.record_failure(op, duration, exc.__class__, self.metadata)

    async def __aenter__(self) -> Timer:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)
