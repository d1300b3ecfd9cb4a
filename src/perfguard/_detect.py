"""Sustained-degradation detection: sequential tests on blocks of samples.

Why blocks: the detector must cost almost nothing per call, and its decisions must depend
only on the sequence of samples. Samples are grouped into consecutive blocks of
`BLOCK_SIZE` by their index in the stream (never by drain timing); each block is sorted
once, and counts against reference quantiles are read by bisection.

Stage one proposes. Each signal is a one-sided binomial CUSUM (Page's test with
Bernoulli log-likelihood ratios) on a rank indicator, so heavy tails and multi-modal
latency cannot fool it:

- latency: share of successful calls slower than the reference p50 (0.5 when healthy),
  tested against a small shift and, separately, a large jump (fast detection);
- tail: share slower than the reference p95 (0.05) and than the reference p99 (0.01);
- errors: share of failed calls (the baseline error rate when healthy).

Stage two confirms, on the samples since the estimated change point (where the firing
test last left zero), as Sentry's regression detector confirms its cheap trigger:

- persistence: at least `min_persistence` samples, and the effect must survive removing
  the two worst 16-sample stretches, so a short burst is never an alert;
- effect size: p50 ratio >= `latency_floor`, or p95 ratio >= `tail_floor`, or a share
  above the reference p99 of at least `tail_share_floor`, or an error-rate increase of at
  least `error_floor` (minimum effect sizes, as asv and Otava use).

The reference follows slow, bounded movements of the level (daily cycles): every four
blocks it moves toward the median of block medians seen 128-384 samples earlier, by at
most `track_step` per update, never beyond `track_range` of the learned baseline, and
never while any test is accumulating evidence or the operation is degraded. The learned
baseline itself never moves; an abrupt shift (a step, a fast drift) outruns the tracking
and is tested in full, and a slow drift is caught once it leaves the band.

While degraded, a reverse CUSUM per degraded signal accumulates evidence of a return to
the reference; all must agree before the state clears (hysteresis in the spirit of
Prometheus `for` / `keep_firing_for`).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from operator import sub
from typing import Any

from ._baseline import Baseline
from ._errors import ConfigurationError
from ._events import Signal
from ._quantiles import quantile

BLOCK_SIZE = 16
_TRACK_EVERY = 4  # blocks between reference updates
_LAG_NEAR, _LAG_FAR = 8, 24  # the lagged level: block medians 8..24 blocks ago
_SIGNAL_OF: dict[str, Signal] = {
    "latency": "latency",
    "latency_jump": "latency",
    "tail": "tail",
    "tail_extreme": "tail",
    "errors": "errors",
}
_MIN_ERROR_RATE = 0.002  # an error-free baseline must not make one failure a catastrophe


@dataclass(frozen=True)
class DetectorSettings:
    """Tuning of the sequential tests (docs/detection.md explains each)."""

    latency_shift: float = 0.62  # share above reference p50 the slow test is tuned for
    latency_jump: float = 0.85  # share above p50 the fast test is tuned for
    tail_rate: float = 0.15  # share above reference p95 the p95 test is tuned for
    extreme_rate: float = 0.04  # share above reference p99 the p99 test is tuned for
    threshold: float = 12.0  # log-likelihood ratio needed to propose an alert
    family_size: int = 1  # operations sharing one false-alarm budget (adds ln N)
    tail_threshold: float = 9.0  # the same for the tail tests (confirmed more strictly)
    recovery_threshold: float = 6.0
    recovery_block_floor: float = 3.0  # most evidence one block can take from a recovery
    recovery_tolerance: float = 1.05  # back to within this ratio of the reference = healthy
    min_baseline_samples: int = 600  # a baseline is tested against from this size on
    tail_min_samples: int = 800  # baseline samples needed before the tail is tested
    latency_floor: float = 1.1  # minimum p50 ratio to report latency
    tail_floor: float = 1.3  # minimum p95 ratio to report tail
    tail_share_floor: float = 0.025  # minimum share above reference p99 to report tail
    error_floor: float = 0.02  # minimum absolute error-rate increase to report errors
    min_persistence: int = 64  # samples a latency effect must last
    error_persistence: int = 32  # samples an error-rate effect must last
    tail_persistence: int = 224  # samples a tail effect must last (tail events are sparse)
    burst_length: int = 48  # the longest slow burst that must never be reported alone
    track_step: float = 0.03  # largest move of the reference per update (ratio)
    track_range: float = 1.3  # the reference stays within [1/range, range] x baseline
    track_gate: float = 0.5  # tracking slows while a test exceeds gate x threshold
    track_while_proposing: float = 0.5  # ... to this fraction of track_step
    track_deadband: float = 0.03  # level changes smaller than this (log) are noise
    recent_samples: int = 128  # samples the recovery verdict describes
    max_span: int = 768  # most recent samples a confirmation looks at

    def __post_init__(self) -> None:
        for name, low, high in (
            ("latency_shift", 0.5, 1.0),
            ("latency_jump", 0.5, 1.0),
            ("tail_rate", 0.05, 1.0),
            ("extreme_rate", 0.01, 1.0),
            ("track_while_proposing", -1e-12, 1.0 + 1e-12),
        ):
            value = getattr(self, name)
            if not _is_number(value) or not low < value < high:
                raise ConfigurationError(name, value, f"a number in ({low:g}, {high:g})")
        for name in (
            "threshold",
            "tail_threshold",
            "recovery_threshold",
            "recovery_block_floor",
            "latency_floor",
            "tail_floor",
            "tail_share_floor",
            "error_floor",
            "track_step",
            "track_gate",
            "track_deadband",
        ):
            value = getattr(self, name)
            if not _is_number(value) or not 0 < value < math.inf:
                raise ConfigurationError(name, value, "a finite number > 0")
        for name in ("recovery_tolerance", "track_range"):
            value = getattr(self, name)
            if not _is_number(value) or not 1 <= value < math.inf:
                raise ConfigurationError(name, value, "a finite number >= 1")
        for name in (
            "family_size",
            "min_baseline_samples",
            "tail_min_samples",
            "min_persistence",
            "error_persistence",
            "tail_persistence",
            "burst_length",
            "recent_samples",
            "max_span",
        ):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ConfigurationError(name, value, "an int >= 1")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class BinomialCusum:
    """Page's CUSUM for a Bernoulli rate rising from p0 to p1, fed counts per block."""

    __slots__ = ("hit_weight", "miss_weight", "started_at", "statistic", "threshold")

    def __init__(self, p0: float, p1: float, threshold: float) -> None:
        self.hit_weight = math.log(p1 / p0)
        self.miss_weight = math.log((1.0 - p1) / (1.0 - p0))
        self.threshold = threshold
        self.statistic = 0.0
        self.started_at = 0

    def update(self, hits: int, trials: int, block_start: int, floor: float = -math.inf) -> bool:
        """Add one block (its log-likelihood ratio no lower than `floor`); True when the
        statistic is over the threshold."""
        if self.statistic == 0.0:
            self.started_at = block_start
        step = hits * self.hit_weight + (trials - hits) * self.miss_weight
        value = self.statistic + (step if step > floor else floor)
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

    def __init__(
        self,
        baseline: Baseline,
        settings: DetectorSettings | None = None,
        recent_encoded: list[float] | None = None,
    ) -> None:
        s = self.settings = settings or DetectorSettings()
        self.baseline = baseline
        self._scale = 1.0  # reference = baseline x scale (the tracked level)
        self._p50 = baseline.p50
        self._p95 = baseline.p95
        self._p99 = baseline.p99
        # The anchor is the level of the samples the baseline was learned from; the
        # reference starts where the level stands now, so a baseline learned across a
        # daily cycle does not start out offset from the present.
        medians = _block_medians(recent_encoded or [])
        self._block_medians = medians[-_LAG_FAR:]
        self._blocks_seen = 0
        self._anchor_level: float | None = (
            _middle(sorted(medians)) if len(medians) >= _LAG_FAR else None
        )
        self._reference_error = max(baseline.error_rate, _MIN_ERROR_RATE)
        self._error_alt = min(
            0.9, max(3.0 * self._reference_error, self._reference_error + s.error_floor)
        )
        # Bonferroni-style: N operations watched together share one false-alarm budget,
        # so each test needs ln(N) more evidence (e^-h bounds a false start per excursion).
        extra = math.log(s.family_size)
        threshold, tail_threshold = s.threshold + extra, s.tail_threshold + extra
        self._latency = BinomialCusum(0.5, s.latency_shift, threshold)
        self._jump = BinomialCusum(0.5, s.latency_jump, threshold)
        self._tail = BinomialCusum(0.05, s.tail_rate, tail_threshold)
        self._extreme = BinomialCusum(0.01, s.extreme_rate, tail_threshold)
        self._errors = BinomialCusum(self._reference_error, self._error_alt, threshold)
        self._tests: dict[str, BinomialCusum] = {
            "latency": self._latency,
            "latency_jump": self._jump,
            "tail": self._tail,
            "tail_extreme": self._extreme,
            "errors": self._errors,
        }
        # A p99 estimated from a few hundred samples is too rough to test the tail on.
        self._tails_armed = baseline.sample_count >= s.tail_min_samples
        self._gate = threshold * s.track_gate
        if self._anchor_level is not None:
            self._track(step=math.inf)
        self._recovery: dict[Signal, BinomialCusum] = {}
        self._recovery_p50 = self._recovery_p95 = math.inf
        self.degraded_signals: tuple[Signal, ...] = ()
        self.episode_start = 0
        self._next_decision_block = 0
        self._rejections = 0  # consecutive rejected proposals (they back off)
        self._decision_at = 0  # the sample index a pending decision is taken at
        self._persistence: dict[Signal, int] = {
            "latency": s.min_persistence,
            "tail": s.tail_persistence,
            "errors": s.error_persistence,
        }

    @property
    def degraded(self) -> bool:
        return bool(self.degraded_signals)

    @property
    def accumulating(self) -> bool:
        """Some test holds at least half the evidence it needs to propose an alert."""
        return any(t.statistic > 0.5 * t.threshold for t in self._tests.values())

    # -- stage one -----------------------------------------------------------------------

    def observe_block(self, sorted_successes: list[float], failures: int, block_start: int) -> bool:
        """Feed one block; True when a decision is due (call decide() with recent data)."""
        n_ok = len(sorted_successes)
        self._blocks_seen += 1
        if n_ok:
            medians = self._block_medians
            medians.append(sorted_successes[n_ok // 2])
            if len(medians) > _LAG_FAR:
                del medians[0]
        if self.degraded_signals:
            # Recovered means back below _recovery_p50/_p95 (see _start_recovery_tests).
            return self._observe_recovery(
                n_ok - bisect_right(sorted_successes, self._recovery_p50),
                n_ok - bisect_right(sorted_successes, self._recovery_p95),
                n_ok,
                failures,
                block_start,
            )
        above_median = n_ok - bisect_right(sorted_successes, self._p50)
        above_tail = n_ok - bisect_right(sorted_successes, self._p95)
        above_extreme = n_ok - bisect_right(sorted_successes, self._p99)
        proposed = False
        if n_ok:
            below = n_ok - above_median
            tests = [(self._latency, above_median, below), (self._jump, above_median, below)]
            if self._tails_armed:
                tests.append((self._tail, above_tail, n_ok - above_tail))
                tests.append((self._extreme, above_extreme, n_ok - above_extreme))
            for test, hits, misses in tests:
                statistic = test.statistic
                if statistic == 0.0:
                    test.started_at = block_start
                statistic += hits * test.hit_weight + misses * test.miss_weight
                if statistic > 0.0:
                    test.statistic = statistic
                    if statistic > test.threshold:
                        proposed = True
                else:
                    test.statistic = 0.0
        errors = self._errors
        if (failures or errors.statistic) and errors.update(failures, n_ok + failures, block_start):
            proposed = True
        if self._blocks_seen % _TRACK_EVERY == 0:
            self._track()
        if proposed:
            if self._blocks_seen < self._next_decision_block:
                return False
            next_sample = block_start + BLOCK_SIZE
            short = min(
                self._persistence[signal] - (next_sample - start)
                for signal, start in self._signal_starts().items()
            )
            if short > 0:  # every proposal too young to judge yet
                return False
            # A rejected proposal is re-examined after 2, 4, 6 ... 24 blocks, then after
            # 32, 64, 128 and 256: a test that keeps firing without an effect (coarse
            # clocks, quantized durations) must not cost a confirmation (~0.2 ms) every
            # few blocks forever; at one per 4,096 calls it costs ~50 ns a call.
            rejections = self._rejections
            wait = 2 + 2 * rejections if rejections < 12 else min(256, 16 << (rejections - 11))
            self._next_decision_block = self._blocks_seen + wait
            self._decision_at = next_sample
            return True
        self._rejections = 0
        return False

    def _track(self, step: float | None = None) -> None:
        """Move the reference toward the lagged level, slowly and within a band."""
        medians = self._block_medians
        if len(medians) < _LAG_FAR:
            return
        s = self.settings
        if step is None:
            step = s.track_step
            gate = self._gate
            if any(test.statistic > gate for test in self._tests.values()):
                # Evidence is accumulating: creep only, so a real shift under test is
                # not absorbed while a slow cycle is still followed.
                step *= s.track_while_proposing
                if step <= 0.0:
                    return
        lagged = sorted(medians[: len(medians) - _LAG_NEAR])
        level = lagged[len(lagged) // 2]
        if self._anchor_level is None:
            self._anchor_level = level
            return
        target = level / self._anchor_level if self._anchor_level > 0 else 1.0
        target = min(max(target, 1.0 / s.track_range), s.track_range)
        if abs(math.log(target / self._scale)) < s.track_deadband:
            return  # within the noise of the level estimate: stay put
        scale = min(max(target, self._scale / (1.0 + step)), self._scale * (1.0 + step))
        if scale != self._scale:
            self._scale = scale
            base = self.baseline
            # Tails follow the level up (a daily peak) but never below what was learned:
            # a low tail threshold turns ordinary slow calls into evidence.
            self._p50 = base.p50 * scale
            self._p95 = base.p95 * max(1.0, scale)
            self._p99 = base.p99 * max(1.0, scale)

    def _observe_recovery(
        self, above_median: int, above_tail: int, n_ok: int, failures: int, block_start: int
    ) -> bool:
        """Reverse tests: a "hit" is a sample that looks healthy. One block can take back
        only a little evidence, so a short burst does not restart a recovery."""
        all_clear = True
        for signal, test in self._recovery.items():
            if signal == "latency":
                healthy, trials = n_ok - above_median, n_ok
            elif signal == "tail":
                healthy, trials = n_ok - above_tail, n_ok
            else:
                healthy, trials = n_ok, n_ok + failures
            if trials:
                test.update(healthy, trials, block_start, -self.settings.recovery_block_floor)
            if test.statistic <= test.threshold:
                all_clear = False
        return all_clear

    # -- stage two -----------------------------------------------------------------------

    def _signal_starts(self) -> dict[Signal, int]:
        """Per proposed signal, its estimated change point: the latest sample at which one
        of its firing tests left zero (the jump test dates a big step precisely; the slow
        test, which wanders above zero more often, would date it too early)."""
        starts: dict[Signal, int] = {}
        for name, test in self._tests.items():
            if test.statistic > test.threshold:
                signal = _SIGNAL_OF[name]
                starts[signal] = max(starts.get(signal, 0), test.started_at)
        return starts

    def evidence_span(self, next_sample: int) -> int:
        """How many recent samples decide() should see: while proposing, those since the
        earliest change point of a proposed signal (at most `max_span`); while degraded,
        `recent_samples`."""
        s = self.settings
        if self.degraded_signals:
            # the samples that convinced the reverse tests, so the verdict shows the
            # recovered figures rather than a mix with the end of the incident
            began = min((t.started_at for t in self._recovery.values()), default=0)
            return max(2 * BLOCK_SIZE, min(next_sample - began, s.recent_samples))
        starts = self._signal_starts().values()
        start = min(starts) if starts else next_sample - s.recent_samples
        return max(0, min(next_sample - start, s.max_span))

    def decide(self, recent_encoded: list[float]) -> Verdict | None:
        """Confirm a proposed alert (or a recovery) on the samples evidence_span() named,
        in the window's encoding (failures negative)."""
        if self.degraded_signals:
            return self._recover(current_figures(recent_encoded))
        verdict = self._confirmed(recent_encoded)
        self._rejections = 0 if verdict is not None else self._rejections + 1
        return verdict

    def _confirmed(self, recent: list[float]) -> Verdict | None:
        """Each proposed signal is judged on the samples since its own change point."""
        starts = self._signal_starts()
        confirmed: list[Signal] = []
        ratios: dict[str, float] = {}
        shown: dict[str, float] = {}
        figures_by_start: dict[int, dict[str, float]] = {}
        for signal, start in starts.items():
            span = recent[-(self._decision_at - start) :] if start < self._decision_at else []
            if len(span) < self._persistence[signal]:
                continue
            current = figures_by_start.get(start)
            if current is None:
                current = figures_by_start[start] = current_figures(span)
            ratio = self._effect(signal, span, current)
            if ratio is not None:
                confirmed.append(signal)
                ratios[signal] = ratio
                if not shown:
                    shown = current
        if not confirmed:
            return None
        fired = [name for name, t in self._tests.items() if t.statistic > t.threshold]
        evidence = {
            "test": "binomial CUSUM on rank indicators, confirmed by persistence and effect",
            "statistics": {name: round(t.statistic, 3) for name, t in self._tests.items()},
            "threshold": self._latency.threshold,
            "fired": fired,
            "reference_scale": round(self._scale, 4),
            "change_points": dict(starts),
        }
        start = min(starts[signal] for signal in confirmed)
        self.degraded_signals = tuple(confirmed)
        self.episode_start = start
        self._start_recovery_tests(shown)
        return Verdict("degraded", tuple(confirmed), shown, ratios[confirmed[0]], evidence, start)

    def _effect(self, signal: Signal, span: list[float], current: dict[str, float]) -> float | None:
        """The effect ratio of a signal on its span, None when below the floors."""
        s = self.settings
        if signal == "latency":
            # A burst is a dense run of slow calls: the shift must survive its removal.
            p50 = self._p50
            trimmed = _without_densest_run(span, p50, s.burst_length)
            ratio = _ratio(current["p50"], p50)
            if ratio >= s.latency_floor and _ratio(_p50_of(trimmed), p50) >= s.latency_floor:
                return ratio
            return None
        if signal == "tail":
            # The tail is judged relative to the current median (its shape), so a level
            # that moved as a whole (a daily peak, a step) does not count twice.
            level = max(1.0, _ratio(current["p50"], self._p50))
            p95, p99 = self._p95 * level, self._p99 * level
            trimmed = _without_densest_run(span, p95, s.burst_length)
            trimmed = _without_densest_run(trimmed, p95, s.burst_length)
            ratio = _ratio(current["p95"], p95)
            wider = ratio >= s.tail_floor and _ratio(_quantile_of(trimmed, 0.95), p95) >= (
                s.tail_floor
            )
            heavier = (
                _share_above(span, p99) >= s.tail_share_floor
                and _share_above(trimmed, p99) >= s.tail_share_floor
            )
            return max(ratio, _ratio(current["p99"], p99)) if wider or heavier else None
        if current["error_rate"] - self.baseline.error_rate >= s.error_floor:
            return current["error_rate"] / self._reference_error
        return None

    def _start_recovery_tests(self, current: dict[str, float]) -> None:
        """Recovered means the effect has mostly gone: the level back below the geometric
        middle of reference and episode (at least `recovery_tolerance` x the reference,
        never below the learned baseline). A reference tracked down a little before the
        incident, or a daily cycle that moved on meanwhile, must not hold it open."""
        s = self.settings
        floor = s.recovery_tolerance * max(1.0, 1.0 / self._scale)
        self._recovery_p50 = self._p50 * max(floor, math.sqrt(_ratio(current["p50"], self._p50)))
        self._recovery_p95 = self._p95 * max(floor, math.sqrt(_ratio(current["p95"], self._p95)))
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
            "test": "reverse binomial CUSUM (return to the reference)",
            "statistics": {name: round(t.statistic, 3) for name, t in self._recovery.items()},
            "threshold": self.settings.recovery_threshold,
        }
        ratio = _ratio(current["p50"], self._p50)
        verdict = Verdict("recovered", signals, current, ratio, evidence, self.episode_start)
        self.degraded_signals = ()
        self._recovery = {}
        for test in self._tests.values():
            test.reset()
        return verdict


def current_figures(encoded: list[float]) -> dict[str, float]:
    """p50, p95, p99 of successful samples and the error rate, from encoded samples."""
    successes = sorted(filter((0.0).__le__, encoded))  # failures are negative
    failures = len(encoded) - len(successes)
    figures = {"error_rate": failures / len(encoded) if encoded else 0.0}
    for label, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        figures[label] = quantile(successes, q) if successes else 0.0
    return figures


def _without_densest_run(encoded: list[float], limit: float, length: int) -> list[float]:
    """The samples minus the `length` consecutive ones holding the most samples slower
    than `limit`: what is left of an effect once the worst burst is taken out."""
    if len(encoded) <= length:
        return []
    # map(limit.__lt__, ...) runs in C: True where a sample is slower than the limit
    totals = [0, *accumulate(map(limit.__lt__, encoded))]
    in_run = list(map(sub, totals[length:], totals[: len(totals) - length]))
    best_start = in_run.index(max(in_run))
    return encoded[:best_start] + encoded[best_start + length :]


def _p50_of(encoded: list[float]) -> float:
    return _quantile_of(encoded, 0.5)


def _quantile_of(encoded: list[float], q: float) -> float:
    successes = sorted(filter((0.0).__le__, encoded))
    return quantile(successes, q) if successes else 0.0


def _share_above(encoded: list[float], limit: float) -> float:
    """Share of the successful samples slower than `limit` (failures are negative)."""
    successes = sum(map((0.0).__le__, encoded))
    return sum(map(limit.__lt__, encoded)) / successes if successes else 0.0


def _block_medians(encoded: list[float]) -> list[float]:
    """Medians of the successful samples of consecutive 16-sample blocks, aligned to the
    end (the newest block is complete)."""
    medians = []
    for end in range(len(encoded), BLOCK_SIZE - 1, -BLOCK_SIZE):
        block = sorted(v for v in encoded[end - BLOCK_SIZE : end] if v >= 0.0)
        if block:
            medians.append(block[len(block) // 2])
    medians.reverse()
    return medians


def _middle(ordered: list[float]) -> float:
    return ordered[len(ordered) // 2]


def _ratio(current: float, reference: float) -> float:
    if reference > 0:
        return current / reference
    return math.inf if current > 0 else 1.0
