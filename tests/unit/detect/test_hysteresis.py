"""Flapping: an episode lasts until recovery has been shown for long enough, a relapse soon
after a recovery reopens the same episode, and a p99-only tail episode is cleared on the
p99 (docs/detection.md, "Recovery and flapping")."""

from __future__ import annotations

import logging

import pytest

from perfguard import DegradationEvent, DetectorSettings, PerformanceTracker
from tests.streams import Sample, degrade, healthy

CHANGE = 3000


def replay(
    samples: list[Sample], settings: DetectorSettings | None = None
) -> tuple[list[str], list[DegradationEvent], PerformanceTracker]:
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(
        autosave_interval=None, on_alert=events.append, detector_settings=settings
    )
    states = []
    for value, ok in samples:
        tracker.record("op", value, success=ok)
        states.append(tracker.state("op"))
    return states, events, tracker


def two_incidents(gap: int) -> list[Sample]:
    """A 2x slowdown for 800 calls, `gap` healthy calls, then the same slowdown again."""
    first_end = CHANGE + 800
    second = first_end + gap
    samples = healthy("lognormal", second + 2500, 81)
    samples = degrade(samples, CHANGE, 82, factor=lambda i: 2.0, end=first_end)
    return degrade(samples, second, 83, factor=lambda i: 2.0, end=second + 800)


def test_a_relapse_soon_after_recovery_reopens_the_episode(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="perfguard"):
        _, events, tracker = replay(two_incidents(gap=300))
    kinds = [e.kind for e in events]
    assert kinds[:3] == ["degraded", "recovered", "degraded"]
    first, relapse = events[0], events[2]
    assert not first.reopened and relapse.reopened
    assert relapse.evidence["episode_began_at_sample"] == first.started_at_sample
    assert "degraded again" in relapse.describe()
    # one episode for counters and dashboards, one WARNING for whoever reads the log
    assert tracker.snapshot("op").episodes == 1
    episode_warnings = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and r.getMessage().startswith("Operation op degraded")
    ]
    assert len(episode_warnings) == 1


def test_a_degradation_long_after_recovery_is_a_new_episode() -> None:
    _, events, tracker = replay(two_incidents(gap=3000))
    degraded = [e for e in events if e.kind == "degraded"]
    assert len(degraded) == 2
    assert not degraded[1].reopened
    assert tracker.snapshot("op").episodes == 2


def test_reopen_window_is_a_setting() -> None:
    _, events, tracker = replay(two_incidents(gap=300), DetectorSettings(reopen_within=1))
    degraded = [e for e in events if e.kind == "degraded"]
    assert len(degraded) == 2 and not degraded[1].reopened
    assert tracker.snapshot("op").episodes == 2


def test_recovery_needs_evidence_over_the_minimum_span() -> None:
    end = CHANGE + 1000
    samples = degrade(
        healthy("lognormal", end + 2000, 61), CHANGE, 62, factor=lambda i: 3.0, end=end
    )
    for minimum in (16, 400):
        _, events, _ = replay(samples, DetectorSettings(recovery_min_samples=minimum))
        recovered = [e.sample_index for e in events if e.kind == "recovered"]
        assert len(recovered) == 1
        if minimum == 16:
            quick = recovered[0]
            assert end <= quick
        else:
            assert recovered[0] >= end + minimum
            assert recovered[0] > quick


def test_a_p99_only_tail_episode_does_not_flap() -> None:
    """Extra calls far beyond the p99 (2 % of them): the p95 hardly moves, so clearing on
    the p95 would end the episode at once and start it again; one episode results."""
    end = CHANGE + 4000
    samples = degrade(healthy("lognormal", end + 3000, 91), CHANGE, 92, tail_share=0.025, end=end)
    states, events, _ = replay(samples)
    degraded = [e for e in events if e.kind == "degraded"]
    assert degraded and degraded[0].signals == ("tail",)
    assert len([e for e in degraded if not e.reopened]) == 1
    first = degraded[0].sample_index
    assert all(state == "degraded" for state in states[first : first + 500])
    assert states[-1] == "ok"


def partly_recovered() -> list[Sample]:
    """A 3x slowdown for 800 calls that then settles at 1.5x: below the middle of the
    reference and the episode (sqrt(3) = 1.73x), which the recovery calls healthy."""
    samples = healthy("lognormal", CHANGE + 3500, 84)
    samples = degrade(samples, CHANGE, 85, factor=lambda i: 3.0, end=CHANGE + 800)
    return degrade(samples, CHANGE + 800, 86, factor=lambda i: 1.5)


def test_what_a_recovery_called_healthy_does_not_reopen_the_episode_at_once() -> None:
    states, events, _ = replay(partly_recovered())
    kinds = [(e.kind, e.sample_index) for e in events]
    assert [k for k, _ in kinds[:2]] == ["degraded", "recovered"]
    recovered = kinds[1][1]
    # within reopen_within calls of the recovery, 1.5x is below the relapse floor
    assert all(state == "ok" for state in states[recovered : recovered + 900])


def test_a_relapse_to_the_episode_level_still_reopens_it() -> None:
    """The floor is the recovery's own yardstick (the middle), not the episode's level:
    the same 2x slowdown again 300 calls later is reported (reopened)."""
    _, events, _ = replay(two_incidents(gap=300))
    relapse = [e for e in events if e.kind == "degraded"][1]
    assert relapse.reopened
    assert relapse.effect_ratio >= 1.7
