"""The baseline of one operation: a frozen summary of what "normal" looked like."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ._quantiles import mean_and_std, quantile

# Latency percentiles come from successful calls only: a failed call's duration measures
# the failure (a fast rejection, a timeout), not the operation's speed.
_FLOAT_FIELDS = ("p50", "p75", "p95", "p99", "mean", "std", "error_rate", "log_scale")
_TIME_FIELDS = ("established_at", "updated_at", "last_seen_at")
_ALL_NUMBER_FIELDS = _FLOAT_FIELDS + _TIME_FIELDS
_PUBLIC_FIELDS = (
    "p50", "p75", "p95", "p99", "mean", "std", "sample_count", "error_rate",
    "established_at", "updated_at",
)  # fmt: skip


@dataclass(frozen=True)
class Baseline:
    """What normal looks like for one operation.

    `log_scale` is a robust spread of log-durations (1.4826 x MAD of ln(duration)), the
    unit in which the detector measures shifts; `error_rate` is the failure share seen
    while the baseline was learned.
    """

    p50: float
    p75: float
    p95: float
    p99: float
    mean: float
    std: float
    sample_count: int
    error_rate: float
    log_scale: float
    established_at: float
    updated_at: float
    last_seen_at: float

    @classmethod
    def from_samples(
        cls,
        successful_durations: Sequence[float],
        failures: int,
        *,
        now: float,
        established_at: float | None = None,
    ) -> Baseline:
        ordered = sorted(successful_durations)
        mean, std = mean_and_std(ordered)
        total = len(ordered) + failures
        return cls(
            p50=quantile(ordered, 0.50),
            p75=quantile(ordered, 0.75),
            p95=quantile(ordered, 0.95),
            p99=quantile(ordered, 0.99),
            mean=mean,
            std=std,
            sample_count=len(ordered),
            error_rate=failures / total,
            log_scale=_robust_log_scale(ordered),
            established_at=now if established_at is None else established_at,
            updated_at=now,
            last_seen_at=now,
        )

    def seen_at(self, when: float) -> Baseline:
        return replace(self, last_seen_at=when)

    def to_dict(self) -> dict[str, Any]:
        # written out: dataclasses.asdict deep-copies every field (a shared file of
        # 16 processes x 1,000 operations spent 2 s of each save in it)
        return {
            "p50": self.p50,
            "p75": self.p75,
            "p95": self.p95,
            "p99": self.p99,
            "mean": self.mean,
            "std": self.std,
            "sample_count": self.sample_count,
            "error_rate": self.error_rate,
            "log_scale": self.log_scale,
            "established_at": self.established_at,
            "updated_at": self.updated_at,
            "last_seen_at": self.last_seen_at,
        }

    def public_dict(self) -> dict[str, Any]:
        """The fields users read in stats() (in this order)."""
        stored = self.to_dict()
        return {name: stored[name] for name in _PUBLIC_FIELDS}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Baseline:
        """Validate and build; raises ValueError naming the first bad field."""
        if not isinstance(raw, Mapping):
            raise ValueError(f"baseline must be an object, got {type(raw).__name__}")
        values: dict[str, Any] = {}
        numbers: list[Any] = [raw.get(name) for name in _ALL_NUMBER_FIELDS]
        # fast path (files of many processes hold thousands): every field a float >= 0;
        # their sum is finite only when each one is
        fast = all(v.__class__ is float for v in numbers) and min(numbers) >= 0.0
        if fast and math.isfinite(sum(numbers)):
            values = dict(zip(_ALL_NUMBER_FIELDS, numbers, strict=True))
        for name in () if values else _ALL_NUMBER_FIELDS:
            value = raw.get(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"field {name!r} must be a number, got {value!r}")
            number = _as_float(value)
            if number is None or not math.isfinite(number) or number < 0:
                shown = value if number is not None else f"an integer of {len(str(value))} digits"
                raise ValueError(f"field {name!r} must be finite and >= 0, got {shown!r}")
            values[name] = number
        count = raw.get("sample_count")
        if type(count) is not int or count < 1:
            raise ValueError(f"field 'sample_count' must be an int >= 1, got {count!r}")
        if values["error_rate"] >= 1:  # a baseline rests on successful calls: never all failed
            raise ValueError(f"field 'error_rate' must be < 1, got {values['error_rate']!r}")
        if not values["p50"] <= values["p75"] <= values["p95"] <= values["p99"]:
            raise ValueError("percentiles must satisfy p50 <= p75 <= p95 <= p99")
        return cls(sample_count=count, **values)


def _as_float(value: float) -> float | None:
    """The value as a float, None when an int is too large to be one."""
    try:
        return float(value)
    except OverflowError:
        return None


def _robust_log_scale(ordered: Sequence[float]) -> float:
    """1.4826 x MAD of ln(duration): a std-like spread immune to outliers."""
    floor = 1e-9  # a zero duration (coarse clocks) must not produce -inf
    logs = sorted(math.log(max(d, floor)) for d in ordered)
    center = quantile(logs, 0.5)
    deviations = sorted(abs(v - center) for v in logs)
    return 1.4826 * quantile(deviations, 0.5)
