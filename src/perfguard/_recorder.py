"""The hot path: recording one finished call.

A fast successful call without metadata costs one dict lookup and one list append;
every `drain_trigger` calls the operation absorbs its batch (if no other thread is at
it). Slow calls, failures and calls with metadata are rare enough to take the
operation's lock (`record_notable`). The decorators in _timing.py inline the fast branch
of `record_outcome`; tests/unit/test_hot_path_twins.py runs the three as twins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._alerting import SlowCallLimiter
from ._errors import InvalidOperationNameError
from ._operation import Operation
from ._registry import OperationRegistry
from ._window import encode_failure
from .types import Clock


class Recorder:
    """Implements the `perfguard.types.Recorder` contract for one tracker."""

    __slots__ = (
        "_limiter",
        "_operations",
        "_wall",
        "absorb_if_free",
        "negative_durations",
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
        self.perf: Callable[[], float] = clock.perf
        self.operation_for = registry.operation_for
        self.absorb_if_free = registry.absorb_if_free
        self.warn = warn
        self.negative_durations = 0  # measured by a clock that stepped back: stored as 0

    def record_outcome(
        self, name: str, duration: float, success: bool, metadata: Mapping[str, Any] | None
    ) -> None:
        """Record a call whose duration is valid (measured by perfguard, or checked by
        the tracker's `record()`, the public boundary)."""
        try:
            op = self._operations.get(name)
        except TypeError:  # unhashable name
            raise InvalidOperationNameError(name) from None
        if op is None:
            op = self.operation_for(name)
        if success and metadata is None and 0.0 <= duration <= op.slow_threshold:
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
            self.negative_durations += 1
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
