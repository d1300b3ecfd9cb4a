"""Plug-in points, gathered in one module so their contracts are read in one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ._baseline import Baseline
    from ._events import DegradationEvent
    from ._sketch import SketchDelta


class Clock(Protocol):
    """Source of time. `perf()` is monotonic seconds; `wall()` is Unix epoch seconds."""

    def perf(self) -> float: ...

    def wall(self) -> float: ...


class BaselineStore(Protocol):
    """Where baselines live between runs. Knows only serialized baselines."""

    @property
    def location(self) -> str: ...

    def load(self) -> Mapping[str, Baseline]: ...

    def save(self, baselines: Mapping[str, Baseline]) -> None: ...


class MergeableStore(BaselineStore, Protocol):
    """A store shared by many processes: fed what each recorded since its last flush
    (mergeable sketches), it returns baselines learned from all of them.

    When save_deltas raises, the tracker keeps the deltas and hands them over again with
    the next flush, unless the store declares `keeps_unsent = True` (it keeps them itself,
    as the built-in stores do, to replay a partly applied flush under its own sequence).
    """

    mergeable: bool

    def save_deltas(self, deltas: Mapping[str, SketchDelta]) -> object: ...


class AlertSink(Protocol):
    """Receives every state transition of every operation."""

    def __call__(self, event: DegradationEvent) -> Any: ...
