"""An alert needs its change to be still on at the end of the span it is judged on
(docs/detection.md, "Still on when judged"): a wander that was over before it could be
judged is not reported; a change that holds is."""

from __future__ import annotations

import random

import pytest

from perfguard import ConfigurationError, DetectorSettings
from perfguard._baseline import Baseline
from perfguard._detect.confirm import current_figures, effect_ratio, share_above
from perfguard._detect.reference import Reference

SETTINGS = DetectorSettings()


def _reference(seed: int) -> Reference:
    rng = random.Random(seed)
    samples = [rng.lognormvariate(-6.9, 0.3) for _ in range(1000)]
    return Reference(Baseline.from_samples(samples, 0, now=0.0), None)


def _calls(seed: int, count: int, factor: float) -> list[float]:
    rng = random.Random(seed)
    return [factor * rng.lognormvariate(-6.9, 0.3) for _ in range(count)]


def _latency(span: list[float], reference: Reference, settings: DetectorSettings) -> float | None:
    return effect_ratio("latency", span, current_figures(span), reference, 0.002, settings)


def _tail(span: list[float], reference: Reference, settings: DetectorSettings) -> float | None:
    return effect_ratio("tail", span, current_figures(span), reference, 0.002, settings)


def _with_slow_tail(seed: int, count: int, share: float, reference: Reference) -> list[float]:
    rng = random.Random(seed)
    calls = _calls(seed + 100, count, 1.0)
    return [reference.p99 * rng.uniform(2.0, 4.0) if rng.random() < share else v for v in calls]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_slowdown_over_before_it_is_judged_is_not_confirmed(seed: int) -> None:
    reference = _reference(seed)
    span = _calls(seed + 10, 160, 1.6) + _calls(seed + 20, 40, 1.0)
    assert _latency(span, reference, SETTINGS) is None
    # the same span, judged without the rule: the 1.6x slowdown passes every other test
    without = DetectorSettings(still_slow_floor=1.0)
    ratio = _latency(span, reference, without)
    assert ratio is not None and ratio > 1.3


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_slowdown_that_holds_is_confirmed(seed: int) -> None:
    reference = _reference(seed)
    ratio = _latency(_calls(seed + 10, 200, 1.4), reference, SETTINGS)
    assert ratio is not None and ratio > 1.3


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_heavier_tail_over_before_it_is_judged_is_not_confirmed(seed: int) -> None:
    reference = _reference(seed)
    span = _with_slow_tail(seed, 300, 0.2, reference) + _calls(seed + 30, 160, 1.0)
    assert _tail(span, reference, SETTINGS) is None
    assert _tail(span, reference, DetectorSettings(still_heavy_share=1e-9)) is not None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_heavier_tail_that_holds_is_confirmed(seed: int) -> None:
    reference = _reference(seed)
    assert _tail(_with_slow_tail(seed, 400, 0.2, reference), reference, SETTINGS) is not None


def _far(span: list[float], reference: Reference, settings: DetectorSettings) -> float | None:
    # an operation whose healthy calls go beyond 3x the p99 once in 1,000
    figures = current_figures(span)
    return effect_ratio("tail", span, figures, reference, 0.002, settings, far_rate=0.001)


def _with_far_tail(seed: int, count: int, reference: Reference) -> list[float]:
    """Healthy calls, and one in 100 beyond 5x the p99 (ten times the healthy far share)."""
    calls = _calls(seed + 200, count, 1.0)
    for index in range(50, count, 100):
        calls[index] = reference.p99 * 6.0
    return calls


@pytest.mark.parametrize("seed", [1, 3, 4])  # (seed 2's healthy calls pass the p95 floor)
def test_a_far_tail_that_holds_is_still_heavy(seed: int) -> None:
    reference = _reference(seed)
    span = _with_far_tail(seed, 700, reference)
    latest = span[-SETTINGS.still_heavy_samples :]
    share = SETTINGS.still_heavy_share
    # too few of the latest calls above the p95 or the p99 for those floors alone ...
    assert share_above(latest, reference.p95) < share
    assert share_above(latest, reference.p99) < share / 3
    # ... but the far tail is as heavy as when the far-tail test judged it
    assert _far(span, reference, SETTINGS) is not None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_far_tail_that_ended_is_not_confirmed(seed: int) -> None:
    reference = _reference(seed)
    span = _with_far_tail(seed, 600, reference) + _calls(seed + 40, 200, 1.0)
    assert _far(span, reference, SETTINGS) is None
    assert _far(span, reference, DetectorSettings(still_heavy_share=1e-9)) is not None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("still_slow_floor", 0.9),
        ("still_slow_samples", 0),
        ("still_heavy_samples", 2.5),
        ("still_heavy_share", 1.5),
    ],
)
def test_bad_settings_name_the_field(field: str, value: float) -> None:
    with pytest.raises(ConfigurationError, match=field):
        DetectorSettings(**{field: value})  # type: ignore[arg-type]
