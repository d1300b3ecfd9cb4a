"""A mergeable quantile sketch on the OpenTelemetry exponential-histogram mapping.

Accuracy guarantee: at scale `s` the buckets grow by gamma = 2**(2**-s); bucket `i` holds
the values in (gamma**i, gamma**(i+1)]. Every quantile is answered with the bucket's
relative midpoint 2 * gamma**(i+1) / (gamma + 1), so for every positive value x of the
bucket holding the requested rank, |answer - x| <= alpha * x with
alpha = (gamma - 1) / (gamma + 1) (scale 6: alpha = 0.54 %; scale 3: 4.3 %). Zeros are
counted exactly in a zero bucket; count, sum, min and max are exact; mean and variance are
merged with Chan's parallel formula.

Merging adds bucket counts, so it is exact, commutative and associative; sketches of
different scales are merged at the coarser scale (downscaling by d maps bucket i to
i >> d, exactly, because each coarse bucket is a union of 2**d fine ones). The bucket
layout is the OTel one, so an exporter can hand the buckets over unchanged.
"""

from __future__ import annotations

import math
from collections import Counter, _count_elements  # type: ignore[attr-defined]
from collections.abc import Iterable, Mapping
from itertools import repeat
from operator import mul
from typing import Any

DEFAULT_SCALE = 6
MIN_SCALE, MAX_SCALE = -10, 20


_minus_one = (-1).__add__


class SketchError(ValueError):
    """Sketches that cannot be combined, or a serialized sketch that is inconsistent."""


class LogSketch:
    """Counts of values in exponentially growing buckets, plus exact moments."""

    __slots__ = (
        "_factor",
        "buckets",
        "count",
        "m2",
        "maximum",
        "mean",
        "minimum",
        "scale",
        "total",
        "zero_count",
    )

    def __init__(self, scale: int = DEFAULT_SCALE) -> None:
        if type(scale) is not int or not MIN_SCALE <= scale <= MAX_SCALE:
            raise SketchError(f"scale must be an int in [{MIN_SCALE}, {MAX_SCALE}], got {scale!r}")
        self.scale = scale
        self._factor = 2.0**scale / math.log(2.0)  # index = ceil(ln(x) * factor) - 1
        self.buckets: Counter[int] = Counter()
        self.zero_count = 0
        self.count = 0
        self.total = 0.0
        self.minimum = math.inf
        self.maximum = -math.inf
        self.mean = 0.0
        self.m2 = 0.0

    @property
    def gamma(self) -> float:
        return float(2.0 ** (2.0**-self.scale))

    @property
    def relative_error(self) -> float:
        """alpha: the bound on |answer - value| / value for every quantile."""
        gamma = self.gamma
        return (gamma - 1.0) / (gamma + 1.0)

    def index_of(self, value: float) -> int:
        return math.ceil(math.log(value) * self._factor) - 1

    def add(self, value: float) -> None:
        self.add_many((value,))

    def add_many(self, values: Iterable[float]) -> None:
        """Add finite, non-negative values (the caller validated them)."""
        batch = values if isinstance(values, list) else list(values)
        if not batch:
            return
        lowest = min(batch)
        if lowest > 0.0:
            positives = batch
        else:
            positives = [v for v in batch if v > 0.0]
            self.zero_count += len(batch) - len(positives)
        # map() chains run in C: about a third of the cost of a comprehension; counted
        # by Counter's C helper directly (Counter.update's own checks cost per batch)
        _count_elements(
            self.buckets,
            map(
                _minus_one, map(math.ceil, map(mul, map(math.log, positives), repeat(self._factor)))
            ),
        )
        count = len(batch)
        total = math.fsum(batch)
        batch_mean = total / count
        # sum of squared deviations = sum of squares - n * mean^2 (fsum keeps it exact
        # enough for durations; merged across batches with Chan's formula)
        batch_m2 = max(0.0, math.fsum(map(mul, batch, batch)) - count * batch_mean * batch_mean)
        self._combine_moments(count, total, batch_mean, batch_m2)
        self.minimum = min(self.minimum, lowest)
        self.maximum = max(self.maximum, max(batch))

    def _combine_moments(self, count: int, total: float, mean: float, m2: float) -> None:
        """Chan et al.'s parallel update of count, mean and sum of squared deviations."""
        if count == 0:
            return
        combined = self.count + count
        delta = mean - self.mean
        self.mean += delta * count / combined
        self.m2 += m2 + delta * delta * self.count * count / combined
        self.count = combined
        self.total += total

    @property
    def variance(self) -> float:
        """Sample variance (n - 1); 0 for fewer than two values."""
        return self.m2 / (self.count - 1) if self.count > 1 else 0.0

    # -- merging -------------------------------------------------------------------------

    def downscaled(self, scale: int) -> LogSketch:
        """The same data at a coarser scale (exact)."""
        if scale > self.scale:
            raise SketchError(
                f"cannot upscale a sketch from scale {self.scale} to {scale}: finer buckets "
                "cannot be recovered from coarse ones"
            )
        shift = self.scale - scale
        result = self.copy(scale)
        if shift:
            coarse: Counter[int] = Counter()
            for index, count in self.buckets.items():
                coarse[index >> shift] += count
            result.buckets = coarse
        return result

    def merged(self, other: LogSketch) -> LogSketch:
        """A new sketch of both data sets, at the coarser of the two scales."""
        scale = min(self.scale, other.scale)
        result = self.downscaled(scale)
        result.merge_in(other)
        return result

    def merge_in(self, other: LogSketch) -> None:
        """Add `other` into this sketch; refuses a finer-than-other target's data loss."""
        if other.scale < self.scale:
            raise SketchError(
                f"cannot merge a scale-{other.scale} sketch into a scale-{self.scale} one in "
                "place (it would need upscaling); use merged(), which downscales"
            )
        source = other.downscaled(self.scale) if other.scale > self.scale else other
        self.buckets.update(source.buckets)
        self.zero_count += source.zero_count
        self._combine_moments(source.count, source.total, source.mean, source.m2)
        self.minimum = min(self.minimum, source.minimum)
        self.maximum = max(self.maximum, source.maximum)

    def copy(self, scale: int | None = None) -> LogSketch:
        result = LogSketch(self.scale if scale is None else scale)
        result.buckets = Counter(self.buckets)
        result.zero_count = self.zero_count
        result.count = self.count
        result.total = self.total
        result.minimum = self.minimum
        result.maximum = self.maximum
        result.mean = self.mean
        result.m2 = self.m2
        return result

    # -- reading -------------------------------------------------------------------------

    def quantile(self, q: float) -> float:
        """The value at rank floor(q * (count - 1)), within the relative error bound."""
        if not 0.0 <= q <= 1.0:
            raise SketchError(f"quantile must be in [0, 1], got {q!r}")
        if self.count == 0:
            raise SketchError("quantile of an empty sketch")
        rank = math.floor(q * (self.count - 1))
        if rank < self.zero_count:
            return 0.0
        seen = self.zero_count
        gamma = self.gamma
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen > rank:
                estimate = 2.0 * gamma ** (index + 1) / (gamma + 1.0)
                return min(max(estimate, self.minimum), self.maximum)
        return self.maximum  # unreachable when counts are consistent

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LogSketch):
            return NotImplemented
        return (
            self.scale == other.scale
            and +self.buckets == +other.buckets
            and self.zero_count == other.zero_count
            and self.count == other.count
            and self.minimum == other.minimum
            and self.maximum == other.maximum
            and math.isclose(self.total, other.total, rel_tol=1e-9, abs_tol=1e-12)
            and math.isclose(self.mean, other.mean, rel_tol=1e-9, abs_tol=1e-12)
            and math.isclose(self.m2, other.m2, rel_tol=1e-6, abs_tol=1e-12)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    # -- serialization -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: bucket indices as a sorted list of [index, count] pairs."""
        return {
            "scale": self.scale,
            "count": self.count,
            "zero_count": self.zero_count,
            "sum": self.total,
            "min": self.minimum if self.count else None,
            "max": self.maximum if self.count else None,
            "mean": self.mean,
            "m2": self.m2,
            "buckets": [[i, c] for i, c in sorted(self.buckets.items()) if c],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> LogSketch:
        """Validate and build; SketchError names what is inconsistent."""
        if not isinstance(raw, Mapping):
            raise SketchError(f"a sketch must be an object, got {type(raw).__name__}")
        sketch = cls(raw.get("scale"))  # type: ignore[arg-type]
        count = _non_negative_int(raw, "count")
        zero_count = _non_negative_int(raw, "zero_count")
        buckets: Counter[int] = Counter()
        pairs = raw.get("buckets")
        if not isinstance(pairs, list):
            raise SketchError("field 'buckets' must be a list of [index, count] pairs")
        for pair in pairs:
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or type(pair[0]) is not int
                or type(pair[1]) is not int
                or pair[1] < 1
            ):
                raise SketchError(f"bad bucket {pair!r}: expected [int index, int count >= 1]")
            if pair[0] in buckets:
                raise SketchError(f"bucket {pair[0]} appears twice")
            buckets[pair[0]] = pair[1]
        if zero_count + sum(buckets.values()) != count:
            raise SketchError(
                f"count {count} disagrees with its buckets "
                f"({zero_count} zeros + {sum(buckets.values())} in buckets)"
            )
        sketch.count = count
        sketch.zero_count = zero_count
        sketch.buckets = buckets
        sketch.total = _finite(raw, "sum")
        sketch.mean = _finite(raw, "mean")
        sketch.m2 = _finite(raw, "m2")
        if count:
            sketch.minimum = _finite(raw, "min")
            sketch.maximum = _finite(raw, "max")
            if not 0.0 <= sketch.minimum <= sketch.maximum:
                raise SketchError("min and max must satisfy 0 <= min <= max")
        return sketch


def _non_negative_int(raw: Mapping[str, Any], name: str) -> int:
    value = raw.get(name)
    if type(value) is not int or value < 0:
        raise SketchError(f"field {name!r} must be an int >= 0, got {value!r}")
    return value


def _finite(raw: Mapping[str, Any], name: str) -> float:
    value = raw.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SketchError(f"field {name!r} must be a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:
        raise SketchError(f"field {name!r} is too large") from None
    if not math.isfinite(number):
        raise SketchError(f"field {name!r} must be finite, got {value!r}")
    return number


class SketchDelta:
    """What one operation recorded since the previous flush: successful durations in the
    sketch, failures counted, and when it was last seen."""

    __slots__ = ("failures", "last_seen_at", "sketch")

    def __init__(self, sketch: LogSketch, failures: int = 0, last_seen_at: float = 0.0) -> None:
        self.sketch = sketch
        self.failures = failures
        self.last_seen_at = last_seen_at

    def merge_in(self, other: SketchDelta) -> None:
        self.sketch.merge_in(other.sketch)
        self.failures += other.failures
        self.last_seen_at = max(self.last_seen_at, other.last_seen_at)
