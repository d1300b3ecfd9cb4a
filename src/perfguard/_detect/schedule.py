"""When a proposed alert is judged: once it is old enough, then, while it keeps being
rejected, after growing back-offs (proposing.backoff_blocks), unless a test starts firing
that was not firing at the last rejection, or latency rises above the level that was
rejected (the rise test below)."""

from __future__ import annotations

from bisect import bisect_right

from .cusum import BinomialCusum
from .proposing import backoff_blocks
from .settings import DetectorSettings

_NO_TESTS: frozenset[str] = frozenset()


class DecisionSchedule:
    """The back-off state of one detector's confirmations.

    The rise test: a latency proposal that keeps being rejected (a wander within the
    operation's own noise) keeps its tests at their evidence cap, so a real step on top
    of it starts no new test and would wait out a back-off of up to 4,096 calls. While a
    rejected latency proposal stands, the rise test counts the calls slower than the
    median of the span that was rejected, tuned like the latency jump test (from half
    the calls to most); once it fires and its span is old enough to be judged
    (`least` calls), the back-off ends and the span since its change point is judged
    too (`rise_start`)."""

    __slots__ = (
        "_least",
        "_rise",
        "deciding_on",
        "decision_at",
        "judged_p50",
        "next_block",
        "rejected_firing",
        "rejections",
        "rise_limit",
        "rise_start",
    )

    def __init__(self, settings: DetectorSettings, threshold: float) -> None:
        self.next_block = 0  # no look before this block while backing off (0: none)
        self.rejections = 0  # consecutive rejected proposals (they back off)
        self.decision_at = 0  # the sample index a pending decision is taken at
        self.deciding_on: frozenset[str] = _NO_TESTS  # tests firing at that decision
        self.rejected_firing: frozenset[str] = _NO_TESTS  # ... at the last rejection
        # tuned like the latency jump test, with the latency tests' threshold
        self._rise = BinomialCusum(0.5, settings.latency_jump, threshold)
        self._least = settings.min_persistence
        self.judged_p50 = 0.0  # the median of the latency span the decision judged (0: none)
        self.rise_limit = 0.0  # the rejected latency median the rise test counts above
        self.rise_start = 0  # the rise test's change point once it fired (0: not fired)

    def backing_off(self, blocks_seen: int, firing: frozenset[str]) -> bool:
        """Still backing off, and no test has started firing since the rejection."""
        return blocks_seen < self.next_block and firing <= self.rejected_firing

    def rising(self, sorted_successes: list[float], block_start: int) -> bool:
        """One block while a rejected latency proposal stands; True when latency rose
        above the rejected level long enough to be judged: the back-off is over. The
        routine block (none slower than the limit, no evidence) costs two comparisons."""
        rise, limit = self._rise, self.rise_limit
        if not sorted_successes or (sorted_successes[-1] <= limit and not rise.statistic):
            return False
        n_ok = len(sorted_successes)
        fired = rise.update(n_ok - bisect_right(sorted_successes, limit), n_ok, block_start)
        if not fired or block_start + n_ok - rise.started_at < self._least:
            return False
        self.rise_start, self.next_block = rise.started_at, 0
        return True

    def risen(self, decision_at: int) -> int:
        """How many samples before `decision_at` the rise test's change point is (0: it
        has not fired)."""
        return decision_at - self.rise_start if self.rise_start else 0

    def judged(self, latency_figures: dict[str, float] | None) -> None:
        """The figures of the latency span the decision judged whole (None: it judged
        none); a rejection sets the rise test on its median."""
        self.judged_p50 = latency_figures["p50"] if latency_figures else 0.0

    def take(self, blocks_seen: int, next_sample: int, firing: frozenset[str]) -> None:
        """A decision is taken now (at `next_sample`) on the tests `firing`."""
        self.next_block = blocks_seen + backoff_blocks(self.rejections)
        self.decision_at = next_sample
        self.deciding_on = firing
        self.judged_p50 = 0.0

    def rejected(self) -> None:
        """The decision found no alert. If it judged latency, the rise test now counts
        the calls above that span's median."""
        self.rejections += 1
        self.rejected_firing = self.deciding_on
        self.rise_limit, self.rise_start = self.judged_p50, 0
        self._rise.reset()

    def confirmed(self) -> None:
        """An alert was confirmed: its rejections are over (the look scheduled stands)."""
        self.rejections, self.rejected_firing = 0, _NO_TESTS
        self.rise_limit = self.rise_start = 0

    def clear(self) -> None:
        """No test is over its threshold any more, or an episode ended: the next
        proposal is a new one, judged at once."""
        self.rejections, self.next_block, self.rejected_firing = 0, 0, _NO_TESTS
        self.rise_limit = self.rise_start = 0
