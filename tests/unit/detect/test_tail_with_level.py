"""A tail that moves with an unconfirmed level move is that move's wander
(confirm.tail_moves_with_level); a tail change of its own is still reported."""

from __future__ import annotations

import math
import random

from perfguard import DegradationEvent, PerformanceTracker
from perfguard._detect.confirm import tail_moves_with_level
from perfguard.testing import FakeClock


def test_only_a_tail_beside_an_unconfirmed_level_of_about_its_age_is_set_aside() -> None:
    both = {"latency": 1000, "tail": 1100}
    assert tail_moves_with_level("tail", both, [], 1400)  # level 400 calls, tail 300
    # the level has moved for more than twice as long as the tail: a change of its own
    assert not tail_moves_with_level("tail", {"latency": 300, "tail": 1100}, [], 1400)
    # the level began after the tail: the same move (wander often stretches the tail first)
    assert tail_moves_with_level("tail", {"latency": 1300, "tail": 1100}, [], 1400)
    assert not tail_moves_with_level("tail", both, ["latency"], 1400)  # a confirmed level
    assert not tail_moves_with_level("tail", {"tail": 1100}, [], 1400)  # the level is still
    assert not tail_moves_with_level("latency", both, [], 1400)  # only the tail is set aside


def _wandering_calls(rng: random.Random, count: int, tail_factor: float = 1.0) -> list[float]:
    """A service that wanders: every 1,500 calls, 400 at a 1.09x median (under the 1.1x
    latency floor, yet enough for the latency tests to fire) whose slowest tenth is
    stretched 2.5x (a busy neighbour slows slow calls most); `tail_factor` slows the
    slowest 3 % of every call on top (a tail fault that leaves the median where it is)."""
    calls = []
    for index in range(count):
        busy = index % 1500 >= 800
        z = rng.gauss(0.0, 1.0)
        value = 0.001 * math.exp(0.1 * z) * (1.09 if busy else 1.0)
        if busy and z > 1.28:
            value *= 2.5
        if z > 1.88:
            value *= tail_factor
        calls.append(value)
    return calls


def _alerts(calls: list[float]) -> list[DegradationEvent]:
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(clock=FakeClock(), autosave_interval=None, on_alert=events.append)
    for value in calls:
        tracker.record("op", value)
    tracker.close()
    return [e for e in events if e.kind == "degraded"]


def test_a_wander_that_stretches_the_tail_is_not_a_tail_alert_while_the_level_moves() -> None:
    """While the latency tests fire on the 1.09x level (too small to report), the tail
    that moves with it is not reported on its own. (The p99 test, slower to gather
    evidence, can still confirm a stretched tail after the level's tests fell back: the
    tail's own wander is not learned, docs/detection.md.)"""
    alerts = _alerts(_wandering_calls(random.Random(11), 24_000))
    assert len(alerts) < 24_000 // 1500  # fewer alerts than wander episodes
    for alert in alerts:
        assert alert.signals == ("tail",)
        assert not {"latency", "latency_jump"} & set(alert.evidence["fired"])


def test_a_tail_fault_under_the_same_wander_is_still_reported() -> None:
    rng = random.Random(12)
    calls = _wandering_calls(rng, 12_000) + _wandering_calls(rng, 6000, tail_factor=10.0)
    alerts = _alerts(calls)
    assert alerts and alerts[0].signals == ("tail",)
    assert 12_000 <= alerts[0].sample_index < 12_000 + 500


def _cache_misses_in_wander(rng: random.Random, fault_at: int, count: int) -> list[float]:
    """A service whose level wanders by 1.25x for 600 of every 1,500 calls (learned as
    its own noise: the latency tests fire and are turned down); from `fault_at`, the
    start of such a wander, 5 % of calls at random take 10x (cache misses), the
    median where it was."""
    calls = []
    for index in range(count):
        value = 0.001 * math.exp(0.1 * rng.gauss(0.0, 1.0))
        if index % 1500 >= 900:
            value *= 1.25
        if index >= fault_at and rng.random() < 0.05:
            value *= 10.0
        calls.append(value)
    return calls


def test_a_heavy_tail_fault_that_begins_with_a_wander_is_reported() -> None:
    """A tail moving with a level judged wander is judged against twice the tail
    floors (stricter_tail), not set aside: a fault that makes 5 % of calls 10x slower
    as a wander begins is reported within 500 calls (on recorded real traces such a
    fault, HTTP cache misses, was missed on 4 of 11 recordings, 3 of them so). Seeds
    whose first wander, right after arming, is learned as noise (on others that first
    wander is reported, and every later one reopens its episode)."""
    for seed in (3, 4, 5):
        calls = _cache_misses_in_wander(random.Random(seed), 12_900, 15_000)
        alerts = _alerts(calls)
        assert [a for a in alerts if a.sample_index < 12_900] == []
        assert alerts and alerts[0].signals == ("tail",)
        assert 12_900 <= alerts[0].sample_index < 12_900 + 500
