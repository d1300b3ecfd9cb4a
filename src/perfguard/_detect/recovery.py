"""Recovery: reverse sequential tests that clear a degraded state once the effect has
mostly gone for long enough, and only then (hysteresis in the spirit of Prometheus
`for` / `keep_firing_for`)."""

from __future__ import annotations

import math
from bisect import bisect_right

from .._events import Signal
from .confirm import ratio_of
from .cusum import BinomialCusum
from .reference import Reference
from .settings import DetectorSettings


class Recovery:
    """One reverse CUSUM per degraded signal; a "hit" is a sample that looks healthy.

    Healthy means below the geometric middle of reference and episode (at least
    `recovery_tolerance` x the reference, never below the learned baseline), so a
    reference tracked down a little before the incident, or a daily cycle that moved on
    meanwhile, cannot hold the episode open. One block can take back at most
    `recovery_block_floor` of evidence, so a short burst does not restart a recovery.

    A tail episode proposed by the p99 test alone is judged on the p99: its p95 barely
    moved, so a p95 test would clear it at once and the episode would flap. Every test
    must have agreed over `recovery_min_samples` calls: a lull of a few blocks inside an
    incident is not a recovery.
    """

    __slots__ = ("_floor", "_min_samples", "_p50", "_tail_limit", "_tail_on_p99", "tests")

    def __init__(
        self,
        signals: tuple[Signal, ...],
        current: dict[str, float],
        reference: Reference,
        settings: DetectorSettings,
        error_rates: tuple[float, float],  # (reference, alternative) error rates
        tail_on_p99: bool = False,
    ) -> None:
        floor = settings.recovery_tolerance * max(1.0, 1.0 / reference.scale)
        p50 = reference.p50
        self._p50 = p50 * max(floor, math.sqrt(ratio_of(current["p50"], p50)))
        self._tail_on_p99 = tail_on_p99
        tail, key = (reference.p99, "p99") if tail_on_p99 else (reference.p95, "p95")
        self._tail_limit = tail * max(floor, math.sqrt(ratio_of(current[key], tail)))
        self._floor = -settings.recovery_block_floor
        self._min_samples = settings.recovery_min_samples
        reference_error, error_alt = error_rates
        threshold = settings.recovery_threshold
        self.tests: dict[Signal, BinomialCusum] = {}
        for signal in signals:
            if signal == "latency":
                test = BinomialCusum(1.0 - settings.latency_shift, 0.5, threshold)
            elif signal == "tail" and tail_on_p99:
                test = BinomialCusum(1.0 - settings.extreme_rate, 0.99, threshold)
            elif signal == "tail":
                test = BinomialCusum(1.0 - settings.tail_rate, 0.95, threshold)
            else:
                test = BinomialCusum(1.0 - error_alt, 1.0 - reference_error, threshold)
            self.tests[signal] = test

    def observe(self, sorted_successes: list[float], failures: int, block_start: int) -> bool:
        """Feed one block; True when every degraded signal looks recovered."""
        n_ok = len(sorted_successes)
        above_median = n_ok - bisect_right(sorted_successes, self._p50)
        above_tail = n_ok - bisect_right(sorted_successes, self._tail_limit)
        all_clear = True
        floor = self._floor
        for signal, test in self.tests.items():
            if signal == "latency":
                healthy, trials = n_ok - above_median, n_ok
            elif signal == "tail":
                healthy, trials = n_ok - above_tail, n_ok
            else:
                healthy, trials = n_ok, n_ok + failures
            if trials:
                test.update(healthy, trials, block_start, floor)
            if test.statistic <= test.threshold:
                all_clear = False
        if not all_clear:
            return False
        agreed_since = max(t.started_at for t in self.tests.values())
        return block_start + n_ok + failures - agreed_since >= self._min_samples

    @property
    def healthy_p50(self) -> float:
        """The p50 below which a call counts as healthy for the latency recovery."""
        return self._p50

    @property
    def began(self) -> int:
        """Where the evidence of recovery began (the earliest reverse test's start)."""
        return min((t.started_at for t in self.tests.values()), default=0)
