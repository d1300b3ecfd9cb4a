"""Two-sample comparison: is `current` slower than `baseline`, significantly and by
enough to matter?

Mann-Whitney U on the durations (rank-based, so heavy tails and outliers cannot decide
alone; normal approximation with tie correction), and the Hodges-Lehmann estimate of the
shift of log-durations (the median of pairwise differences), reported as a ratio, as
Netflix's Kayenta does. A regression needs both: p below `alpha` and the ratio at least
the detector's latency floor (DetectorSettings.latency_floor, 1.1 by default).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Comparison:
    ratio: float  # Hodges-Lehmann: typical current / baseline
    p_value: float  # one-sided: current stochastically larger
    baseline_median: float
    current_median: float
    regressed: bool

    def describe(self) -> str:
        verdict = "slower" if self.regressed else "no significant slowdown"
        return (
            f"{verdict}: x{self.ratio:.3f} (median {self.baseline_median * 1e3:.3f}ms -> "
            f"{self.current_median * 1e3:.3f}ms, Mann-Whitney p={self.p_value:.2g})"
        )


def compare(
    baseline: Sequence[float],
    current: Sequence[float],
    *,
    alpha: float = 0.001,
    floor: float = 1.1,
) -> Comparison:
    if len(baseline) < 2 or len(current) < 2:
        raise ValueError("each sample needs at least two durations")
    p_value = _mann_whitney_greater(current, baseline)
    logs_b = _thinned(sorted(math.log(max(v, 1e-12)) for v in baseline))
    logs_c = _thinned(sorted(math.log(max(v, 1e-12)) for v in current))
    shift = statistics.median(c - b for c in logs_c for b in logs_b)
    ratio = math.exp(shift)
    return Comparison(
        ratio=ratio,
        p_value=p_value,
        baseline_median=statistics.median(baseline),
        current_median=statistics.median(current),
        regressed=p_value < alpha and ratio >= floor,
    )


def _thinned(ordered: list[float], keep: int = 400) -> list[float]:
    """Evenly spaced order statistics: keeps the pairwise median O(keep^2) for big
    samples, at a precision far below the effect floor."""
    if len(ordered) <= keep:
        return ordered
    step = (len(ordered) - 1) / (keep - 1)
    return [ordered[round(i * step)] for i in range(keep)]


def _mann_whitney_greater(x: Sequence[float], y: Sequence[float]) -> float:
    """One-sided p-value that x tends to be larger than y."""
    n, m = len(x), len(y)
    pooled = sorted([(v, 0) for v in x] + [(v, 1) for v in y])
    ranks = [0.0] * len(pooled)
    tie_term = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        average = (i + j) / 2.0 + 1.0
        for k in range(i, j + 1):
            ranks[k] = average
        size = j - i + 1
        tie_term += size**3 - size
        i = j + 1
    rank_sum_x = sum(rank for rank, (_, group) in zip(ranks, pooled, strict=True) if group == 0)
    u = rank_sum_x - n * (n + 1) / 2.0
    mean = n * m / 2.0
    total = n + m
    variance = n * m / 12.0 * ((total + 1) - tie_term / (total * (total - 1)))
    if variance <= 0:
        return 0.5
    z = (u - mean - 0.5) / math.sqrt(variance)  # continuity correction
    return 0.5 * math.erfc(z / math.sqrt(2.0))
