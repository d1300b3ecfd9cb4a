"""How much an operation's level wanders while it is healthy: the yardstick that keeps
wander from being evidence.

Real latency is autocorrelated: GC, scheduling or a neighbour move the level by 20-40 %
for hundreds of calls. The level of a block is the log of its median over the reference
p50; while healthy, those values have a spread `sd` and a lag-one autocorrelation `rho`.
The mean over `n` consecutive blocks then varies with standard deviation
sd * sqrt((1 + rho) / ((1 - rho) * n)) (the AR(1) effective sample size of batch
means): for independent calls `rho` is about 0 and the yardstick shrinks as 1/sqrt(n);
for a wandering level it stays wide for long spans. A latency shift is confirmed only
when it stands `z` of those deviations above the reference (and above the fixed floor).
The level is a log-ratio, so a large effect (3x, 1000x) clears the yardstick of all but
the most wandering operations as soon as its span is a few blocks long.

What it learns from: the window the baseline was learned from, then every block while
the operation is ok. Blocks seen while a test is accumulating evidence are held back;
they are learned from only if the evidence dies down without an alert (it was wander),
and dropped if an alert is confirmed (it was a degradation, not noise).
"""

from __future__ import annotations

import math

from .reference import TRACK_EVERY  # blocks between two learnings when nothing was held

_PRIOR_BLOCKS = 32  # weight of the prior (independent calls) in blocks
_MEMORY = 512  # blocks: the estimate follows the last ~8,000 calls
HELD_AT_MOST = 96  # blocks held back while evidence accumulates
_MAX_RHO = 0.95
# levels are clamped to [1/4, 4] x the reference: a degenerate block (quantized or
# zero-inflated durations) must not blow the spread up; real wander stays well inside
_LEVEL_RANGE_LOW, _LEVEL_RANGE_HIGH = 0.25, 4.0
LEVEL_LIMIT = math.log(_LEVEL_RANGE_HIGH)


class LevelNoise:
    """Mean, spread and lag-one autocorrelation of block levels."""

    __slots__ = (
        "_cov",
        "_last",
        "_mean",
        "_skip",
        "_var",
        "_weight",
        "held",
        "prior_sd",
        "quiet",
    )

    def __init__(self, prior_sd: float, levels: list[float]) -> None:
        # prior: independent calls (the spread of a 16-call median), so a short history
        # cannot claim an operation quieter than independent calls would be
        self.prior_sd = prior_sd
        self._mean = 0.0
        self._var = prior_sd * prior_sd
        self._cov = 0.0
        self._weight = float(_PRIOR_BLOCKS)
        self._last: float | None = None
        self._skip = False
        # raw block medians waiting to be learned (quiet) or held back (evidence
        # accumulating, at most HELD_AT_MOST): the detector appends to them per block,
        # learn_quiet() takes them every few blocks, so a block costs one list append
        self.quiet: list[float] = []
        self.held: list[float] = []
        for level in levels:
            self.learn(level)

    def learn(self, level: float) -> None:
        """One healthy block's level."""
        self._weight = min(self._weight + 1.0, float(_MEMORY))
        rate = 1.0 / self._weight
        previous = self._last
        deviation = level - self._mean
        self._mean += rate * deviation
        self._var += rate * (deviation * (level - self._mean) - self._var)
        if previous is not None:
            self._cov += rate * ((previous - self._mean) * (level - self._mean) - self._cov)
        self._last = level

    def hold(self, median: float) -> None:
        """A block seen while evidence accumulates: learned from later, or never."""
        if len(self.held) < HELD_AT_MOST:
            self.held.append(median)

    def release(self, median: float) -> None:
        """The evidence died down without an alert: what was held was wander; `median`
        is the quiet block that follows it."""
        self.quiet.extend(self.held)
        self.held.clear()
        self.quiet.append(median)

    def learn_quiet(self, p50: float) -> None:
        """Learn the quiet medians as levels against the reference p50 of now (it moves by
        at most a few percent between two calls). `learn()` written out for speed: this
        runs every few blocks of every operation (docs/benchmarks.md, per-call cost)."""
        quiet = self.quiet
        if not quiet or p50 <= 0.0:
            quiet.clear()
            return
        if self._weight >= _MEMORY and len(quiet) <= TRACK_EVERY:
            # Settled (a full memory of levels): learn every other routine batch. Half
            # the cost, the same estimate over twice the time (~16,000 calls); batches
            # with released blocks (rejected wander) are always learned.
            self._skip = not self._skip
            if self._skip:
                quiet.clear()
                self._last = None  # the next batch does not follow this one
                return
        inverse, log, memory = 1.0 / p50, math.log, float(_MEMORY)
        weight, mean, var, cov = self._weight, self._mean, self._var, self._cov
        # no previous level (a fresh start): pairing the first with the mean adds ~nothing
        first = last = self._last if self._last is not None else mean
        for median in quiet:
            ratio = median * inverse
            if ratio <= 0.0:
                continue  # a block of zero durations (a coarse clock) says nothing of level
            level = log(
                _LEVEL_RANGE_LOW
                if ratio < _LEVEL_RANGE_LOW
                else _LEVEL_RANGE_HIGH
                if ratio > _LEVEL_RANGE_HIGH
                else ratio
            )
            if weight < memory:
                weight += 1.0
            rate = 1.0 / weight
            deviation = level - mean
            mean += rate * deviation
            after = level - mean
            var += rate * (deviation * after - var)
            cov += rate * ((last - mean) * after - cov)
            last = level
        self._weight, self._mean, self._var, self._cov = weight, mean, var, cov
        if last is not first:  # a level was learned (log() returns a new object)
            self._last = last
        quiet.clear()

    def discard(self) -> None:
        """An alert was confirmed: what was held was the degradation."""
        self.held.clear()
        self._last = None

    @property
    def mean(self) -> float:
        return self._mean

    @property
    def sd(self) -> float:
        return math.sqrt(max(self._var, 0.0))

    @property
    def rho(self) -> float:
        var = self._var
        if var <= 0.0:
            return 0.0
        return min(max(self._cov / var, 0.0), _MAX_RHO)

    def yardstick(self, blocks: float) -> float:
        """Standard deviation of the mean level over `blocks` consecutive healthy blocks."""
        rho = self.rho
        n = max(blocks, 1.0)
        return self.sd * math.sqrt((1.0 + rho) / ((1.0 - rho) * n))

    def upper(self, blocks: float, z: float) -> float:
        """The level a span of `blocks` healthy blocks stays below, but for z deviations."""
        return max(self._mean, 0.0) + z * self.yardstick(blocks)
