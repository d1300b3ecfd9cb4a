"""A cumulative duration histogram per operation, kept only when an exporter asks for
one; counted in the batch absorb (a few tens of ns a call), never per call."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from itertools import accumulate, repeat

from ._errors import ConfigurationError


class DurationHistogram:
    """Counts per upper bound (+Inf implied) and the sum of the counted durations."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def count(self, encoded_batch: list[float], failures: int) -> None:
        """Count a batch of encoded samples (its `failures` too, by their duration)."""
        if failures:
            durations = [v if v >= 0.0 else -1.0 - v for v in encoded_batch]
        else:
            durations = encoded_batch
        counts = self.counts
        # bisect_left: a value equal to a bound belongs to that bound's bucket (le)
        for index, count in Counter(map(bisect_left, repeat(self.bounds), durations)).items():
            counts[index] += count
        self.total += math.fsum(durations)

    def cumulative(self) -> tuple[int, ...]:
        return tuple(accumulate(self.counts))


def checked_bounds(bounds: tuple[float, ...]) -> tuple[float, ...]:
    """Histogram bounds, sorted; ConfigurationError unless finite numbers > 0."""
    ordered = tuple(sorted(float(b) for b in bounds))
    if not ordered or any(not 0 < b < float("inf") for b in ordered):
        raise ConfigurationError("histogram bounds", bounds, "finite numbers > 0")
    return ordered
