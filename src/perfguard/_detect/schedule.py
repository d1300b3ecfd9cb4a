"""When a proposed alert is judged: once it is old enough, then, while it keeps being
rejected, after growing back-offs (proposing.backoff_blocks), unless a test starts firing
that was not firing at the last rejection."""

from __future__ import annotations

from .proposing import backoff_blocks

_NO_TESTS: frozenset[str] = frozenset()


class DecisionSchedule:
    """The back-off state of one detector's confirmations."""

    __slots__ = ("deciding_on", "decision_at", "next_block", "rejected_firing", "rejections")

    def __init__(self) -> None:
        self.next_block = 0  # no look before this block while backing off (0: none)
        self.rejections = 0  # consecutive rejected proposals (they back off)
        self.decision_at = 0  # the sample index a pending decision is taken at
        self.deciding_on: frozenset[str] = _NO_TESTS  # tests firing at that decision
        self.rejected_firing: frozenset[str] = _NO_TESTS  # ... at the last rejection

    def backing_off(self, blocks_seen: int, firing: frozenset[str]) -> bool:
        """Still backing off, and no test has started firing since the rejection."""
        return blocks_seen < self.next_block and firing <= self.rejected_firing

    def take(self, blocks_seen: int, next_sample: int, firing: frozenset[str]) -> None:
        """A decision is taken now (at `next_sample`) on the tests `firing`."""
        self.next_block = blocks_seen + backoff_blocks(self.rejections)
        self.decision_at = next_sample
        self.deciding_on = firing

    def rejected(self) -> None:
        self.rejections += 1
        self.rejected_firing = self.deciding_on

    def confirmed(self) -> None:
        """An alert was confirmed: its rejections are over (the look scheduled stands)."""
        self.rejections, self.rejected_firing = 0, _NO_TESTS

    def clear(self) -> None:
        """No test is over its threshold any more, or an episode ended: the next
        proposal is a new one, judged at once."""
        self.rejections, self.next_block, self.rejected_firing = 0, 0, _NO_TESTS
