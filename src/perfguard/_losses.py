"""The public figures of what a tracker did not keep as given, in one place: calls
pooled past the cardinality cap, stored operations not loaded, timers abandoned at the
open-timer cap, negative measured durations stored as 0, calls a shared store refused for
good. perfguard never drops or alters a sample or a timer without counting it in one of
these."""

from __future__ import annotations

from ._recorder import Recorder
from ._registry import OperationRegistry
from ._timers import TimerBook


class LossFigures:
    """Mixed into PerformanceTracker (which owns the registry and the timer book)."""

    _registry: OperationRegistry
    _timers: TimerBook
    _recorder: Recorder

    @property
    def store(self) -> object | None:
        raise NotImplementedError  # PerformanceTracker's

    @property
    def overflow_count(self) -> int:
        """Calls of operations refused by the cardinality cap."""
        return self._registry.overflow_count

    @property
    def restore_skipped(self) -> int:
        """Stored operations not loaded at start: beyond max_operations (oldest seen)."""
        return self._registry.restore_skipped

    @property
    def abandoned_timers(self) -> int:
        """Timers never ended (a cancelled task, a forgotten end()) that were closed to
        make room at `max_open_timers`; their calls are not recorded."""
        return self._timers.abandoned

    @property
    def negative_durations(self) -> int:
        """Calls a clock that stepped backwards measured as negative: recorded as 0 s."""
        return self._recorder.negative_durations

    @property
    def dropped(self) -> int:
        """Calls a shared store refused for good (a Redis key of another type, a fleet
        kept at a finer scale than this process sends), logged when it happens; refusals
        that pass (out of memory, read-only, loading, down) are retried, never dropped.
        Starts at 0 in a forked child."""
        per_operation: dict[str, int] = getattr(self.store, "dropped", {})
        return sum(per_operation.values())
