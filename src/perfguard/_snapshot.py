"""Read-only views of an operation for exporters (Prometheus, OpenTelemetry, reports).

Exporters read snapshots and never write back into the tracker."""

from __future__ import annotations

from dataclasses import dataclass

from ._baseline import Baseline


@dataclass(frozen=True)
class OperationSnapshot:
    """Cumulative counters and current figures of one operation at one moment.

    histogram: cumulative counts per upper bound (the last bound is +inf), or () when
        no histogram was enabled; histogram_sum: total seconds of the counted calls.
    """

    name: str
    state: str
    calls: int
    failures: int
    slow_calls: int
    episodes: int
    baseline: Baseline | None
    histogram_bounds: tuple[float, ...]
    histogram: tuple[int, ...]
    histogram_sum: float
