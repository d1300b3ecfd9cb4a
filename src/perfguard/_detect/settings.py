"""The detector's tuning, validated once into a frozen object (docs/detection.md)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from .._errors import ConfigurationError

BLOCK_SIZE = 16  # samples per block: the unit every test and decision works on


@dataclass(frozen=True)
class DetectorSettings:
    """Tuning of the sequential tests (docs/detection.md explains each)."""

    latency_shift: float = 0.62  # share above reference p50 the slow test is tuned for
    latency_jump: float = 0.85  # share above p50 the fast test is tuned for
    tail_rate: float = 0.15  # share above reference p95 the p95 test is tuned for
    extreme_rate: float = 0.04  # share above reference p99 the p99 test is tuned for
    threshold: float = 12.0  # log-likelihood ratio needed to propose an alert
    # operations sharing one false-alarm budget (adds ln N to every threshold); None: the
    # operations the tracker knows when the detector is armed (one budget per tracker)
    family_size: int | None = None
    tail_threshold: float = 9.0  # the same for the tail tests (confirmed more strictly)
    recovery_threshold: float = 6.0
    recovery_block_floor: float = 3.0  # most evidence one block can take from a recovery
    recovery_tolerance: float = 1.05  # back to within this ratio of the reference = healthy
    recovery_min_samples: int = 128  # recovery must be shown over at least this many calls
    reopen_within: int = 1000  # a relapse this many calls after a recovery reopens it
    min_baseline_samples: int = 600  # a baseline is tested against from this size on
    tail_min_samples: int = 800  # baseline samples needed before the tail is tested
    latency_floor: float = 1.1  # minimum p50 ratio to report latency
    tail_floor: float = 1.3  # minimum p95 ratio to report tail
    tail_share_floor: float = 0.03  # minimum share above reference p99 to report tail
    far_tail_factor: float = 3.0  # the far tail: slower than this x the reference p99
    far_tail_floor: float = 0.002  # the healthy far-tail share is taken as at least this
    far_tail_ratio: float = 5.0  # the far-tail test is tuned for this x the healthy share
    far_tail_effect: float = 3.0  # a far-tail alert needs this x the healthy share
    # a tail moving with a level move not confirmed (wander) needs this x the tail floors
    tail_with_level: float = 2.0
    # an alert needs its change to be still on at the end of its span: the last
    # still_slow_samples calls' p50 at least still_slow_floor x the reference p50, the last
    # still_heavy_samples calls' share above the p95 at least still_heavy_share (or a
    # third of it above the p99); a wander over before it is judged is not reported
    still_slow_samples: int = 32
    still_slow_floor: float = 1.2
    still_heavy_samples: int = 128
    still_heavy_share: float = 0.08
    error_floor: float = 0.02  # minimum absolute error-rate increase to report errors
    min_persistence: int = 96  # samples a latency effect must last
    # ... unless it is this large (p50 ratio, trimmed too): then it is judged after
    # large_effect_persistence samples (healthy bursts stay well below it)
    large_effect: float = 5.0
    large_effect_persistence: int = 64
    error_persistence: int = 32  # samples an error-rate effect must last
    tail_persistence: int = 224  # samples a tail effect must last (tail events are sparse)
    burst_length: int = 64  # the longest slow burst that must never be reported alone
    track_step: float = 0.03  # largest move of the reference per update (ratio)
    track_range: float = 1.3  # the reference stays within [1/range, range] x baseline
    track_gate: float = 0.5  # tracking slows while a test exceeds gate x threshold
    track_while_proposing: float = 0.5  # ... to this fraction of track_step
    track_deadband: float = 0.03  # level changes smaller than this (log) are noise
    noise_z: float = 3.5  # a latency shift must stand this many level deviations out
    # the smallest change of a duration worth reporting, in seconds; None: two ticks of
    # the tracker's clock (its `resolution`), so quantized durations cannot alert
    min_effect_seconds: float | None = None
    recent_samples: int = 128  # samples the recovery verdict describes
    max_span: int = 768  # most recent samples a confirmation looks at

    def __post_init__(self) -> None:
        for name, low, high in _OPEN_INTERVALS:
            _require(self, name, _between(low, high), f"a number in ({low:g}, {high:g})")
        for name in _POSITIVE:
            _require(self, name, lambda v: 0 < v < math.inf, "a finite number > 0")
        for name in _AT_LEAST_ONE:
            _require(self, name, lambda v: 1 <= v < math.inf, "a finite number >= 1")
        effect = self.min_effect_seconds
        if effect is not None and not (_is_number(effect) and 0 <= effect < math.inf):
            raise ConfigurationError("min_effect_seconds", effect, "a finite number >= 0 or None")
        for name in _COUNTS:
            value = getattr(self, name)
            if name == "family_size" and value is None:
                continue
            if type(value) is not int or value < 1:
                expected = "an int >= 1 or None" if name == "family_size" else "an int >= 1"
                raise ConfigurationError(name, value, expected)
        # spans a latency alert could never be confirmed on: nothing left once the burst
        # is taken out, or longer than a confirmation ever looks
        if self.burst_length >= self.min_persistence:
            expected = f"an int < min_persistence ({self.min_persistence})"
            raise ConfigurationError("burst_length", self.burst_length, expected)
        if self.min_persistence > self.max_span:
            expected = f"an int <= max_span ({self.max_span})"
            raise ConfigurationError("min_persistence", self.min_persistence, expected)


def _between(low: float, high: float) -> Callable[[float], bool]:
    return lambda value: low < value < high


def _require(
    settings: DetectorSettings, name: str, within: Callable[[float], bool], expected: str
) -> None:
    value = getattr(settings, name)
    if not _is_number(value) or not within(value):
        raise ConfigurationError(name, value, expected)


_OPEN_INTERVALS = (
    ("latency_shift", 0.5, 1.0),
    ("latency_jump", 0.5, 1.0),
    ("tail_rate", 0.05, 1.0),
    ("extreme_rate", 0.01, 1.0),
    ("track_while_proposing", -1e-12, 1.0 + 1e-12),
    ("still_heavy_share", 0.0, 1.0),
)
_AT_LEAST_ONE = (
    "recovery_tolerance",
    "large_effect",
    "track_range",
    "far_tail_factor",
    "far_tail_ratio",
    "far_tail_effect",
    "tail_with_level",
    "still_slow_floor",
)
_POSITIVE = (
    "threshold",
    "tail_threshold",
    "recovery_threshold",
    "recovery_block_floor",
    "latency_floor",
    "tail_floor",
    "tail_share_floor",
    "far_tail_floor",
    "error_floor",
    "track_step",
    "track_gate",
    "track_deadband",
    "noise_z",
)
_COUNTS = (
    "family_size",
    "min_baseline_samples",
    "tail_min_samples",
    "min_persistence",
    "large_effect_persistence",
    "error_persistence",
    "tail_persistence",
    "burst_length",
    "recent_samples",
    "max_span",
    "recovery_min_samples",
    "reopen_within",
    "still_slow_samples",
    "still_heavy_samples",
)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
