"""The hot path: recording one finished call.

A fast successful call without metadata costs one dict lookup and one list append;
every `drain_trigger` calls the operation absorbs its batch (if no other thread is at
it). Slow calls, failures and calls with metadata are rare enough to take the
operation's lock (`record_notable`). The decorators in _timing.py inline the fast branch
of `record_outcome`; tests/unit/test_hot_path_twins.py runs the three as twins.
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
        if success is not True or metadata is not None:
            success = checked_outcome(name, success, metadata)
        if op is None:
            op = self.operation_for(name)
        if success and metadata is None and duration <= op.slow_threshold:
            pending = op.pending
            pending.append(duration)
            if len(pending) >= op.drain_trigger:
                self.absorb_if_free(op)
        else:
            self.record_notable(op, duration, success, metadata)

    def record_notable(
        self, op: Operation, duration: float, success: bool, metadata: Mapping[str, Any] | None
    ) -> None:
        """Failures, slow calls and calls with metadata: rare enough to take the lock.
        A negative duration (only a clock that stepped backwards measures one) is
        recorded as 0 and counted in `negative_durations`, never stored as negative."""
        if duration < 0.0:
            self._clamped += 1
            duration = 0.0
        warning: str | None = None
        now = self._wall()
        with op.lock:
            if success:
                op.pending.append(duration)
                if duration > op.slow_threshold:
                    op.degradation_count += 1
                    baseline = op.baseline
                    assert baseline is not None  # a finite threshold implies a baseline
                    warning = self._limiter.message(
                        op.name, duration, baseline.p95, op.slow_threshold
                    )
                if metadata is not None and duration > op.exemplars.floor:
                    op.offer_exemplar(duration, metadata, now)
            else:
                op.pending.append(encode_failure(duration))
                op.pending_failures += 1
                op.exemplars.note_failure(duration, now, metadata)
            absorb_now = len(op.pending) >= op.drain_trigger
        if warning is not None:
            self.warn(warning)
        if absorb_now:
            self.absorb_if_free(op)
