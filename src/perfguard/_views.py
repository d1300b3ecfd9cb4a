"""Read-only views of an operation: `stats()` figures and snapshots for exporters.

Exporters read snapshots and never write back into the tracker."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from ._baseline import Baseline
from ._quantiles import mean_and_std, quantile

if TYPE_CHECKING:
    from ._operation import Operation


class OperationStats(TypedDict):
    """What `tracker.stats(name)` returns: a plain dict (the seed's API), typed.

    Counts cover every call since the operation was first seen; `recent_*` figures
    describe the successful calls of the rolling window (None while it holds none);
    `baseline` is `Baseline.public_dict()` or None while learning.
    """

    operation: str
    state: str  # "learning", "ok", "degraded" or "idle"
    sample_count: int
    window_count: int
    failure_count: int
    success_rate: float | None
    error_rate: float | None
    recent_error_rate: float | None
    degradation_count: int
    degradation_rate: float | None
    slow_threshold: float | None
    recent_p50: float | None
    recent_p75: float | None
    recent_p95: float | None
    recent_p99: float | None
    recent_mean: float | None
    recent_std: float | None
    recent_min: float | None
    recent_max: float | None
    baseline: dict[str, Any] | None
    degraded_signals: list[str]
    exemplars: list[dict[str, Any]]
    recent_errors: list[dict[str, Any]]


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


def stats_of(op: Operation, now: float) -> OperationStats:
    """The stats() figures at wall time `now`. Caller holds `op.lock` and has absorbed
    pending samples."""
    encoded = op.window.encoded()
    successful = sorted(v for v in encoded if v >= 0.0)
    window_failures = len(encoded) - len(successful)
    total = op.sample_count
    recent: dict[str, float | None] = dict.fromkeys(_RECENT_KEYS)
    if successful:
        mean, std = mean_and_std(successful)
        for label, q in (("p50", 0.5), ("p75", 0.75), ("p95", 0.95), ("p99", 0.99)):
            recent[f"recent_{label}"] = quantile(successful, q)
        recent.update(
            recent_mean=mean, recent_std=std, recent_min=successful[0], recent_max=successful[-1]
        )
    detector = op.detector
    baseline = op.baseline
    return {
        "operation": op.name,
        "state": op.state_at(now),
        "sample_count": total,
        "window_count": len(encoded),
        "failure_count": op.failure_count,
        "success_rate": (total - op.failure_count) / total if total else None,
        "error_rate": op.failure_count / total if total else None,
        "recent_error_rate": window_failures / len(encoded) if encoded else None,
        "degradation_count": op.degradation_count,
        "degradation_rate": op.degradation_count / total if total else None,
        "slow_threshold": op.slow_threshold if op.slow_threshold != math.inf else None,
        "recent_p50": recent["recent_p50"],
        "recent_p75": recent["recent_p75"],
        "recent_p95": recent["recent_p95"],
        "recent_p99": recent["recent_p99"],
        "recent_mean": recent["recent_mean"],
        "recent_std": recent["recent_std"],
        "recent_min": recent["recent_min"],
        "recent_max": recent["recent_max"],
        "baseline": None if baseline is None else baseline.public_dict(),
        "degraded_signals": list(detector.degraded_signals) if detector else [],
        "exemplars": [dict(e) for e in op.exemplars.in_window(op.sample_count)],
        "recent_errors": [dict(e) for e in op.exemplars.recent_errors],
    }


_RECENT_KEYS = tuple(
    f"recent_{key}" for key in ("p50", "p75", "p95", "p99", "mean", "std", "min", "max")
)


def snapshot_of(op: Operation, now: float) -> OperationSnapshot:
    """Counters and figures for exporters at wall time `now`. Caller holds `op.lock`,
    samples absorbed."""
    histogram = op.histogram
    return OperationSnapshot(
        name=op.name,
        state=op.state_at(now),
        calls=op.sample_count,
        failures=op.failure_count,
        slow_calls=op.degradation_count,
        episodes=op.episodes,
        baseline=op.baseline,
        histogram_bounds=(*histogram.bounds, math.inf) if histogram else (),
        histogram=histogram.cumulative() if histogram else (),
        histogram_sum=histogram.total if histogram else 0.0,
    )


def durations_of(op: Operation, since: int) -> tuple[list[float], int, int]:
    """Durations of the calls from sample index `since` on that the window still holds,
    the index to continue from, and how many were no longer held. Caller holds the lock."""
    held = op.window.encoded()
    total = op.sample_count
    first_held = total - len(held)
    fresh = held[max(since, first_held) - first_held :]
    return [v if v >= 0.0 else -1.0 - v for v in fresh], total, max(0, first_held - since)
