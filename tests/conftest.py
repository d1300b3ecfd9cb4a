"""Shared fixtures: a fake clock and tracker factories that never touch real time."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator

import pytest

from perfguard import PerformanceTracker
from perfguard.testing import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_tracker(clock: FakeClock) -> Iterator[Callable[..., PerformanceTracker]]:
    created: list[PerformanceTracker] = []

    def factory(**kwargs: object) -> PerformanceTracker:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("autosave_interval", None)
        tracker = PerformanceTracker(**kwargs)  # type: ignore[arg-type]
        created.append(tracker)
        return tracker

    yield factory
    for tracker in created:
        tracker.close()


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20261127)


@pytest.fixture(autouse=True)
def _perfguard_logs_propagate() -> Iterator[None]:
    logger = logging.getLogger("perfguard")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    yield
    logger.setLevel(level)


def lognormal_stream(
    rng: random.Random, count: int, median: float = 0.05, sigma: float = 0.4
) -> list[float]:
    return [rng.lognormvariate(0.0, sigma) * median for _ in range(count)]
