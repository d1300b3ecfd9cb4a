"""The contracts perfguard's parts rely on, gathered in one public module.

Plug-in points a user may implement (`Clock`, `AlertSink`, `BaselineStore`,
`MergeableStore`) and the hot-path contract the timing shells use (`Recorder`). Every
name here is public and stable; the implementations live in private modules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ._baseline import Baseline
    from ._events import DegradationEvent
    from ._operation import Operation
    from ._sketch import SketchDelta


class Clock(Protocol):
    """Source of time. `perf()` is monotonic seconds; `wall()` is Unix epoch seconds.

    A clock may also say `monotonic = True` (the system clock, FakeClock do): perfguard
    then reads `perf` as it is; any other clock is read through a guard that holds its
    highest reading, so a clock that steps back never yields a negative duration
    (counted in `tracker.negative_durations`)."""

    def perf(self) -> float: ...

    def wall(self) -> float: ...


class AlertSink(Protocol):
    """Receives every state transition of every operation."""

    def __call__(self, event: DegradationEvent, /) -> Any: ...


class BaselineStore(Protocol):
    """Where baselines live between runs (one process writes it). Knows only serialized
    baselines; `save` raises StorageError naming `location` when it cannot write."""

    @property
    def location(self) -> str: ...

    def load(self) -> Mapping[str, Baseline]: ...

    def save(self, baselines: Mapping[str, Baseline]) -> None: ...


class MergeableStore(Protocol):
    """A store shared by many processes: fed what each recorded since its last flush
    (mergeable sketches at `scale`), it returns baselines learned from all of them.

    Declared capabilities, read once when a tracker is built:
    - `mergeable = True` marks the store as shared (the tracker then keeps sketches);
    - `scale`: the sketches' scale (6 when absent: 0.54 % relative error);
    - `keeps_unsent`: True when the store keeps a flush it failed to send and replays
      it first (the built-in stores do); False (the default when absent) makes the
      tracker keep the failed deltas and hand them over again with the next flush.
    """

    mergeable: bool
    scale: int

    @property
    def location(self) -> str: ...

    def load(self) -> Mapping[str, Baseline]: ...

    def save_deltas(self, deltas: Mapping[str, SketchDelta]) -> object: ...


class Recorder(Protocol):
    """The hot-path contract between a tracker and its timing shells (the decorator,
    `Timer`, middlewares). `perf` is the clock's monotonic function, read twice a call;
    `record_outcome` records a finished call by name. A shell that caches its
    `Operation` (from `operation_for`) may record a successful call itself: append the
    duration to `op.pending`, call `slow_call(op, duration)` when it is above
    `op.slow_threshold` (or do what it does: append the duration to `op.slow_marks`,
    then `warn_slow(op, duration)` if a `perf` reading is at least
    `op.warn_quiet_until`, else add 1 to `op.warn_skipped`), and `absorb_if_free(op)`
    once `len(op.pending) >= op.drain_trigger`; a call that raised goes to
    `record_failure` (or is appended as it does: its mark, the exception's type, to
    `op.failure_notes` first, then `-1 - duration`), one with metadata to
    `record_notable`. Counting slow calls and failures is the absorb's work, so every
    outcome costs the shell about the same."""

    perf: Callable[[], float]

    def operation_for(self, name: str) -> Operation: ...

    def absorb_if_free(self, op: Operation) -> None: ...

    def slow_call(self, op: Operation, duration: float) -> None: ...

    def warn_slow(self, op: Operation, duration: float) -> None: ...

    def record_failure(
        self, op: Operation, duration: float, error: type[BaseException], metadata: Any = None
    ) -> None: ...

    def record_notable(
        self, op: Operation, duration: float, success: bool, metadata: Mapping[str, Any] | None
    ) -> None: ...

    def record_outcome(
        self, name: str, duration: float, success: bool, metadata: Mapping[str, Any] | None
    ) -> None: ...


__all__ = ["AlertSink", "BaselineStore", "Clock", "MergeableStore", "Recorder"]
