"""Deterministic latency streams for detector tests (a small cousin of the benchmark's
generator): one healthy regime per family, and degradations applied from an index."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from perfguard import PerformanceTracker

Sample = tuple[float, bool]


def healthy_then_slower(tracker: PerformanceTracker, name: str, seed: int) -> None:
    """2,000 healthy calls (lognormal, p50 18 ms), then 600 three times slower: enough
    for a mature baseline, an armed detector and a confirmed latency alert."""
    rng = random.Random(seed)
    for _ in range(2000):
        tracker.record(name, rng.lognormvariate(-4.0, 0.3))
    for _ in range(600):
        tracker.record(name, 3 * rng.lognormvariate(-4.0, 0.3))


def healthy(regime: str, count: int, seed: int, median: float = 0.02) -> list[Sample]:
    rng = random.Random(seed)
    period = rng.uniform(2500, 6000)
    phase = rng.uniform(0, 2 * math.pi)
    # isolated short bursts: 10-30 calls 4x slower, about one per 1,500 calls, spaced at
    # least 800 apart (several within a few hundred calls would be a tail problem)
    bursts = [
        (start + rng.randrange(0, 700), rng.randint(10, 30))
        for start in range(500, count - 800, 1500)
    ]
    samples: list[Sample] = []
    for i in range(count):
        value = median * math.exp(rng.gauss(0.0, 0.4))
        if regime == "pareto_mix" and rng.random() < 0.03:
            value = median * 3.0 * rng.paretovariate(1.6)
        elif regime == "bimodal" and rng.random() < 0.2:
            value *= 10.0
        elif regime == "outliers" and rng.random() < 0.002:
            value *= rng.uniform(10.0, 100.0)
        elif regime == "diurnal":
            value *= 1.0 + 0.15 * math.sin(2 * math.pi * i / period + phase)
        elif regime == "bursts" and any(start <= i < start + length for start, length in bursts):
            value *= 4.0
        samples.append((value, rng.random() >= 0.003))
    return samples


def degrade(
    samples: list[Sample],
    start: int,
    seed: int,
    *,
    factor: Callable[[int], float] = lambda i: 1.0,
    error_rate: float | None = None,
    tail_share: float = 0.0,
    spread: float = 1.0,
    end: int | None = None,
) -> list[Sample]:
    """The stream with a degradation between `start` and `end` (i counts from start)."""
    rng = random.Random(seed)
    ordered = sorted(v for v, _ in samples[:start])
    median = ordered[len(ordered) // 2]
    p99 = ordered[int(0.99 * len(ordered))]
    result = list(samples[:start])
    stop = len(samples) if end is None else end
    for i, (value, ok) in enumerate(samples[start:], start):
        if i < stop:
            offset = i - start
            if spread != 1.0:
                value = median * (value / median) ** spread
            value *= factor(offset)
            if tail_share and rng.random() < tail_share:
                value = max(value, p99 * rng.uniform(1.5, 4.5))
            if error_rate is not None:
                ok = rng.random() >= error_rate
        result.append((value, ok))
    return result
