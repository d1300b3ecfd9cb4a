"""The baseline lifecycle (_lifecycle.py): the false-alarm budget shared by every
operation of a tracker (automatic family size), and restored baselines that keep
maturing."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from perfguard import DegradationEvent, DetectorSettings, PerformanceTracker, TrackerConfig
from perfguard._lifecycle import SETTLING_LOOKS, BaselineLifecycle
from tests.streams import healthy_then_slower


def alert_threshold(tracker: PerformanceTracker, events: list[DegradationEvent]) -> float:
    healthy_then_slower(tracker, "slowed", seed=3)
    assert tracker.state("slowed") == "degraded"
    return float(events[0].evidence["threshold"])


def test_each_operation_asks_for_ln_n_more_evidence_with_n_operations_known() -> None:
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(autosave_interval=None, on_alert=events.append)
    for index in range(49):
        tracker.record(f"other-{index}", 0.01)
    threshold = alert_threshold(tracker, events)
    assert threshold == DetectorSettings().threshold + math.log(50)


def test_one_operation_alone_keeps_the_base_threshold() -> None:
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(autosave_interval=None, on_alert=events.append)
    assert alert_threshold(tracker, events) == DetectorSettings().threshold


def test_an_explicit_family_size_wins() -> None:
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(
        autosave_interval=None,
        on_alert=events.append,
        detector_settings=DetectorSettings(family_size=1),
    )
    for index in range(49):
        tracker.record(f"other-{index}", 0.01)
    assert alert_threshold(tracker, events) == DetectorSettings().threshold


def young_store(tmp_path_file: object, samples: int) -> None:
    rng = random.Random(11)
    tracker = PerformanceTracker(storage=tmp_path_file, autosave_interval=None)  # type: ignore[arg-type]
    for _ in range(samples):
        tracker.record("op", rng.lognormvariate(-4.0, 0.3))
    tracker.close()


@pytest.mark.parametrize("saved_after", [12, 300, 900])
def test_a_young_restored_baseline_keeps_maturing_and_detection_arms(
    tmp_path: Path, saved_after: int
) -> None:
    path = tmp_path / "baselines.json"
    young_store(path, saved_after)
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(storage=path, autosave_interval=None, on_alert=events.append)
    restored = tracker.baseline("op")
    assert restored is not None and restored.sample_count < 1000  # young when saved
    rng = random.Random(12)
    for _ in range(2000):
        tracker.record("op", rng.lognormvariate(-4.0, 0.3))
    matured = tracker.baseline("op")
    assert matured is not None and matured.sample_count >= 600  # re-learned here
    for _ in range(1000):  # a 3x slowdown
        tracker.record("op", 3 * rng.lognormvariate(-4.0, 0.3))
    assert tracker.state("op") == "degraded"
    assert [e.kind for e in events] == ["degraded"]
    assert 2000 <= events[0].sample_index < 3000
    tracker.close(save=False)


def test_a_mature_restored_baseline_is_not_relearned_from_a_slower_window(
    tmp_path: Path,
) -> None:
    path = tmp_path / "baselines.json"
    young_store(path, 3000)
    tracker = PerformanceTracker(storage=path, autosave_interval=None)
    restored = tracker.baseline("op")
    assert restored is not None and restored.sample_count >= 1000
    rng = random.Random(13)
    for _ in range(1500):
        tracker.record("op", 1.5 * rng.lognormvariate(-4.0, 0.3))
    assert tracker.baseline("op") == restored  # slower normal: only accept_baseline()
    tracker.close(save=False)


def warm_then_steady(warm_factor: float, seed: int, steady_calls: int = 6000) -> list[float]:
    """400 warm-up calls at `warm_factor` x the steady level, then the steady level."""
    rng = random.Random(seed)
    warm = [warm_factor * rng.lognormvariate(-4.0, 0.3) for _ in range(400)]
    return warm + [rng.lognormvariate(-4.0, 0.3) for _ in range(steady_calls)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_light_warm_up_does_not_become_the_yardstick(seed: int) -> None:
    """The first calls of a process ran at half the steady latency (little load, hot
    path not yet contended): the detector arms on the steady level, so the steady state
    is not an alert."""
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(autosave_interval=None, on_alert=events.append)
    for value in warm_then_steady(0.5, seed):
        tracker.record("op", value)
    assert [e.kind for e in events] == []
    baseline = tracker.baseline("op")
    assert baseline is not None
    assert 0.9 * math.exp(-4.0) < baseline.p50 < 1.1 * math.exp(-4.0)


def test_a_slow_warm_up_does_not_hide_a_later_slowdown() -> None:
    """Cold caches made the first calls 3x slower; a 1.5x slowdown later is measured
    against the steady level and reported."""
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(autosave_interval=None, on_alert=events.append)
    rng = random.Random(9)
    for value in warm_then_steady(3.0, seed=8, steady_calls=4000):
        tracker.record("op", value)
    assert events == []
    for _ in range(1000):
        tracker.record("op", 1.5 * rng.lognormvariate(-4.0, 0.3))
    assert [e.kind for e in events][:1] == ["degraded"]
    assert events[0].sample_index < 4400 + 500


def test_a_level_that_never_settles_is_taken_as_it_is_after_a_few_looks() -> None:
    """Halves 1.5x apart never look steady; after SETTLING_LOOKS refusals the level is
    taken as it is, so the detector still arms on a service that keeps moving."""
    lifecycle = BaselineLifecycle(TrackerConfig(), DetectorSettings())
    unsteady = [0.01] * 400 + [0.015] * 400
    steady = [0.01] * 800
    assert not lifecycle._still_settling(steady)
    refusals = [lifecycle._still_settling(unsteady) for _ in range(SETTLING_LOOKS + 2)]
    assert refusals == [True] * SETTLING_LOOKS + [False, False]


def test_a_heavy_tail_whose_p95_wanders_does_not_hold_the_detector_back() -> None:
    """Rare slow calls (a write waiting on fsync, a GC pause) make the p95 of a
    500-call half swing by several times while the level stays put: the halves are
    compared on their p50 alone, so the detector arms at the first look and a 2x
    step at call 1,300 is reported within 500 calls."""
    rng = random.Random(23)
    lifecycle = BaselineLifecycle(TrackerConfig(), DetectorSettings())

    def call(index: int) -> float:
        slow_share = 0.08 if index < 500 else 0.02  # the older half's tail is heavier
        value = rng.lognormvariate(-4.0, 0.3)
        return value * 20.0 if rng.random() < slow_share else value

    window = [call(index) for index in range(1000)]
    older, newer = sorted(window[:500]), sorted(window[500:])
    assert older[474] > 3 * newer[474]  # the halves' p95s disagree by more than 3x
    assert not lifecycle._still_settling(window)

    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(autosave_interval=None, on_alert=events.append)
    for index in range(2000):
        tracker.record("op", call(index) * (2.0 if index >= 1300 else 1.0))
    assert [e.signals[0] for e in events][:1] == ["latency"]
    assert 1300 <= events[0].sample_index < 1300 + 500


def test_errors_are_tested_while_the_level_still_settles() -> None:
    """A service still warming up (its first 600 calls 3x slower, so the window's halves
    disagree at the look of call 1,024) starts failing 10 % of its calls at call 1,100:
    the latency is not yet tested, but the error rate does not warm up and is reported
    at once."""
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(autosave_interval=None, on_alert=events.append)
    rng = random.Random(21)
    for index in range(1500):
        level = 3.0 if index < 600 else 1.0
        failed = index >= 1100 and rng.random() < 0.1
        tracker.record("op", level * rng.lognormvariate(-4.0, 0.3), success=not failed)
    assert [(e.kind, e.signals) for e in events] == [("degraded", ("errors",))]
    assert 1100 <= events[0].sample_index < 1100 + 150


def test_a_settling_level_raises_no_latency_alert() -> None:
    """The same warm-up without failures: nothing is reported while it settles."""
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(autosave_interval=None, on_alert=events.append)
    rng = random.Random(22)
    for index in range(1500):
        level = 3.0 if index < 600 else 1.0
        tracker.record("op", level * rng.lognormvariate(-4.0, 0.3))
    assert events == []


def test_the_level_noise_yardstick_is_shared_like_the_evidence() -> None:
    """With N operations, a latency confirmation asks the level to stand out by the z
    whose one-sided normal tail is N times smaller (4.58 for N = 100 at noise_z 3.5):
    wander passing the yardstick, not only chance excursions, is what the budget bounds."""
    from statistics import NormalDist

    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(autosave_interval=None, on_alert=events.append)
    for index in range(99):
        tracker.record(f"other-{index}", 0.01)
    healthy_then_slower(tracker, "slowed", seed=3)
    z = events[0].evidence["noise_z"]
    assert NormalDist().cdf(-z) * 100 == pytest.approx(NormalDist().cdf(-3.5), rel=1e-3)
    alone: list[DegradationEvent] = []
    single = PerformanceTracker(autosave_interval=None, on_alert=alone.append)
    healthy_then_slower(single, "slowed", seed=3)
    assert alone[0].evidence["noise_z"] == 3.5


def short_warm_up_then_step(seed: int) -> list[float]:
    """128 calls at half the steady level (a process not yet under load), a steady level
    with little noise, and a 1.35x step at call 3,800."""
    rng = random.Random(seed)
    warm = [0.5 * rng.lognormvariate(-9.0, 0.1) for _ in range(128)]
    steady = [rng.lognormvariate(-9.0, 0.1) for _ in range(3800 - 128)]
    return warm + steady + [1.35 * rng.lognormvariate(-9.0, 0.1) for _ in range(1200)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_short_warm_up_is_not_learned_as_the_operations_wander(seed: int) -> None:
    """A warm-up of 128 calls moves the p50 of a window's older half too little to be
    seen, but taken into the level noise it reads as a wide wander: a later 1.35x step
    waited 180-280 calls here (on a real CPU-bound trace, with some wander of its own,
    it was never reported). The oldest eighth of the window is compared too, so the
    detector arms on a window without the warm-up and the step is reported after ~90."""
    values = short_warm_up_then_step(seed)
    window = values[:1000]
    older, newer = sorted(window[:500]), sorted(window[500:])
    assert older[250] < 1.2 * newer[250]  # the halves agree
    lifecycle = BaselineLifecycle(TrackerConfig(), DetectorSettings())
    assert lifecycle._still_settling(window)

    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(autosave_interval=None, on_alert=events.append)
    for value in values:
        tracker.record("op", value)
    assert [e.kind for e in events][:1] == ["degraded"]
    assert 3800 <= events[0].sample_index < 3800 + 150
