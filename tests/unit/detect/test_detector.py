"""The sustained detector through the public API: an alert on each family of real
degradation, none on healthy regimes, and the same states however the stream is read.

False-alarm *rates* are measured by bench/detection.py on many streams; these tests pin
down behaviour on a few fixed-seed streams per family.
"""

from __future__ import annotations

import math

import pytest

from perfguard import ConfigurationError, DegradationEvent, DetectorSettings, PerformanceTracker
from perfguard.testing import FakeClock
from tests.streams import Sample, degrade, healthy

CHANGE = 3000
REGIMES = ("lognormal", "pareto_mix", "bimodal", "outliers", "bursts", "diurnal")


def replay(
    samples: list[Sample], *, read_every: int = 1
) -> tuple[list[str], list[DegradationEvent]]:
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(autosave_interval=None, on_alert=events.append)
    states = []
    for index, (value, ok) in enumerate(samples):
        tracker.record("op", value, success=ok)
        if (index + 1) % read_every == 0:
            states.append(tracker.state("op"))
    tracker.state("op")
    return states, events


def first_alert(events: list[DegradationEvent]) -> DegradationEvent | None:
    return next((e for e in events if e.kind == "degraded"), None)


@pytest.mark.parametrize("regime", REGIMES)
@pytest.mark.parametrize("seed", [11, 12])
def test_healthy_regimes_raise_no_alert(regime: str, seed: int) -> None:
    states, events = replay(healthy(regime, 8000, seed))
    assert events == []
    assert states[50] == "ok"  # baseline established early
    assert states[-1] == "ok"


@pytest.mark.parametrize("regime", REGIMES)
@pytest.mark.parametrize(
    ("name", "kwargs", "signal", "within"),
    [
        ("step x1.5", {"factor": lambda i: 1.5}, "latency", 500),
        ("step x2", {"factor": lambda i: 2.0}, "latency", 300),
        ("drift x2 over 500", {"factor": lambda i: 2.0 ** min(1.0, i / 500)}, "latency", 1000),
        ("errors 10%", {"error_rate": 0.10}, "errors", 500),
    ],
)
def test_clear_degradations_are_reported(
    regime: str, name: str, kwargs: dict[str, object], signal: str, within: int
) -> None:
    samples = degrade(healthy(regime, CHANGE + 1500, 21), CHANGE, 22, **kwargs)  # type: ignore[arg-type]
    states, events = replay(samples)
    alert = first_alert(events)
    assert alert is not None, f"{name} in {regime} was not reported"
    assert CHANGE <= alert.sample_index <= CHANGE + within
    assert signal in alert.signals
    assert alert.effect_ratio > 1.0
    assert states[-1] == "degraded"


@pytest.mark.parametrize("regime", ["lognormal", "pareto_mix", "outliers"])
def test_tail_only_degradation_is_reported_as_tail(regime: str) -> None:
    samples = degrade(healthy(regime, CHANGE + 2000, 31), CHANGE, 32, tail_share=0.05)
    _, events = replay(samples)
    alert = first_alert(events)
    assert alert is not None
    assert alert.signals == ("tail",)
    assert alert.sample_index >= CHANGE
    # the median did not move: this is not a latency shift
    assert alert.current["p50"] < 1.1 * alert.baseline["p50"]


def test_variance_increase_is_reported() -> None:
    samples = degrade(healthy("lognormal", CHANGE + 2000, 41), CHANGE, 42, spread=2.0)
    _, events = replay(samples)
    alert = first_alert(events)
    assert alert is not None
    assert "tail" in alert.signals
    assert CHANGE <= alert.sample_index <= CHANGE + 600


def test_small_step_is_reported_in_lognormal() -> None:
    samples = degrade(healthy("lognormal", CHANGE + 2000, 51), CHANGE, 52, factor=lambda i: 1.2)
    _, events = replay(samples)
    alert = first_alert(events)
    assert alert is not None
    assert CHANGE <= alert.sample_index <= CHANGE + 600


def test_recovery_clears_within_a_thousand_samples() -> None:
    end = CHANGE + 1500
    samples = degrade(
        healthy("lognormal", end + 2000, 61), CHANGE, 62, factor=lambda i: 2.0, end=end
    )
    states, events = replay(samples)
    kinds = [(e.kind, e.sample_index) for e in events]
    assert [k for k, _ in kinds] == ["degraded", "recovered"]
    assert end <= kinds[1][1] <= end + 1000
    assert events[1].started_at_sample == events[0].started_at_sample
    assert states[-1] == "ok"


def test_single_outliers_and_one_burst_raise_nothing() -> None:
    samples = healthy("lognormal", 6000, 71)
    samples[3500] = (samples[3500][0] * 500, True)
    for i in range(4200, 4225):  # a 25-call burst, 5x slower
        samples[i] = (samples[i][0] * 5, True)
    _, events = replay(samples)
    assert events == []


def test_a_large_step_is_judged_early_and_a_moderate_one_only_once_it_has_lasted() -> None:
    """A 2x shift must last min_persistence (96) calls before it is reported: healthy
    bursts of 1.3-3x last that long. A 20x step is judged after 64 calls already; the
    moderate one's early looks do not count as rejections, so it is reported as soon as
    it is old enough, not after a back-off."""
    delays = {}
    for factor in (2.0, 20.0):
        samples = degrade(healthy("lognormal", 5000, 97), CHANGE, 98, factor=lambda i, f=factor: f)
        _, events = replay(samples)
        alert = first_alert(events)
        assert alert is not None and alert.signals[0] == "latency"
        delays[factor] = alert.sample_index - CHANGE
    # a proposal dates the change at the start of the block it fell in (up to 15 calls
    # before it), and its age is counted from there
    settings = DetectorSettings()
    assert settings.large_effect_persistence - 16 <= delays[20.0] < settings.min_persistence - 16
    assert settings.min_persistence - 16 <= delays[2.0] < settings.min_persistence + 32


def test_a_burst_as_long_as_the_former_persistence_raises_nothing() -> None:
    """A 2x burst of 80 calls (a neighbour process taking the core for a moment) is
    longer than a latency shift had to last before (64) and shorter than now (96)."""
    samples = healthy("lognormal", 6000, 99)
    for i in range(4000, 4080):
        samples[i] = (samples[i][0] * 2.0, True)
    _, events = replay(samples)
    assert events == []


@pytest.mark.parametrize("read_every", [7, 64, 1000])
def test_states_do_not_depend_on_when_they_are_read(read_every: int) -> None:
    samples = degrade(healthy("bursts", 7000, 81), 3000, 82, factor=lambda i: 1.6, end=4500)
    _, live = replay(samples, read_every=1)
    _, replayed = replay(samples, read_every=read_every)
    assert [(e.kind, e.sample_index, e.signals) for e in live] == [
        (e.kind, e.sample_index, e.signals) for e in replayed
    ]
    assert len(live) == 2


def test_baseline_is_frozen_while_degraded() -> None:
    samples = degrade(healthy("lognormal", 7000, 91), 3000, 92, factor=lambda i: 1.8)
    tracker = PerformanceTracker(autosave_interval=None)
    for value, ok in samples[:3000]:
        tracker.record("op", value, success=ok)
    before = tracker.baseline("op")
    for value, ok in samples[3000:]:
        tracker.record("op", value, success=ok)
    assert tracker.state("op") == "degraded"
    assert tracker.baseline("op") == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("threshold", 0),
        ("threshold", float("nan")),
        ("latency_shift", 0.4),
        ("tail_rate", 1.0),
        ("family_size", 0),
        ("family_size", 2.5),
        ("track_range", 0.9),
        ("burst_length", True),
    ],
)
def test_detector_settings_reject_bad_values(field: str, value: object) -> None:
    with pytest.raises(ConfigurationError) as raised:
        DetectorSettings(**{field: value})  # type: ignore[arg-type]
    assert field in str(raised.value)
    assert repr(value) in str(raised.value)


def test_family_size_needs_more_evidence() -> None:
    samples = degrade(healthy("lognormal", CHANGE + 2000, 101), CHANGE, 102, factor=lambda i: 1.3)

    def alert_at(settings: DetectorSettings) -> tuple[int, float]:
        events: list[DegradationEvent] = []
        tracker = PerformanceTracker(
            autosave_interval=None, on_alert=events.append, detector_settings=settings
        )
        for value, ok in samples:
            tracker.record("op", value, success=ok)
        alert = first_alert(events)
        assert alert is not None
        return alert.sample_index, float(alert.evidence["threshold"])

    shared_at, shared_threshold = alert_at(DetectorSettings(family_size=100))
    alone_at, alone_threshold = alert_at(DetectorSettings(family_size=1))
    assert shared_threshold == pytest.approx(alone_threshold + math.log(100))
    # the effect floor may decide first; more evidence never makes an alert earlier
    assert shared_at >= alone_at


def test_event_dates_the_episode_start_in_samples_and_time() -> None:
    clock = FakeClock()
    start = clock.wall()
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(autosave_interval=None, clock=clock, on_alert=events.append)
    samples = degrade(healthy("lognormal", CHANGE + 1000, 111), CHANGE, 112, factor=lambda i: 3.0)
    for value, ok in samples:
        clock.advance(1.0)  # one call a second
        tracker.record("op", value, success=ok)
    alert = first_alert(events)
    assert alert is not None
    assert CHANGE - 16 <= alert.started_at_sample <= CHANGE + 16
    # the block holding the first sample was absorbed within one batch (64 calls) of it
    expected = start + alert.started_at_sample + 1
    assert expected <= alert.started_at_time <= expected + 64
    assert alert.started_at_time < alert.time


def test_a_proposal_that_is_never_confirmed_is_looked_at_less_and_less() -> None:
    """Calls just above the median (x1.01) keep the latency test firing, but the effect is
    under the floor: the confirmations must back off, bounding their cost."""
    from perfguard._baseline import Baseline
    from perfguard._detect import BLOCK_SIZE, SustainedDetector

    healthy_values = [v for v, _ in healthy("lognormal", 1000, 121)]
    baseline = Baseline.from_samples(healthy_values, 0, now=1.0)
    detector = SustainedDetector(baseline, None, healthy_values)
    block = sorted([baseline.p50 * 1.01] * BLOCK_SIZE)
    looks = 0
    for index in range(2000):
        if detector.observe_block(block, 0, index * BLOCK_SIZE):
            span = detector.evidence_span((index + 1) * BLOCK_SIZE)
            assert detector.decide([baseline.p50 * 1.01] * span) is None  # under the floor
            looks += 1
    assert not detector.degraded
    assert looks <= 12 + 2000 // 64 + 2  # 12 quick looks, then one every 64 blocks
