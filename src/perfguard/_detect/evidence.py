"""What a detector's verdicts carry as evidence, and the level noise it starts from."""

from __future__ import annotations

import math
from typing import Any

from .._baseline import Baseline
from .._events import Signal
from .cusum import BinomialCusum
from .escalation import ESCALATION
from .noise import LEVEL_LIMIT, SCALES, LevelNoise
from .reference import Reference, block_medians
from .settings import BLOCK_SIZE


def evidence_of(
    tests: dict[str, BinomialCusum],
    reference: Reference,
    noise: LevelNoise,
    starts: dict[Signal, int],
    noise_z: float,
) -> dict[str, Any]:
    """What a confirmed alert rests on, for the event's `evidence`."""
    return {
        "test": "binomial CUSUM on rank indicators, confirmed by persistence and effect",
        "statistics": {name: round(t.statistic, 3) for name, t in tests.items()},
        "threshold": tests["latency"].threshold,
        "fired": [name for name, t in tests.items() if t.statistic > t.threshold],
        "reference_scale": round(reference.scale, 4),
        # the p95's and p99's calibration to the healthy share (tail_calibration.py)
        "tail_factors": [round(factor, 4) for factor in reference.tail_factors],
        "level_sd": round(noise.sd, 4),  # of log(block median / reference p50)
        "level_rho": round(noise.rho, 3),
        # spread of the healthy mean level over spans of 64 ... 512 calls (batch means)
        "level_spread": {
            str(BLOCK_SIZE * blocks): round(noise.yardstick(blocks), 4) for blocks in SCALES
        },
        "noise_z": round(noise_z, 3),  # noise_z for one of the tracker's operations
        "change_points": dict(starts),
    }


def learned_noise(baseline: Baseline, recent_encoded: list[float] | None) -> LevelNoise:
    """The level noise of the samples the baseline was learned from, over a prior of
    independent calls (the median of a block of 16 spreads by ~0.31 log-scales)."""
    prior_sd = 0.313 * max(baseline.log_scale, 0.0)
    p50 = baseline.p50
    if p50 <= 0.0:
        return LevelNoise(prior_sd, [])
    levels = [
        min(max(math.log(m / p50), -LEVEL_LIMIT), LEVEL_LIMIT)
        for m in block_medians(recent_encoded or [], middle=True)
        if m > 0.0  # a block of zero durations says nothing of level
    ]
    return LevelNoise(prior_sd, levels)


def recovery_evidence(tests: dict[Signal, BinomialCusum], threshold: float) -> dict[str, Any]:
    """What a recovery rests on, for the event's `evidence`."""
    return {
        "test": "reverse binomial CUSUM (return to the reference)",
        "statistics": {name: round(t.statistic, 3) for name, t in tests.items()},
        "threshold": threshold,
    }


def episode_of(
    began_at: int, reopened: bool, recovered_at: int, added: list[Signal]
) -> dict[str, Any]:
    """The evidence of an alert within an episode: a relapse reopens the one that
    recovered at `recovered_at`; otherwise `added` signals worsen the open one."""
    if reopened:
        return {
            "reopened": True,
            "episode_began_at_sample": began_at,
            "recovered_at_sample": recovered_at,
        }
    return {"worsened": True, "episode_began_at_sample": began_at, "added_signals": list(added)}


def escalated_evidence(began_at: int, episode_p50: float, ratio: float) -> dict[str, Any]:
    """The evidence of an open latency episode that became much worse (escalation.py)."""
    return {
        "test": f"binomial CUSUM on calls slower than {ESCALATION:g}x the episode's p50, "
        "confirmed by effect",
        "worsened": True,
        "escalated": True,
        "episode_began_at_sample": began_at,
        "added_signals": [],
        "episode_p50": episode_p50,
        "times_episode_p50": round(ratio, 3),
    }
