"""The operation registry: the one place operations are created, capped, found and
absorbed.

`operations` is a plain dict read without a lock on the hot path (a dict lookup is
atomic); creation takes `_lock`. Past `max_operations`, new names share one hidden
overflow operation (`<overflow>`: counted, never stored nor listed). "Absorb under the
operation's lock, then dispatch the notes outside it" is written once, in `absorbed()`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import TypeVar

from ._baseline import Baseline
from ._clock import clock_resolution
from ._config import TrackerConfig
from ._detect import DetectorSettings
from ._errors import InvalidOperationNameError, UnknownOperationError
from ._notifications import Notification
from ._operation import Operation
from .types import Clock

T = TypeVar("T")
OVERFLOW_NAME = "<overflow>"
logger = logging.getLogger("perfguard")


class OperationRegistry:
    """Every operation of one tracker, by name."""

    def __init__(
        self,
        config: TrackerConfig,
        detector_settings: DetectorSettings,
        clock: Clock,
        dispatch: Callable[[list[Notification]], None],
        sketch_scale: int | None,
    ) -> None:
        self._config = config
        if detector_settings.min_effect_seconds is None:  # two ticks of this clock
            resolution = clock_resolution(clock)
            detector_settings = replace(detector_settings, min_effect_seconds=2 * resolution)
        self._detector_settings = detector_settings
        self._clock = clock
        self._dispatch = dispatch
        self.sketch_scale = sketch_scale
        self.operations: dict[str, Operation] = {}  # never replaced: the hot path holds it
        self._lock = threading.Lock()
        self._overflow: Operation | None = None
        self._histogram_bounds: tuple[float, ...] | None = None
        self._restoring = 0  # baselines being restored: all count in the family at once
        self.restore_skipped = 0  # stored operations not loaded: over max_operations

    # -- finding and creating ------------------------------------------------------------

    def operation_for(self, name: str) -> Operation:
        """The operation recording `name`'s calls, created on first use (or the overflow
        operation past the cap)."""
        if not isinstance(name, str) or not name:
            raise InvalidOperationNameError(name)
        with self._lock:
            op = self.operations.get(name)
            if op is None:
                if len(self.operations) >= self._config.max_operations:
                    return self._overflowed(name)
                op = self.operations[name] = self._new(name)
            return op

    def lookup(self, name: str) -> Operation:
        """An existing operation; UnknownOperationError otherwise."""
        try:
            op = self.operations.get(name)
        except TypeError:
            raise InvalidOperationNameError(name) from None
        if op is None:
            if not isinstance(name, str) or not name:
                raise InvalidOperationNameError(name)
            raise UnknownOperationError(name)
        return op

    def names(self) -> list[str]:
        return sorted(self.operations)

    def family_size(self) -> int:
        """Operations sharing the tracker's false-alarm budget (DetectorSettings)."""
        return max(1, len(self.operations), self._restoring)

    def _new(self, name: str, baseline: Baseline | None = None) -> Operation:
        op = Operation(
            name,
            self._config,
            self._detector_settings,
            baseline,
            self.sketch_scale,
            family=self.family_size,
        )
        if self._histogram_bounds is not None:
            op.enable_histogram(self._histogram_bounds)
        return op

    def _overflowed(self, name: str) -> Operation:
        """Caller holds `_lock`. The overflow operation is never stored nor listed and
        keeps no sketch; like any operation it learns a baseline and can alert (as
        "<overflow>"), which says that names beyond the cap are slowing down."""
        if self._overflow is None:
            self._overflow = Operation(OVERFLOW_NAME, self._config, self._detector_settings)
            logger.warning(
                "perfguard tracks at most %d operations (max_operations); calls of new "
                "operations such as %r are only counted from now on",
                self._config.max_operations,
                name[:200],
            )
        return self._overflow

    @property
    def overflow_count(self) -> int:
        op = self._overflow
        return 0 if op is None else self.absorbed(op, lambda o: o.sample_count)

    # -- baselines from a store ----------------------------------------------------------

    def restore(self, baselines: Mapping[str, Baseline], cutoff: float | None) -> None:
        """At construction: one operation per stored baseline seen since `cutoff`, at
        most `max_operations` of them (the most recently seen; the others are left in
        the store, counted in `restore_skipped` and logged once)."""
        kept = {
            name: baseline
            for name, baseline in baselines.items()
            if cutoff is None or baseline.last_seen_at >= cutoff
        }
        room = self._config.max_operations - len(self.operations)
        if len(kept) > room:
            newest = sorted(kept, key=lambda n: kept[n].last_seen_at, reverse=True)[: max(room, 0)]
            self.restore_skipped = len(kept) - len(newest)
            logger.warning(
                "perfguard: the store holds %d operations, over max_operations=%d; the %d "
                "seen most recently were loaded, %d left in the store",
                len(kept),
                self._config.max_operations,
                len(newest),
                self.restore_skipped,
            )
            kept = {name: kept[name] for name in newest}
        self._restoring = len(self.operations) + len(kept)
        for name, baseline in kept.items():
            self.operations[name] = self._new(name, baseline)
        self._restoring = 0

    def adopt(self, name: str, baseline: Baseline) -> bool:
        """Take a shared baseline: a new operation under the cap, else the existing
        operation's adopt rule (never while degraded or weighing evidence)."""
        op = self.operations.get(name)
        if op is not None:
            return self.absorbed(op, lambda o: o.adopt_shared(baseline))
        with self._lock:
            if name in self.operations or len(self.operations) >= self._config.max_operations:
                return False
            self.operations[name] = self._new(name, baseline)
            return True

    # -- absorbing -----------------------------------------------------------------------

    def absorbed(self, op: Operation, read: Callable[[Operation], T]) -> T:
        """`read(op)` with every pending sample absorbed, under the operation's lock; the
        absorb's notifications are dispatched once the lock is released."""
        with op.lock:
            notes = op.absorb(self._clock.wall())
            result = read(op)
        if notes:
            self._dispatch(notes)
        return result

    def absorbed_all(self, read: Callable[[Operation], T]) -> list[T]:
        """absorbed() of every operation, in one pass (retention may drop one meanwhile)."""
        operations = self.operations
        held = (operations.get(name) for name in list(operations))
        return [self.absorbed(op, read) for op in held if op is not None]

    def absorb_if_free(self, op: Operation) -> None:
        """Absorb unless another thread is already at it (it will take our samples)."""
        if not op.lock.acquire(blocking=False):
            return
        try:
            notes = op.absorb(self._clock.wall())
        finally:
            op.lock.release()
        if notes:
            self._dispatch(notes)

    def each_absorbed(self, read: Callable[[Operation], T]) -> Iterator[tuple[str, T]]:
        """(name, read(op)) for every operation, each absorbed first."""
        for name in list(self.operations):
            yield name, self.absorbed(self.operations[name], read)

    def enable_histogram(self, bounds: tuple[float, ...]) -> None:
        self._histogram_bounds = bounds
        for _ in self.each_absorbed(lambda op: op.enable_histogram(bounds)):
            pass

    def renew_after_fork(self, *, discard_unsent: bool) -> None:
        """In a forked child: fresh locks everywhere (a parent's thread may have held
        one); with a shared store, nothing of the parent's left to send."""
        self._lock = threading.Lock()
        if self._overflow is not None:
            self._overflow.renew_after_fork(discard_unsent=False)
        for op in self.operations.values():
            op.renew_after_fork(discard_unsent=discard_unsent)
