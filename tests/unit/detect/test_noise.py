"""The level noise (_detect/noise.py): spread and autocorrelation of block levels, the
yardstick they give, what is held back and what is learned, and degenerate blocks."""

from __future__ import annotations

import logging
import math
import random

from perfguard import DegradationEvent, PerformanceTracker
from perfguard._detect.noise import LevelNoise
from perfguard.testing import FakeClock


def noise_of(levels: list[float]) -> LevelNoise:
    return LevelNoise(0.1, levels)


def test_independent_levels_have_no_memory_and_a_yardstick_that_shrinks() -> None:
    rng = random.Random(1)
    noise = noise_of([rng.gauss(0.0, 0.1) for _ in range(2000)])
    assert abs(noise.rho) < 0.1
    assert math.isclose(noise.sd, 0.1, rel_tol=0.15)
    assert math.isclose(noise.yardstick(16), noise.yardstick(4) / 2, rel_tol=1e-9)


def test_a_wandering_level_keeps_a_wide_yardstick() -> None:
    rng = random.Random(2)
    level, levels = 0.0, []
    for _ in range(3000):
        level = 0.8 * level + rng.gauss(0.0, 0.06)
        levels.append(level)
    wandering = noise_of(levels)
    assert 0.65 < wandering.rho < 0.9
    independent = noise_of([rng.gauss(0.0, wandering.sd) for _ in range(3000)])
    assert wandering.yardstick(8) > 2 * independent.yardstick(8)


def test_held_blocks_are_learned_when_released_and_dropped_when_discarded() -> None:
    released, discarded = noise_of([0.0] * 200), noise_of([0.0] * 200)
    for noise in (released, discarded):
        for _ in range(20):
            noise.hold(1.0)  # medians 1.0 against a reference p50 of 1.0: level 0
        noise.hold(2.0)
    released.release(1.0)
    released.learn_quiet(1.0)
    discarded.discard()
    discarded.learn_quiet(1.0)
    assert released.sd > discarded.sd  # the 2x block was learned only when released
    assert discarded.held == [] and released.held == []


def test_zero_duration_blocks_do_not_blind_the_latency_test() -> None:
    """40 % of calls measure 0.0 (a coarse clock): blocks whose median is 0 carry no
    level, and a 3x slowdown is still reported as a latency change."""
    logging.getLogger("perfguard").setLevel(logging.ERROR)
    rng = random.Random(3)

    def duration(scale: float) -> float:
        return 0.0 if rng.random() < 0.4 else scale * 0.001 * math.exp(rng.gauss(0.0, 0.3))

    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(clock=FakeClock(), autosave_interval=None, on_alert=events.append)
    for _ in range(20_000):
        tracker.record("op", duration(1.0))
    assert tracker.state("op") == "ok" and events == []
    for _ in range(3000):
        tracker.record("op", duration(3.0))
    alerts = [e for e in events if e.kind == "degraded"]
    assert alerts and "latency" in alerts[0].signals
    assert alerts[0].sample_index < 20_000 + 1000
    assert alerts[0].evidence["level_sd"] < 1.0
