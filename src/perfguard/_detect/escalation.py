"""While a latency episode is open: has it become much worse?

An open episode keeps watching the signals it does not hold (an error spike during a
latency episode worsens it), but its own signal has nothing left to propose: once
"degraded" for latency, a dependency that then fails far harder (a 1.3x wander still
open when an index is dropped, 165x) changed nothing a user could see. The escalation
test watches the share of calls slower than `ESCALATION` x the p50 the episode was
confirmed at, with the latency jump test's tuning (from half the calls to
`latency_jump`); once it fires, the span since its change point must be that much
slower on its median, also once its densest burst is taken out, for as long as a new
latency alert of that size must last. Then the episode is reported worsened, and the
next escalation is measured from the new level.
"""

from __future__ import annotations

from bisect import bisect_right

from .confirm import latency_rule, quantile_of, ratio_of, without_densest_run
from .cusum import BinomialCusum
from .settings import BLOCK_SIZE, DetectorSettings

ESCALATION = 2.0  # much worse: this many times the p50 the episode was confirmed at


class Escalation:
    """The escalation test of one open latency episode. It is due once it fires and the
    span since its change point can be judged: `large_effect_persistence` calls, twice
    that after a rejection, four and eight times after more (at most `max_span`), so
    repeated bursts that never hold 2x cost a look every few hundred calls at most."""

    __slots__ = ("_least", "_most", "_rejections", "_tick", "level", "limit", "test")

    def __init__(self, episode_p50: float, settings: DetectorSettings, threshold: float) -> None:
        self.test = BinomialCusum(0.5, settings.latency_jump, threshold)
        self._least = settings.large_effect_persistence
        self._most = settings.max_span
        self._tick = settings.min_effect_seconds or 0.0  # a clock tick is no escalation
        self._rejections = 0
        self.level = self.limit = 0.0
        self.restart(episode_p50)

    def restart(self, level: float) -> None:
        """Measure the next escalation from `level` (the episode's p50 now)."""
        self.level = level
        self.limit = max(ESCALATION * level, level + self._tick)
        self.test.reset()

    def observe(self, sorted_successes: list[float], block_start: int) -> bool:
        """One block seen while degraded; True when the test fires. Runs once every 16
        calls of a degraded operation: the routine block (none slower than the limit, no
        evidence held) costs two comparisons."""
        if not sorted_successes or self.level <= 0.0:
            return False
        if sorted_successes[-1] <= self.limit and not self.test.statistic:
            return False
        n_ok = len(sorted_successes)
        hits = n_ok - bisect_right(sorted_successes, self.limit)
        if not self.test.update(hits, n_ok, block_start):
            return False
        span = block_start + BLOCK_SIZE - self.test.started_at
        return span >= min(self._least << min(self._rejections, 3), self._most)

    def judge(self, span: list[float], settings: DetectorSettings) -> float | None:
        """The span's p50 over the episode's level when it is `ESCALATION` x or more, on
        the span and without its densest burst, by the rule a new latency alert follows
        (confirm.latency_rule: a young span only for a large effect); else None. A span
        too young for its effect is judged again at the next block; one that fails
        restarts the test."""
        least_ratio, burst = latency_rule(len(span), settings)
        needed = max(ESCALATION, least_ratio)
        ratio = ratio_of(quantile_of(span, 0.5), self.level)
        if len(span) < settings.min_persistence and ratio < needed:
            return None
        trimmed = without_densest_run(span, self.limit, burst)
        if ratio >= needed and ratio_of(quantile_of(trimmed, 0.5), self.level) >= needed:
            self._rejections = 0
            return ratio
        self._rejections += 1
        self.test.reset()
        return None
