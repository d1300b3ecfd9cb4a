"""An open episode still watches the signals it does not hold: errors that rise during a
latency episode (or a slowdown during an error episode) are reported as a worsening of
that episode, not ignored until it recovers."""

from __future__ import annotations

import pytest

from perfguard import ConfigurationError, DegradationEvent, DetectorSettings, PerformanceTracker
from perfguard._detect.escalation import Escalation
from tests.streams import Sample, degrade, healthy

SLOW_AT, ERRORS_AT, END = 3000, 4500, 6000


def replay(samples: list[Sample]) -> tuple[PerformanceTracker, list[DegradationEvent]]:
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(autosave_interval=None, on_alert=events.append)
    for value, ok in samples:
        tracker.record("op", value, success=ok)
    tracker.state("op")
    return tracker, events


def slow_then_failing(seed: int) -> list[Sample]:
    """2x slower from SLOW_AT, and from ERRORS_AT also 20 % failures, until END."""
    samples = healthy("lognormal", 9000, seed)
    samples = degrade(samples, SLOW_AT, seed + 1, factor=lambda i: 2.0, end=END)
    return degrade(samples, ERRORS_AT, seed + 2, error_rate=0.2, end=END)


@pytest.mark.parametrize("seed", [31, 32, 33])
def test_errors_rising_during_a_latency_episode_worsen_it(seed: int) -> None:
    tracker, events = replay(slow_then_failing(seed))
    first, worse = events[0], events[1]
    assert (first.kind, first.signals) == ("degraded", ("latency",))
    assert SLOW_AT <= first.sample_index < SLOW_AT + 500
    assert worse.kind == "degraded"
    assert worse.signals == ("latency", "errors")
    assert worse.evidence["worsened"] is True
    assert worse.evidence["added_signals"] == ["errors"]
    assert worse.evidence["episode_began_at_sample"] == first.started_at_sample
    assert ERRORS_AT <= worse.sample_index < ERRORS_AT + 500
    assert not worse.reopened
    assert "worsened" in worse.describe() and "errors" in worse.describe()
    # one episode, which clears only once both signals have recovered
    recoveries = [e for e in events if e.kind == "recovered"]
    assert len(recoveries) == 1 and recoveries[0].sample_index > END
    assert recoveries[0].signals == ("latency", "errors")
    assert tracker.snapshot("op").episodes == 1


def test_a_latency_episode_is_not_worsened_by_its_own_tail() -> None:
    """A slowdown moves the tail with it: the tail is not watched during a latency
    episode, so a plain slowdown is one alert and one recovery."""
    samples = degrade(healthy("lognormal", 9000, 41), SLOW_AT, 42, factor=lambda i: 2.5, end=END)
    _, events = replay(samples)
    assert [(e.kind, e.signals) for e in events] == [
        ("degraded", ("latency",)),
        ("recovered", ("latency",)),
    ]


def test_a_slowdown_during_an_error_episode_worsens_it() -> None:
    samples = degrade(healthy("lognormal", 9000, 51), SLOW_AT, 52, error_rate=0.2, end=END)
    samples = degrade(samples, ERRORS_AT, 53, factor=lambda i: 3.0, end=END)
    _, events = replay(samples)
    assert (events[0].kind, events[0].signals) == ("degraded", ("errors",))
    worse = events[1]
    assert worse.evidence.get("worsened") is True
    assert "latency" in worse.evidence["added_signals"]
    assert worse.signals[0] == "errors"  # the episode's own signal first
    assert ERRORS_AT <= worse.sample_index < ERRORS_AT + 500


@pytest.mark.parametrize("seed", [51, 52, 53])
def test_a_latency_episode_that_becomes_much_worse_is_reported_again(seed: int) -> None:
    """A 1.5x slowdown is reported; 1,000 calls later the same operation becomes 30x
    slower (an index dropped while the first episode was still open): that is reported
    as a worsening of the open episode, within 100 calls, and a 1.6x wobble of the
    episode's own level is not."""
    samples = healthy("lognormal", 9000, seed)
    samples = degrade(samples, SLOW_AT, seed + 1, factor=lambda i: 1.5, end=END)
    samples = degrade(samples, 3600, seed + 2, factor=lambda i: 1.6, end=3900)  # wobble
    samples = degrade(samples, ERRORS_AT, seed + 3, factor=lambda i: 20.0, end=END)  # 30x
    tracker, events = replay(samples)
    first, worse = events[0], events[1]
    assert (first.kind, first.signals) == ("degraded", ("latency",))
    assert (worse.kind, worse.signals) == ("degraded", ("latency",))
    assert worse.worsened and worse.evidence["escalated"] is True
    assert worse.evidence["episode_began_at_sample"] == first.started_at_sample
    assert worse.evidence["times_episode_p50"] > 10
    assert ERRORS_AT <= worse.sample_index < ERRORS_AT + 100
    assert ERRORS_AT - 16 <= worse.started_at_sample <= ERRORS_AT + 16  # dated at the jump
    assert "worsened" in worse.describe() and "slower than when" in worse.describe()
    # still one episode, which clears once the whole of it is over
    assert [e.kind for e in events[2:]] == ["recovered"]
    assert events[2].sample_index > END
    assert tracker.snapshot("op").episodes == 1


def test_a_plain_slowdown_does_not_escalate() -> None:
    """A steady 3x slowdown, however long, is one alert and one recovery."""
    samples = degrade(healthy("lognormal", 9000, 61), SLOW_AT, 62, factor=lambda i: 3.0, end=END)
    _, events = replay(samples)
    assert [e.kind for e in events] == ["degraded", "recovered"]


def test_bursts_during_an_episode_do_not_hide_errors() -> None:
    """During a 1.5x episode, 48-call bursts 20x slower every 80 calls (too short to be
    judged an escalation): the other signals' tests are still fed on those blocks, so
    errors from call 6,000 worsen the episode as promptly as without the bursts."""
    base = healthy("lognormal", 9000, 71)
    slow = degrade(base, SLOW_AT, 72, factor=lambda i: 1.5, end=8000)
    failing = degrade(slow, 6000, 73, error_rate=0.06, end=8000)
    bursty = [
        (value * 20.0, ok) if 4000 <= index < 8000 and (index - 4000) % 80 < 48 else (value, ok)
        for index, (value, ok) in enumerate(failing)
    ]
    worsened_at = {}
    for name, samples in (("plain", failing), ("bursty", bursty)):
        _, events = replay(samples)
        errors = [e for e in events if e.worsened and "errors" in e.signals]
        assert errors, name
        worsened_at[name] = errors[0].sample_index
    assert worsened_at["bursty"] <= worsened_at["plain"] + 16


def test_a_rejected_escalation_backs_off() -> None:
    """The escalation is due once it fires and its span can be judged (64 calls); after
    a rejection, only once its span is twice as long, so a pattern that keeps firing it
    without holding 2x costs a look every few hundred calls, not every block."""
    settings = DetectorSettings()
    escalation = Escalation(1.0, settings, threshold=12.0)
    slow_block = [3.0] * 16

    def due_after(blocks: int, start: int) -> list[bool]:
        return [escalation.observe(slow_block, start + 16 * b) for b in range(blocks)]

    assert due_after(4, 0) == [False, False, False, True]  # fired at 32 calls, due at 64
    assert escalation.judge([3.0] * 64, settings) is None  # a 3x span judged at 96 calls
    assert escalation.observe(slow_block, 64)  # still due: looked at again next block
    assert escalation.judge([1.0] * 96, settings) is None  # the median did not hold 2x
    assert due_after(8, 80) == [False] * 7 + [True]  # after a rejection: 128 calls
    assert escalation.judge([3.0] * 128, settings) == 3.0  # held: reported
    escalation.restart(3.0)  # the detector measures the next one from the new level
    slow_block[:] = [9.0] * 16
    assert due_after(4, 208) == [False, False, False, True]  # and the back-off is over


def test_settings_on_which_no_latency_alert_could_be_confirmed_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="burst_length"):
        DetectorSettings(burst_length=96, min_persistence=96)
    with pytest.raises(ConfigurationError, match="min_persistence"):
        DetectorSettings(max_span=80)
