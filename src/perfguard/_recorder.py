"""The hot path: recording one finished call.

Every call costs one dict lookup and one list append, whatever its outcome: a slow
call or a failure first appends its mark (Operation.__init__) and is counted when the
batch is absorbed, every `drain_trigger` calls (if no other thread is at it). Only a
call kept as an exemplar and a slow-call WARNING take the operation's lock. The tracker's
record() and the decorators in _timing.py inline `record_outcome`;
tests/unit/test_hot_path_twins.py runs the three as twins.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ._alerting import SlowCallLimiter
from ._arguments import checked_outcome
from ._errors import InvalidOperationNameError
from ._operation import Operation
from ._registry import OperationRegistry
from ._window import encode_failure
from .types import Clock


class NeverBackwards:
    """perf() of a clock that does not promise to be monotonic, held at its highest
    reading so far: a step back reads as no time passing, and is counted."""

    __slots__ = ("_last", "_perf", "steps_back")

    def __init__(self, perf: Callable[[], float]) -> None:
        self._perf = perf
        self._last = -math.inf
        self.steps_back = 0

    def __call__(self) -> float:
        now = self._perf()
        last = self._last
        if now < last:
            self.steps_back += 1
            return last
        self._last = now
        return now


class Recorder:
    """Implements the `perfguard.types.Recorder` contract for one tracker."""

    __slots__ = (
        "_clamped",
        "_guard",
        "_limiter",
        "_operations",
        "_wall",
        "absorb_if_free",
        "gate_clock",
        "operation_for",
        "perf",
        "warn",
    )

    def __init__(
        self,
        registry: OperationRegistry,
        clock: Clock,
        limiter: SlowCallLimiter,
        warn: Callable[[str], None],
    ) -> None:
        self._operations = registry.operations
        self._limiter = limiter
        self._wall = clock.wall
        # A clock that declares itself monotonic (the system's, FakeClock) is read as
        # it is; any other is read through a guard that never goes back, so a
        # duration perfguard measures is never negative (counted when it would be).
        monotonic = getattr(clock, "monotonic", False) is True
        self._guard = None if monotonic else NeverBackwards(clock.perf)
        self.perf: Callable[[], float] = clock.perf if self._guard is None else self._guard
        self.operation_for = registry.operation_for
        self.absorb_if_free = registry.absorb_if_free
        self.warn = warn
        self.gate_clock: Callable[[], float] = clock.perf  # the limiter's clock, unguarded
        self._clamped = 0  # negative durations handed in (a caller's own clock): stored as 0

    @property
    def negative_durations(self) -> int:
        """Readings of a clock that stepped back (held at its highest reading, so the
        call measured 0 s or less than it took), plus negative durations handed in."""
        return self._clamped + (self._guard.steps_back if self._guard is not None else 0)

    def record_outcome(
        self, name: str, duration: float, success: bool, metadata: Mapping[str, Any] | None
    ) -> None:
        """Record a call whose duration is valid (measured by perfguard, or checked by
        the tracker's `record()`, the public boundary)."""
        try:
            op = self._operations.get(name)
        except TypeError:  # unhashable name
            raise InvalidOperationNameError(name) from None
        if success is not True and success is not False:
            success = checked_outcome(name, success, metadata)
        elif metadata is not None and metadata.__class__ is not dict:
            checked_outcome(name, success, metadata)  # a Mapping, or an error
        if op is None:
            op = self.operation_for(name)
        if metadata is not None:
            self.record_notable(op, duration, success, metadata)
            return
        pending = op.pending
        if success:
            if duration > op.slow_threshold:
                self.slow_call(op, duration)  # its mark first (Operation.__init__)
            pending.append(duration)
        else:
            op.failure_notes.append(None)  # the mark first
            pending.append(-1.0 - duration)  # _window.encode_failure, inlined
        if len(pending) >= op.drain_trigger:
            self.absorb_if_free(op)

    def record_notable(
        self, op: Operation, duration: float, success: bool, metadata: Mapping[str, Any] | None
    ) -> None:
        """Any call, the general way (a call with metadata comes here): the same work as
        record_outcome's, plus the metadata's exemplar. Only an exemplar kept (the call
        is among the slowest with metadata) takes the operation's lock. A negative
        duration (a clock that stepped backwards) is recorded as 0 and counted in
        `negative_durations`, never stored as negative."""
        if duration < 0.0:
            self._clamped += 1
            duration = 0.0
        pending = op.pending
        if not success:
            op.failure_notes.append(None if metadata is None else (None, metadata))
            pending.append(encode_failure(duration))
        else:
            if duration > op.slow_threshold:
                self.slow_call(op, duration)  # its mark first
            if metadata is not None and duration > op.exemplars.floor:
                with op.lock:  # the exemplar's sample index is the append's
                    pending.append(duration)
                    op.offer_exemplar(duration, metadata, self._wall())
            else:
                pending.append(duration)
        if len(pending) >= op.drain_trigger:
            self.absorb_if_free(op)

    def record_failure(
        self, op: Operation, duration: float, error: type[BaseException], metadata: Any = None
    ) -> None:
        """A timed call that raised: recorded as failed, the exception's type in its
        exemplar (named when it is absorbed, not now)."""
        pending = op.pending
        op.failure_notes.append(error if metadata is None else (error, metadata))
        pending.append(-1.0 - duration)
        if len(pending) >= op.drain_trigger:
            self.absorb_if_free(op)

    def slow_call(self, op: Operation, duration: float) -> None:
        """A successful call slower than the threshold, about to be appended: its mark
        (counted in `degradation_count` when absorbed) and its WARNING, if the limiter
        may allow one."""
        op.slow_marks.append(duration)
        if self.gate_clock() >= op.warn_quiet_until:
            self.warn_slow(op, duration)
        else:
            op.warn_skipped += 1

    def warn_slow(self, op: Operation, duration: float) -> None:
        """The seed's per-call WARNING for a call slower than the threshold, through the
        rate limiter. Asked only when the gate is open: while the limiter refuses, slow
        calls are counted past the gate (`warn_skipped`) and handed to it with the next
        warning, which says how many were suppressed."""
        with op.lock:  # the limiter serializes per operation
            baseline = op.baseline
            if baseline is None:
                return
            skipped, op.warn_skipped = op.warn_skipped, 0
            limiter = self._limiter
            message = limiter.message(
                op.name, duration, baseline.p95, op.slow_threshold, skipped=skipped
            )
            if message is None:
                op.warn_quiet_until = limiter.quiet_until(op.name)
        if message is not None:
            self.warn(message)
