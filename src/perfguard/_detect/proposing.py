"""The stage-one tests of a detector and the healthy rates they are set from, derived
from the baseline (and the samples it was learned from) when the detector is armed."""

from __future__ import annotations

import math

from .._baseline import Baseline
from .cusum import BinomialCusum
from .settings import DetectorSettings

_MIN_ERROR_RATE = 0.002  # an error-free baseline must not make one failure a catastrophe
_MAX_ERROR_RATE = 0.8  # ... and a baseline of mostly failures must leave room above it


def error_rates(baseline: Baseline, settings: DetectorSettings) -> tuple[float, float]:
    """The error test's healthy and alternative rates. The tested rate stays below the
    alternative, so a baseline learned while most calls failed cannot turn it around."""
    reference = min(max(baseline.error_rate, _MIN_ERROR_RATE), _MAX_ERROR_RATE)
    return reference, min(0.95, max(3.0 * reference, reference + settings.error_floor))


def proposing_tests(
    s: DetectorSettings, reference_error: float, error_alt: float, far_rate: float
) -> dict[str, BinomialCusum]:
    """The stage-one tests, in the order the detector unpacks them."""
    # Bonferroni-style: N operations watched together share one false-alarm budget,
    # so each test needs ln(N) more evidence (e^-h bounds a false start per excursion).
    extra = math.log(s.family_size or 1)
    threshold, tail_threshold = s.threshold + extra, s.tail_threshold + extra
    return {
        "latency": BinomialCusum(0.5, s.latency_shift, threshold),
        "latency_jump": BinomialCusum(0.5, s.latency_jump, threshold),
        "tail": BinomialCusum(0.05, s.tail_rate, tail_threshold),
        "tail_extreme": BinomialCusum(0.01, s.extreme_rate, tail_threshold),
        # The far tail: calls slower than far_tail_factor x the reference p99. At most
        # 1 % of healthy calls can be there (they are above the p99); the operation's
        # own share is learned from the window the baseline came from (far_rate), so
        # an operation whose GC pauses reach that far is tested against them.
        "tail_far": BinomialCusum(far_rate, min(0.5, s.far_tail_ratio * far_rate), tail_threshold),
        "errors": BinomialCusum(reference_error, error_alt, threshold),
    }


def far_rate(
    baseline: Baseline, recent_encoded: list[float] | None, settings: DetectorSettings
) -> float:
    """The healthy share of calls slower than far_tail_factor x the baseline p99, from the
    samples the baseline was learned from: (count + 1) / (n + 1), at least
    `far_tail_floor`. Without those samples (a baseline loaded from a store), 1 %: no
    more than that can be above the p99 at all."""
    limit = settings.far_tail_factor * baseline.p99
    successes = [v for v in recent_encoded or () if v >= 0.0]
    if len(successes) < settings.tail_min_samples or limit <= 0.0:
        return 0.01
    above = sum(map(limit.__lt__, successes))
    return min(0.01, max(settings.far_tail_floor, (above + 1) / (len(successes) + 1)))
