"""Tracker settings, validated once into a frozen object."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal

from ._errors import ConfigurationError

ThresholdMode = Literal["stddev", "p95"]
THRESHOLD_MODES: tuple[ThresholdMode, ...] = ("stddev", "p95")


def _require_int(setting: str, value: object, low: int, high: int) -> None:
    if type(value) is not int or not low <= value <= high:
        raise ConfigurationError(setting, value, f"an int in [{low}, {high}]")


def _require_positive_number(setting: str, value: object, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    try:
        number = float(value) if isinstance(value, (int, float)) else math.nan
    except OverflowError:
        number = math.inf
    if isinstance(value, bool) or not math.isfinite(number) or number <= 0:
        expected = "a finite number > 0" + (" or None" if allow_none else "")
        raise ConfigurationError(setting, value, expected)


@dataclass(frozen=True)
class TrackerConfig:
    """Every knob of a tracker. Read once at construction; never re-read.

    window_size: samples kept per operation in the rolling window.
    min_samples: successful samples needed before a baseline is established.
    threshold: per-call slow test, "stddev" (mean + std_multiplier*std) or "p95".
    retention_seconds: operations not seen for this long are dropped when saving/loading.
    autosave_interval: seconds a changed baseline waits before a background save (None:
        only explicit save() and close()).
    warning_burst / warning_interval: per-operation slow-call warnings allowed in a burst,
        and the interval (seconds) after which the burst allowance refills.
    max_open_timers: cap on timers started but not ended (a leak guard).
    max_operations: cardinality cap; calls of further names are only counted.
    exemplars: how many slowest-call metadata records each operation keeps.
    batch_size: samples buffered before the statistics absorb them (amortization).
    improvement_ratio: a mature baseline is replaced automatically only by a window whose
        p50 and p95 are both at most this fraction of the baseline's (a real speed-up).
    idle_after: seconds without a call after which state() reads "idle" (None: never),
        so a gauge or a dashboard does not show a frozen "degraded" once traffic stops;
        the next call brings back the detector's state.
    """

    window_size: int = 1000
    min_samples: int = 10
    threshold: ThresholdMode = "stddev"
    std_multiplier: float = 2.0
    retention_seconds: float | None = None
    autosave_interval: float | None = 5.0
    warning_burst: int = 5
    warning_interval: float = 60.0
    max_open_timers: int = 100_000
    max_operations: int = 100_000
    exemplars: int = 5
    batch_size: int = 64
    improvement_ratio: float = 0.9
    idle_after: float | None = 600.0

    def __post_init__(self) -> None:
        _require_int("window_size", self.window_size, 2, 10_000_000)
        _require_int("min_samples", self.min_samples, 2, self.window_size)
        if self.threshold not in THRESHOLD_MODES:
            raise ConfigurationError("threshold", self.threshold, 'one of "stddev", "p95"')
        _require_positive_number("std_multiplier", self.std_multiplier)
        _require_positive_number("retention_seconds", self.retention_seconds, allow_none=True)
        _require_positive_number("autosave_interval", self.autosave_interval, allow_none=True)
        _require_int("warning_burst", self.warning_burst, 1, 1_000_000)
        _require_positive_number("warning_interval", self.warning_interval)
        _require_int("max_open_timers", self.max_open_timers, 1, 100_000_000)
        _require_int("max_operations", self.max_operations, 1, 100_000_000)
        _require_int("exemplars", self.exemplars, 0, 1000)
        _require_int("batch_size", self.batch_size, 1, 100_000)
        _require_positive_number("improvement_ratio", self.improvement_ratio)
        _require_positive_number("idle_after", self.idle_after, allow_none=True)
        if self.improvement_ratio >= 1:
            raise ConfigurationError(
                "improvement_ratio", self.improvement_ratio, "a number in (0, 1)"
            )


def resolve_config(config: TrackerConfig | None, **keywords: object) -> TrackerConfig:
    """The tracker's settings: `config`, or one built from the keywords.

    With `config=`, a keyword given a value other than its default that also differs
    from the config's is a conflict (ConfigurationError naming both values), never a
    silent override. A keyword left at its default defers to the config.
    """
    if config is None:
        return TrackerConfig(**keywords)  # type: ignore[arg-type]
    if not isinstance(config, TrackerConfig):
        raise ConfigurationError("config", config, "a TrackerConfig or None")
    for setting, value in keywords.items():
        default = _DEFAULTS[setting]
        configured = getattr(config, setting)
        if value != default and value != configured:
            raise ConfigurationError(
                setting,
                value,
                f"no keyword that contradicts config= (config has {setting}={configured!r};"
                " set it in the TrackerConfig, or drop one)",
            )
    return config


_DEFAULTS = {f.name: f.default for f in fields(TrackerConfig)}
