"""The tail limits follow the healthy share above them (tail_calibration.py): a tail
that the first window under-represented stops being evidence, independent calls keep
their limits, and a tail fault is still reported."""

from __future__ import annotations

import random

import pytest

from perfguard import DegradationEvent, PerformanceTracker
from perfguard._baseline import Baseline
from perfguard._detect import tail_calibration
from perfguard._detect.cusum import BinomialCusum
from perfguard._detect.reference import Reference
from perfguard._detect.tail_calibration import TailCalibration
from perfguard.testing import FakeClock

BUSY_FROM = 2000  # the first window (the baseline) is quiet


def _service(rng: random.Random, calls: int, fault_at: int | None = None) -> list[float]:
    """Lognormal calls (p50 1 ms); from BUSY_FROM on, one stretch of 500 calls in every
    1,500 has 4 % of its calls 3x slower, the median unchanged (a busy neighbour, a
    cache evicted now and then). From `fault_at` on, 5 % of every call is 6x slower."""
    values = []
    for index in range(calls):
        value = rng.lognormvariate(-6.9, 0.4)
        busy = index >= BUSY_FROM and (index // 500) % 3 == 0
        if busy and rng.random() < 0.04:
            value *= 3.0
        if fault_at is not None and index >= fault_at and rng.random() < 0.05:
            value *= 6.0
        values.append(value)
    return values


def _tail_alerts(values: list[float]) -> tuple[list[DegradationEvent], list[float]]:
    """The "degraded" events of a tracker fed `values`, and its final tail factors."""
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(clock=FakeClock(), autosave_interval=None, on_alert=events.append)
    for value in values:
        tracker.record("op", value)
    detector = tracker._registry.operations["op"]._lifecycle.detector
    assert detector is not None
    factors = list(detector._reference.tail_factors)
    tracker.close()
    return [e for e in events if e.kind == "degraded"], factors


def test_a_tail_the_first_window_missed_alerts_less_once_calibrated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    streams = [_service(random.Random(seed), 30_000) for seed in (0, 1, 4)]
    calibrated = [_tail_alerts(values) for values in streams]
    assert all(factors[1] > 1.05 for _, factors in calibrated)  # the p99 limit rose
    monkeypatch.setattr(tail_calibration, "RANGE", 1.0)  # the limits as learned
    fixed = [_tail_alerts(values) for values in streams]
    assert all(factors == [1.0, 1.0] for _, factors in fixed)
    with_rule = sum(len(alerts) for alerts, _ in calibrated)
    without = sum(len(alerts) for alerts, _ in fixed)
    assert with_rule <= 0.6 * without


@pytest.mark.parametrize("seed", range(6))
def test_independent_calls_keep_their_tail_limits(seed: int) -> None:
    rng = random.Random(seed)
    alerts, factors = _tail_alerts([rng.lognormvariate(-6.9, 0.4) for _ in range(20_000)])
    assert alerts == []
    assert all(1.0 <= factor <= 1.1 for factor in factors)


def test_a_tail_fault_is_reported_after_the_limits_rose() -> None:
    alerts, factors = _tail_alerts(_service(random.Random(2), 16_000, fault_at=12_500))
    assert factors[1] > 1.05
    faults = [e for e in alerts if e.sample_index >= 12_500]
    assert faults and faults[0].signals == ("tail",)
    assert faults[0].sample_index < 12_500 + 500
    assert faults[0].evidence["tail_factors"][1] > 1.05  # judged on the risen limits


def _calibration() -> tuple[TailCalibration, Reference, tuple[BinomialCusum, BinomialCusum]]:
    rng = random.Random(5)
    samples = [rng.lognormvariate(-6.9, 0.4) for _ in range(1000)]
    baseline = Baseline.from_samples(samples, 0, now=0.0)
    tests = (BinomialCusum(0.05, 0.15, 9.0), BinomialCusum(0.01, 0.04, 9.0))
    return TailCalibration(baseline, tests), Reference(baseline, None), tests


def _feed(
    calibration: TailCalibration,
    reference: Reference,
    tests: tuple[BinomialCusum, BinomialCusum],
    *,
    holding: bool = False,
    level_moving: bool = False,
    periods: int = 1,
) -> bool:
    """Periods of 64 calls with 9 % above the p95 and 4.7 % above the p99 (the factors
    move every MOVE_EVERY periods counted)."""
    moved = False
    for _ in range(periods):
        calibration.successes += 64  # as the detector and the tests count them
        tests[0].hits_seen += 6
        tests[1].hits_seen += 3
        moved = calibration.update(reference, holding, level_moving) or moved
    return moved


def test_shares_above_nominal_raise_the_limits_and_the_reference() -> None:
    calibration, reference, tests = _calibration()
    p99 = reference.p99
    assert _feed(calibration, reference, tests, periods=60)
    assert 1.0 < reference.tail_factors[1] <= tail_calibration.RANGE
    assert reference.p99 == pytest.approx(reference.baseline.p99 * reference.tail_factors[1])
    assert reference.p99 > p99
    assert tests[0].hits_seen == tests[1].hits_seen == 0  # taken


def test_counts_while_the_level_moves_are_not_learned() -> None:
    calibration, reference, tests = _calibration()
    assert not _feed(calibration, reference, tests, level_moving=True, periods=60)
    assert reference.tail_factors == [1.0, 1.0]


def test_held_counts_are_learned_when_the_proposal_ends_and_dropped_on_an_alert() -> None:
    held, reference, tests = _calibration()
    assert not _feed(held, reference, tests, holding=True, periods=20)
    assert reference.tail_factors == [1.0, 1.0]  # nothing learned while held
    # the proposal ended: the next move learns the 20 held periods with the quiet ones
    assert _feed(held, reference, tests, periods=4)
    alone, alone_reference, alone_tests = _calibration()
    assert _feed(alone, alone_reference, alone_tests, periods=4)  # the quiet ones alone
    assert reference.tail_factors[1] > alone_reference.tail_factors[1]

    dropped, dropped_reference, dropped_tests = _calibration()
    _feed(dropped, dropped_reference, dropped_tests, holding=True, periods=20)
    dropped.discard()  # an alert was confirmed: the held periods were the degradation
    _feed(dropped, dropped_reference, dropped_tests, periods=4)
    assert dropped_reference.tail_factors == pytest.approx(alone_reference.tail_factors)
