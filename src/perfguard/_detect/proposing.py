"""The stage-one tests of a detector and the healthy rates they are set from, derived
from the baseline (and the samples it was learned from) when the detector is armed."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable
from statistics import NormalDist

from .._baseline import Baseline
from .._events import Signal
from .cusum import BinomialCusum
from .noise import LevelNoise
from .reference import Reference
from .settings import DetectorSettings
from .tail_calibration import TailCalibration

SIGNAL_OF: dict[str, Signal] = {
    "latency": "latency",
    "latency_jump": "latency",
    "tail": "tail",
    "tail_extreme": "tail",
    "tail_far": "tail",
    "errors": "errors",
}
EVIDENCE_CAP = 3.0  # a proposing test keeps at most this x its threshold of evidence
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
    # Capped at EVIDENCE_CAP x the threshold: a test firing for thousands of calls on a
    # wander it was rejected for would otherwise hold hundreds of units of evidence and
    # need thousands of calls to fall back to zero after the wander ends; meanwhile its
    # change point stays at the wander's start and a real step that follows is judged
    # on a span mostly made of the wander, and waits out the back-off.
    cap, tail_cap = EVIDENCE_CAP * threshold, EVIDENCE_CAP * tail_threshold
    return {
        "latency": BinomialCusum(0.5, s.latency_shift, threshold, cap),
        "latency_jump": BinomialCusum(0.5, s.latency_jump, threshold, cap),
        "tail": BinomialCusum(0.05, s.tail_rate, tail_threshold, tail_cap),
        "tail_extreme": BinomialCusum(0.01, s.extreme_rate, tail_threshold, tail_cap),
        # The far tail: calls slower than far_tail_factor x the reference p99. At most
        # 1 % of healthy calls can be there (they are above the p99); the operation's
        # own share is learned from the window the baseline came from (far_rate), so
        # an operation whose GC pauses reach that far is tested against them.
        "tail_far": BinomialCusum(
            far_rate, min(0.5, s.far_tail_ratio * far_rate), tail_threshold, tail_cap
        ),
        "errors": BinomialCusum(reference_error, error_alt, threshold, cap),
    }


def family_z(z: float, family_size: int) -> float:
    """The level-noise yardstick's z for one of `family_size` operations: the z whose
    one-sided normal tail is `family_size` times smaller than z's, so the confirmation's
    chance of passing wander is shared like the tests' evidence."""
    if family_size <= 1:
        return z
    tail = NormalDist().cdf(-z) / family_size
    return -NormalDist().inv_cdf(tail)


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


def limits_of(
    reference: Reference,
    level_tests: tuple[BinomialCusum, ...],
    tail_tests: tuple[BinomialCusum, ...],
    far_factor: float,
) -> tuple[tuple[BinomialCusum, float], ...]:
    """The proposing tests with the limit each counts calls above: the level tests the
    reference p50; the tail tests (when armed) its p95, p99 and far_factor x p99."""
    limits = [(test, reference.p50) for test in level_tests]
    tail_limits = (reference.p95, reference.p99, reference.p99 * far_factor)
    limits += zip(tail_tests, tail_limits, strict=False)
    return tuple(limits)


def persistence_of(settings: DetectorSettings) -> dict[Signal, int]:
    """How old a proposal must be to be judged, per signal: a latency shift is judged
    early only if it is large (confirm.py), and until `min_persistence` a rejection of
    it does not count."""
    return {
        "latency": min(settings.large_effect_persistence, settings.min_persistence),
        "tail": settings.tail_persistence,
        "errors": settings.error_persistence,
    }


def track_reference(
    reference: Reference,
    tests: Iterable[BinomialCusum],
    gate: float,
    settings: DetectorSettings,
) -> bool:
    """Move the reference toward the lagged level (reference.py); True when it moved.
    While a test holds `gate` of evidence it only creeps (`track_while_proposing`), so
    a real shift under test is not absorbed while a slow cycle is still followed."""
    step = settings.track_step
    if any(test.statistic > gate for test in tests):
        step *= settings.track_while_proposing
        if step <= 0.0:
            return False
    scale = reference.scale
    reference.track(step, settings)
    return reference.scale != scale


def learn_healthy(
    reference: Reference,
    noise: LevelNoise,
    calibration: TailCalibration,
    tests: dict[str, BinomialCusum],
    settings: DetectorSettings,
    proposing: bool,
) -> bool:
    """What the detector learns every few blocks while ok: the level noise from the
    quiet blocks, the reference's level, and the tail limits' calibration
    (tail_calibration.py; `proposing`: a test is over its threshold; the level is
    moving while the noise holds its blocks back). True when the reference moved."""
    noise.learn_quiet(reference.p50)
    gate = tests["latency"].threshold * settings.track_gate  # the detector's
    moved = track_reference(reference, tests.values(), gate, settings)
    return calibration.update(reference, proposing, bool(noise.held)) or moved


def backoff_blocks(rejections: int) -> int:
    """Blocks until a rejected proposal is re-examined: 2, 4, 6 ... 24, then 32, 64, 128
    and 256. A test that keeps firing without an effect (coarse clocks, quantized
    durations) must not cost a confirmation (~0.2 ms) every few blocks forever; at one per
    4,096 calls it costs ~50 ns a call."""
    return 2 + 2 * rejections if rejections < 12 else min(256, 16 << (rejections - 11))


def signal_starts(tests: dict[str, BinomialCusum]) -> dict[Signal, int]:
    """Per proposed signal, its estimated change point: the latest sample at which one
    of its firing tests left zero (the jump test dates a big step precisely; the slow
    test, which wanders above zero more often, would date it too early)."""
    starts: dict[Signal, int] = {}
    for name, test in tests.items():
        if test.statistic > test.threshold:
            signal = SIGNAL_OF[name]
            starts[signal] = max(starts.get(signal, 0), test.started_at)
    return starts


def feed(
    limits: tuple[tuple[BinomialCusum, float], ...], sorted_successes: list[float], start: int
) -> bool:
    """One block's counts to the proposing tests: each counts the calls above its limit
    (a test at zero with none above stays at zero, its misses only pull it down:
    skipped). True when one is over its threshold."""
    n_ok = len(sorted_successes)
    top = sorted_successes[-1]
    proposed = False
    for test, limit in limits:
        if top > limit:
            hits = n_ok - bisect_right(sorted_successes, limit)
            test.hits_seen += hits
        elif test.statistic:
            hits = 0
        else:
            continue
        statistic = test.statistic
        if statistic == 0.0:
            test.started_at = start
        statistic += hits * test.hit_weight + (n_ok - hits) * test.miss_weight
        if statistic > 0.0:
            test.statistic = statistic if statistic < test.cap else test.cap
            proposed = proposed or statistic > test.threshold
        else:
            test.statistic = 0.0
    return proposed


def open_tests(
    tests: dict[str, BinomialCusum], unwatched: tuple[Signal, ...]
) -> dict[str, BinomialCusum]:
    """The tests that may propose: those whose signal is not `unwatched`."""
    if not unwatched:
        return tests
    return {name: t for name, t in tests.items() if SIGNAL_OF[name] not in unwatched}
