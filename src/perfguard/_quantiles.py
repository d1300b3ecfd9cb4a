"""Order statistics over a sorted sample (computed on demand, never per call)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """The q-quantile (0 <= q <= 1) by linear interpolation between closest ranks.

    This is the "linear" method of numpy and of Hyndman & Fan's type 7, so figures agree
    with what users compute themselves.
    """
    n = len(sorted_values)
    if n == 0:
        raise ValueError("quantile of an empty sample")
    position = q * (n - 1)
    lower = math.floor(position)
    upper = min(lower + 1, n - 1)
    fraction = position - lower
    low_value = sorted_values[lower]
    return low_value + (sorted_values[upper] - low_value) * fraction


def mean_and_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n-1), two-pass for accuracy; std 0 for n < 2."""
    n = len(values)
    if n == 0:
        raise ValueError("mean of an empty sample")
    mean = math.fsum(values) / n
    if n < 2:
        return mean, 0.0
    deviations = [v - mean for v in values]
    # Deviations are scaled by the largest one so that squaring huge (finite) values
    # cannot overflow; the scale cancels out of the result.
    largest = max(abs(d) for d in deviations)
    if largest == 0.0:
        return mean, 0.0
    variance = math.fsum((d / largest) ** 2 for d in deviations) / (n - 1)
    return mean, math.sqrt(variance) * largest
