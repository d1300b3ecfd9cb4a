"""What absorbing samples tells the tracker: internal notes, dispatched after the
operation's lock is released (alerting logs and emits them; persistence saves)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._baseline import Baseline
from ._detect import Verdict


@dataclass(frozen=True)
class BaselineChange:
    """A baseline was established or replaced (persistence wants to know)."""

    operation: str
    reason: str  # "established" | "matured" | "improved" | "accepted"
    baseline: Baseline


@dataclass(frozen=True)
class StateChange:
    """The detector decided a transition at `sample_index`; `started_at_time` is when
    the block holding the episode's first sample was absorbed (within one batch of when
    that call was recorded)."""

    operation: str
    verdict: Verdict
    baseline: Baseline
    sample_index: int
    exemplars: tuple[Mapping[str, Any], ...]
    started_at_time: float


Notification = BaselineChange | StateChange
