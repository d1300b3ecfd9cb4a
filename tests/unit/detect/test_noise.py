"""The level noise (_detect/noise.py): spread and autocorrelation of block levels, the
yardstick they give, what is held back and what is learned, and degenerate blocks."""

from __future__ import annotations

import logging
import math
import random

from perfguard import DegradationEvent, PerformanceTracker
from perfguard._detect.noise import LevelNoise, student_z
from perfguard.testing import FakeClock


def noise_of(levels: list[float]) -> LevelNoise:
    return LevelNoise(0.1, levels)


def test_independent_levels_have_no_memory_and_a_yardstick_that_shrinks() -> None:
    rng = random.Random(1)
    noise = noise_of([rng.gauss(0.0, 0.1) for _ in range(2000)])
    assert abs(noise.rho) < 0.1
    assert math.isclose(noise.sd, 0.1, rel_tol=0.15)
    # batch means of independent levels: the yardstick shrinks as 1/sqrt(n), as AR(1) says
    assert math.isclose(noise.yardstick(16), noise.yardstick(4) / 2, rel_tol=0.2)
    for blocks in (4, 8, 16, 32, 48):
        assert math.isclose(noise.yardstick(blocks), noise.ar1_yardstick(blocks), rel_tol=0.2)


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


def test_wander_slower_than_a_block_keeps_long_spans_yardstick_wide() -> None:
    """A slow wander (a level that drifts over ~500 calls) under fast independent noise
    has a small lag-one autocorrelation, so the AR(1) prediction shrinks the yardstick as
    if the calls were independent; batch means see the wander at the spans it lasts."""
    rng = random.Random(4)
    slow, levels = 0.0, []
    for _ in range(6000):
        slow = 0.97 * slow + rng.gauss(0.0, 0.02)  # ~0.08 spread, memory of ~30 blocks
        levels.append(slow + rng.gauss(0.0, 0.2))
    noise = noise_of(levels)
    assert noise.rho < 0.2
    # measured: the spread of 32-block means, which the yardstick must follow
    means = [sum(levels[i : i + 32]) / 32 for i in range(0, len(levels) - 31, 32)]
    centre = sum(means) / len(means)
    measured = math.sqrt(sum((m - centre) ** 2 for m in means) / len(means))
    assert noise.yardstick(32) > 1.5 * noise.ar1_yardstick(32)
    assert math.isclose(noise.yardstick(32), measured, rel_tol=0.35)
    # spans longer than the largest scale never get a yardstick that grows, nor one
    # that shrinks faster than 1/n
    assert noise.yardstick(32) * math.sqrt(32 / 48) <= noise.yardstick(48) <= noise.yardstick(32)


def test_a_young_noise_leans_on_the_ar1_prediction() -> None:
    """With a few batches learned, each scale is mostly the AR(1) prediction."""
    rng = random.Random(5)
    noise = noise_of([rng.gauss(0.0, 0.1) for _ in range(40)])
    for blocks in (8, 16, 32):
        assert math.isclose(noise.yardstick(blocks), noise.ar1_yardstick(blocks), rel_tol=0.35)


def test_a_discarded_hold_breaks_the_batches() -> None:
    """Blocks dropped after an alert leave a gap no batch may straddle."""
    kept, broken = noise_of([0.0] * 6), noise_of([0.0] * 6)  # a 4-block batch, and 2
    broken.hold(1.0)
    broken.discard()
    for noise in (kept, broken):
        noise.quiet.extend([1.0, 1.0])
        noise.learn_quiet(1.0)
    batches = [noise._scale_weight[0] for noise in (kept, broken)]
    assert batches == [2.0, 1.0]  # 2 + 2 blocks made a batch only where nothing was dropped


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
    spread = alerts[0].evidence["level_spread"]  # by span length in calls: it narrows
    assert list(spread) == ["64", "128", "256", "512"]
    assert spread["64"] > spread["512"] > 0.0


def test_student_z_follows_the_t_quantiles() -> None:
    # the t quantiles at the normal 3.5 (one-sided), by numerical integration of the density
    for df, quantile in ((8, 5.68), (16, 4.381), (40, 3.813), (136, 3.587)):
        assert math.isclose(student_z(3.5, df), quantile, rel_tol=0.04)


def test_a_young_yardstick_asks_for_more() -> None:
    """The same spread resting on fewer batches gives a higher bound: a shift must stand
    further out while the operation's wander is still little known."""
    rng = random.Random(6)
    levels = [rng.gauss(0.0, 0.1) for _ in range(8000)]
    young, settled = noise_of(levels[:200]), noise_of(levels)
    for blocks in (4, 16, 32):
        young_z, settled_z = (
            (noise.upper(blocks, 3.5) - max(noise.mean, 0.0)) / noise.yardstick(blocks)
            for noise in (young, settled)
        )
        assert young_z > settled_z > 3.5


def _cache_hits_and_misses(rng: random.Random, calls: int, slower: float = 1.0) -> list[float]:
    """A bimodal operation: 29 % of calls miss a cache and take 12.7x (1 ms hits); a
    16-call block's median falls among the misses now and then (8 or more of 16)."""
    values = []
    for _ in range(calls):
        value = rng.lognormvariate(math.log(0.001), 0.17)
        values.append(slower * (12.7 * value if rng.random() < 0.29 else value))
    return values


def test_a_bimodal_operations_yardstick_follows_its_span_medians() -> None:
    """A batch's level is the mean of its blocks' (clamped) log levels: a block whose
    median fell among the misses widens the yardstick by what it does to a span's
    median, not by a quarter of a 12.7x ratio; a 2x slowdown of every call is reported
    within 500 calls (96-192 on seeds 1-8; with the log of the mean ratio, 4 of those 8
    were never reported, these three among them)."""
    for seed in (1, 2, 4):
        rng = random.Random(seed)
        events: list[DegradationEvent] = []
        tracker = PerformanceTracker(
            clock=FakeClock(), autosave_interval=None, on_alert=events.append
        )
        for value in _cache_hits_and_misses(rng, 8000) + _cache_hits_and_misses(rng, 2000, 2.0):
            tracker.record("op", value)
        tracker.close()
        alerts = [e for e in events if e.kind == "degraded"]
        assert alerts and alerts[0].signals[0] == "latency"
        assert 8000 <= alerts[0].sample_index < 8000 + 500
