"""Sustained-degradation detection: sequential tests on blocks of samples.

Why blocks: the detector must cost almost nothing per call, and its decisions must depend
only on the sequence of samples. Samples are grouped into consecutive blocks of
`BLOCK_SIZE` by their index in the stream (never by drain timing), each block is sorted
once, and counts against the baseline's reference points are read by bisection.

Each signal is a one-sided binomial CUSUM (Page's test with Bernoulli log-likelihood
ratios) on a rank statistic, so heavy tails and multi-modal latency cannot fool it:

- latency: the share of successful calls slower than the baseline p50 (0.5 when healthy),
  tested against a small shift and, separately, against a large jump (fast detection);
- tail: the share slower than the baseline p95 (0.05 when healthy);
- errors: the share of failed calls (the baseline error rate when healthy).

Two stages: a test crossing its threshold only *proposes* an alert; it is confirmed when
the recent effect is at least a floor (a minimum effect size, as asv and Otava use), so
a statistically clear but practically tiny shift is not reported. While degraded, a
reverse CUSUM per degraded signal accumulates evidence of a return to baseline; all must
agree before the state clears (hysteresis, as Prometheus `for` / `keep_firing_for`).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

from ._baseline import Baseline
from ._events import Signal
from ._quantiles import quantile

BLOCK_SIZE = 16
_MIN_ERROR_RATE = 0.002  # floor on the baseline error rate: an error-free baseline
# must not make a single failure look like a catastrophe


@dataclass(frozen=True)
class DetectorSettings:
    """Tuning of the sequential tests (docs/detection.md explains each)."""

    latency_shift: float = 0.62  # share above baseline p50 the slow test is tuned for
    latency_jump: float = 0.85  # share above p50 the fast test is tuned for
    tail_rate: float = 0.15  # share above baseline p95 the tail test is tuned for
    threshold: float = 12.0  # log-likelihood ratio needed to propose an alert
    recovery_threshold: float = 6.0
    latency_floor: float = 1.1  # minimum current p50 / baseline p50 to report latency
    tail_floor: float = 1.3  # minimum current p95 / baseline p95 to report tail
    error_floor: float = 0.02  # minimum absolute error-rate increase to report errors
    recent_samples: int = 128  # samples the confirmation stage measures the effect on


class BinomialCusum:
    """Page's CUSUM for a Bernoulli rate rising from p0 to p1, fed counts per block."""

    __slots__ = ("hit_weight", "miss_weight", "started_at", "statistic", "threshold")

    def __init__(self, p0: float, p1: float, threshold: float) -> None:
        self.hit_weight = math.log(p1 / p0)
        self.miss_weight = math.log((1.0 - p1) / (1.0 - p0))
        self.threshold = threshold
        self.statistic = 0.0
        self.started_at = 0

    def update(self, hits: int, trials: int, block_start: int) -> bool:
        """Add one block; True when the statistic is over the threshold."""
        if self.statistic == 0.0:
            self.started_at = block_start
        value = self.statistic + hits * self.hit_weight + (trials - hits) * self.miss_weight
        self.statistic = value if value > 0.0 else 0.0
        return self.statistic > self.threshold

    def reset(self) -> None:
        self.statistic = 0.0


@dataclass(frozen=True)
class Verdict:
    """A state change decided by the detector."""

    kind: str  # "degraded" | "recovered"
    signals: tuple[Signal, ...]
    current: dict[str, float]
    effect_ratio: float
    evidence: dict[str, Any]
    started_at_sample: int


class SustainedDetector:
    """Drives ok <-> degraded for one operation from blocks of samples."""

    def __init__(self, baseline: Baseline, settings: DetectorSettings | None = None) -> None:
        s = self.settings = settings or DetectorSettings()
        self.baseline = baseline
        self._p50 = baseline.p50
        self._p95 = baseline.p95
        self._reference_error = max(baseline.error_rate, _MIN_ERROR_RATE)
        error_alt = min(
            0.9, max(3.0 * self._reference_error, self._reference_error + s.error_floor)
        )
        self._error_alt = error_alt
        self._latency = BinomialCusum(0.5, s.latency_shift, s.threshold)
        self._jump = BinomialCusum(0.5, s.latency_jump, s.threshold)
        self._tail = BinomialCusum(0.05, s.tail_rate, s.threshold)
        self._errors = BinomialCusum(self._reference_error, error_alt, s.threshold)
        self._tests: dict[str, BinomialCusum] = {
            "latency": self._latency,
            "latency_jump": self._jump,
            "tail": self._tail,
            "errors": self._errors,
        }
        self._recovery: dict[Signal, BinomialCusum] = {}
        self.degraded_signals: tuple[Signal, ...] = ()
        self.episode_start = 0

    @property
    def degraded(self) -> bool:
        return bool(self.degraded_signals)

    def observe_block(self, sorted_successes: list[float], failures: int, block_start: int) -> bool:
        """Feed one block; True when a decision is due (call decide() with recent data)."""
        n_ok = len(sorted_successes)
        above_median = n_ok - bisect_right(sorted_successes, self._p50)
        above_tail = n_ok - bisect_right(sorted_successes, self._p95)
        if self.degraded_signals:
            return self._observe_recovery(above_median, above_tail, n_ok, failures, block_start)
        proposed = False
        if n_ok:
            below = n_ok - above_median
            proposed = self._latency.update(above_median, n_ok, block_start)
            jump = self._jump
            if jump.statistic == 0.0:
                jump.started_at = block_start
            value = jump.statistic + above_median * jump.hit_weight + below * jump.miss_weight
            jump.statistic = value if value > 0.0 else 0.0
            tail = self._tail
            if tail.statistic == 0.0:
                tail.started_at = block_start
            value = (
                tail.statistic
                + above_tail * tail.hit_weight
                + (n_ok - above_tail) * tail.miss_weight
            )
            tail.statistic = value if value > 0.0 else 0.0
            proposed = (
                proposed or jump.statistic > jump.threshold or tail.statistic > tail.threshold
            )
        errors = self._errors
        if failures or errors.statistic:
            proposed = errors.update(failures, n_ok + failures, block_start) or proposed
        return proposed

    def _observe_recovery(
        self, above_median: int, above_tail: int, n_ok: int, failures: int, block_start: int
    ) -> bool:
        """Reverse tests: a "hit" is a sample that looks healthy."""
        all_clear = True
        for signal, test in self._recovery.items():
            if signal == "latency":
                healthy, trials = n_ok - above_median, n_ok
            elif signal == "tail":
                healthy, trials = n_ok - above_tail, n_ok
            else:
                healthy, trials = n_ok, n_ok + failures
            if trials:
                test.update(healthy, trials, block_start)
            if test.statistic <= test.threshold:
                all_clear = False
        return all_clear

    def evidence_span(self, next_sample: int) -> int:
        """How many recent samples decide() should see: those since the estimated change
        point (where the firing test last left zero), at least two blocks; while degraded,
        the last `settings.recent_samples`."""
        if self.degraded_signals:
            return self.settings.recent_samples
        starts = [t.started_at for t in self._tests.values() if t.statistic > t.threshold]
        start = min(starts) if starts else next_sample - self.settings.recent_samples
        return max(next_sample - start, 2 * BLOCK_SIZE)

    def decide(self, recent_encoded: list[float]) -> Verdict | None:
        """Second stage: confirm a proposed alert (or a recovery) on recent samples.

        `recent_encoded` are the samples evidence_span() asked for, in the window's
        encoding (failures negative).
        """
        current = current_figures(recent_encoded)
        if self.degraded_signals:
            return self._recover(current)
        return self._confirm(current)

    def _confirm(self, current: dict[str, float]) -> Verdict | None:
        base = self.baseline
        s = self.settings
        fired = [name for name, t in self._tests.items() if t.statistic > t.threshold]
        confirmed: list[Signal] = []
        ratios: dict[str, float] = {}
        if "latency" in fired or "latency_jump" in fired:
            ratio = _ratio(current["p50"], base.p50)
            if ratio >= s.latency_floor:
                confirmed.append("latency")
                ratios["latency"] = ratio
        if "tail" in fired:
            ratio = _ratio(current["p95"], base.p95)
            if ratio >= s.tail_floor:
                confirmed.append("tail")
                ratios["tail"] = ratio
        if "errors" in fired and current["error_rate"] - base.error_rate >= s.error_floor:
            confirmed.append("errors")
            ratios["errors"] = current["error_rate"] / self._reference_error
        if not confirmed:
            return None
        evidence = {
            "test": "binomial CUSUM on rank indicators, confirmed by effect size",
            "statistics": {name: round(t.statistic, 3) for name, t in self._tests.items()},
            "threshold": s.threshold,
            "fired": fired,
            "effect_floors": {
                "latency": s.latency_floor,
                "tail": s.tail_floor,
                "errors": s.error_floor,
            },
        }
        start = min(self._tests[name].started_at for name in fired)
        self.degraded_signals = tuple(confirmed)
        self.episode_start = start
        self._start_recovery_tests()
        return Verdict("degraded", tuple(confirmed), current, ratios[confirmed[0]], evidence, start)

    def _start_recovery_tests(self) -> None:
        s = self.settings
        self._recovery = {}
        for signal in self.degraded_signals:
            if signal == "latency":
                test = BinomialCusum(1.0 - s.latency_shift, 0.5, s.recovery_threshold)
            elif signal == "tail":
                test = BinomialCusum(1.0 - s.tail_rate, 0.95, s.recovery_threshold)
            else:
                test = BinomialCusum(
                    1.0 - self._error_alt, 1.0 - self._reference_error, s.recovery_threshold
                )
            self._recovery[signal] = test

    def _recover(self, current: dict[str, float]) -> Verdict:
        signals = self.degraded_signals
        evidence = {
            "test": "reverse binomial CUSUM (return to baseline)",
            "statistics": {name: round(t.statistic, 3) for name, t in self._recovery.items()},
            "threshold": self.settings.recovery_threshold,
        }
        ratio = _ratio(current["p50"], self.baseline.p50)
        verdict = Verdict("recovered", signals, current, ratio, evidence, self.episode_start)
        self.degraded_signals = ()
        self._recovery = {}
        for test in self._tests.values():
            test.reset()
        return verdict


def current_figures(encoded: list[float]) -> dict[str, float]:
    """p50, p95, p99 of successful samples and the error rate, from encoded samples."""
    successes = sorted(v for v in encoded if v >= 0.0)
    failures = len(encoded) - len(successes)
    figures = {"error_rate": failures / len(encoded) if encoded else 0.0}
    for label, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        figures[label] = quantile(successes, q) if successes else 0.0
    return figures


def _ratio(current: float, reference: float) -> float:
    if reference > 0:
        return current / reference
    return math.inf if current > 0 else 1.0
