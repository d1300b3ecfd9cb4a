"""How much an operation's level wanders while it is healthy: the yardstick that keeps
wander from being evidence.

Real latency is autocorrelated: GC, scheduling or a neighbour move the level by 20-40 %
for hundreds of calls. The level of a block is the log of its median over the reference
p50. What a confirmation needs is the spread of the *mean* level over a span of `n`
blocks while healthy, and real wander has more than one time scale: a lag-one
autocorrelation `rho` of block levels (the AR(1) effective sample size, spread
sd * sqrt((1 + rho) / ((1 - rho) * n))) overstates it for short spans and understates
it, by up to 2x on the recorded traces, for spans of 256-512 calls. So the spread is
learned directly as **batch means**: the mean level of consecutive batches of 4, 8, 16
and 32 blocks (64-512 calls), each scale's variance about the mean level shrunk toward
the AR(1) prediction by a few batches' weight (a young operation leans on the
prediction), and read for any span by log-log interpolation between the scales. For
independent calls both give sd / sqrt(n). A latency shift is confirmed only when it
stands `z` of those deviations above the reference (and above the fixed floor); the
level is a log-ratio, so a large effect (3x, 1000x) clears the yardstick of all but the
most wandering operations as soon as its span is a few blocks long.

What it learns from: the window the baseline was learned from, then every block while
the operation is ok. Blocks seen while a test is accumulating evidence are held back;
they are learned from only if the evidence dies down without an alert (it was wander),
and dropped if an alert is confirmed (it was a degradation, not noise).
"""

from __future__ import annotations

import math
from itertools import pairwise

from .reference import TRACK_EVERY  # blocks between two learnings when nothing was held

_PRIOR_BLOCKS = 32  # weight of the prior (independent calls) in blocks
# Batch means: the spread of the mean level over 4, 8, 16 and 32 consecutive blocks
# (64-512 calls, the spans a latency confirmation judges), each learned directly.
SCALES = (4, 8, 16, 32)
_SCALE_MEMORY = tuple(max(512 // m, 32) for m in SCALES)  # batches remembered per scale
_SCALE_PRIOR = 8.0  # weight, in batches, of the AR(1) prediction at each scale
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
        "_batch",
        "_batch_blocks",
        "_carry",
        "_cov",
        "_last",
        "_mean",
        "_scale_square",
        "_scale_weight",
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
        # batch means: the product of the current 4-block batch's clamped ratios and
        # how many it holds, the half-built batches of the larger scales (None: empty),
        # and per scale the mean squared deviation of its batch levels from the mean
        # level and how many batches that rests on
        self._batch = 1.0
        self._batch_blocks = 0
        self._carry: list[float | None] = [None] * len(SCALES)
        self._scale_square = [0.0] * len(SCALES)
        self._scale_weight = [0.0] * len(SCALES)
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
        self._batch *= math.exp(min(max(level, -LEVEL_LIMIT), LEVEL_LIMIT))
        self._batch_blocks += 1
        if self._batch_blocks == SCALES[0]:
            self._learn_batch(math.log(self._batch) / SCALES[0])

    def _learn_batch(self, level: float) -> None:
        """A complete 4-block batch, its level the mean of its blocks' levels: learned at
        scale 4, and paired up into the batches of 8, 16 and 32 blocks. Runs once every
        64 calls of every operation, so scale 4 is written out and larger scales cost a
        check.

        The mean of the (clamped) log levels, not the log of the mean ratio: the
        variances are taken about the mean block level, and a block whose median fell
        into the slow mode of a bimodal operation (misses in half its calls) then moves
        its batch by a quarter of a clamped log, not by a quarter of a 10x ratio; on
        bimodal streams the yardstick of a 96-call span read 3x where the span's own
        median moves by a few percent."""
        self._batch, self._batch_blocks = 1.0, 0
        weight, square = self._scale_weight, self._scale_square
        if weight[0] < _SCALE_MEMORY[0]:
            weight[0] += 1.0
        deviation = level - self._mean
        square[0] += (deviation * deviation - square[0]) / weight[0]
        carry = self._carry
        if carry[1] is None:
            carry[1] = level
        else:
            self._pair_up(level)

    def _pair_up(self, level: float) -> None:
        """The second half of an 8-block batch arrived: learn it, and on up the scales."""
        carry, square, weight = self._carry, self._scale_square, self._scale_weight
        mean = self._mean
        for scale in range(1, len(SCALES)):
            half = carry[scale]
            if half is None:
                carry[scale] = level
                return
            carry[scale] = None
            level = 0.5 * (half + level)
            weight[scale] = min(weight[scale] + 1.0, _SCALE_MEMORY[scale])
            deviation = level - mean
            square[scale] += (deviation * deviation - square[scale]) / weight[scale]

    def _break_batches(self) -> None:
        """Blocks were dropped: no batch may straddle the gap."""
        self._batch, self._batch_blocks = 1.0, 0
        self._carry = [None] * len(SCALES)

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
        inverse, log, low, high = 1.0 / p50, math.log, _LEVEL_RANGE_LOW, _LEVEL_RANGE_HIGH
        size, product, filled = SCALES[0], self._batch, self._batch_blocks
        # Settled (a full memory of levels): learn every other routine round of blocks
        # into the levels. Half the cost, the same estimate over twice the time (~16,000
        # calls); rounds with released blocks (rejected wander) are always learned. The
        # batches learn every block (a product of ratios, one log a batch).
        settled = self._weight >= _MEMORY and len(quiet) <= TRACK_EVERY
        if settled:
            self._skip = not self._skip
        skipping = settled and self._skip  # this round feeds the batches alone
        memory = float(_MEMORY)
        weight, mean, var, cov = self._weight, self._mean, self._var, self._cov
        # no previous level (a fresh start): pairing the first with the mean adds ~nothing
        last = self._last if self._last is not None else mean
        learned = False
        for median in quiet:
            ratio = median * inverse
            if ratio <= 0.0:
                continue  # a block of zero durations (a coarse clock) says nothing of level
            ratio = low if ratio < low else high if ratio > high else ratio
            product *= ratio
            filled += 1
            if filled == size:  # batches use the mean as it stood before these blocks
                self._learn_batch(log(product) / size)
                product, filled = 1.0, 0
            if skipping:
                continue
            level = log(ratio)
            if weight < memory:
                weight += 1.0
            rate = 1.0 / weight
            deviation = level - mean
            mean += rate * deviation
            after = level - mean
            var += rate * (deviation * after - var)
            cov += rate * ((last - mean) * after - cov)
            last = level
            learned = True
        self._batch, self._batch_blocks = product, filled
        quiet.clear()
        if skipping:
            self._last = None  # the next level does not follow this one
            return
        self._weight, self._mean, self._var, self._cov = weight, mean, var, cov
        if learned:
            self._last = last

    def discard(self) -> None:
        """An alert was confirmed: what was held was the degradation."""
        self.held.clear()
        self._last = None
        self._break_batches()

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

    def ar1_yardstick(self, blocks: float) -> float:
        """The AR(1) prediction of the spread of the mean level over `blocks` blocks."""
        rho = self.rho
        n = max(blocks, 1.0)
        return self.sd * math.sqrt((1.0 + rho) / ((1.0 - rho) * n))

    def scale_variances(self) -> list[tuple[float, float]]:
        """(blocks, variance of the mean level over that many blocks) at 1, 4 ... 32
        blocks: learned batch means, each shrunk toward the AR(1) prediction by
        `_SCALE_PRIOR` batches, so a scale with few batches leans on the prediction."""
        points = [(1.0, max(self._var, 0.0))]
        sd, rho = self.sd, self.rho  # ar1_yardstick's, read once for the four scales
        for scale, square, weight in zip(
            SCALES, self._scale_square, self._scale_weight, strict=True
        ):
            predicted = (sd * math.sqrt((1.0 + rho) / ((1.0 - rho) * scale))) ** 2
            points.append(
                (
                    float(scale),
                    (_SCALE_PRIOR * predicted + weight * square) / (_SCALE_PRIOR + weight),
                )
            )
        return points

    def yardstick(self, blocks: float) -> float:
        """Standard deviation of the mean level over `blocks` consecutive healthy blocks.

        Read off the batch means at the nearest scales (log-log interpolation; beyond 32
        blocks extended along the 16-32 slope, between no decrease and 1/n): a level
        that wanders over hundreds of calls keeps long spans' yardstick wide even where
        its lag-one autocorrelation is small, and short spans are not charged for wander
        they are too short to contain."""
        n = max(blocks, 1.0)
        points = self.scale_variances()
        if any(variance <= 0.0 for _, variance in points):
            return self.ar1_yardstick(n)
        for (low, low_var), (high, high_var) in pairwise(points):
            if n <= high:
                slope = math.log(high_var / low_var) / math.log(high / low)
                return math.sqrt(low_var * (n / low) ** slope)
        (low, low_var), (high, high_var) = points[-2], points[-1]
        slope = min(max(math.log(high_var / low_var) / math.log(high / low), -1.0), 0.0)
        return math.sqrt(high_var * (n / high) ** slope)

    def upper(self, blocks: float, z: float) -> float:
        """The level a span of `blocks` healthy blocks stays below, but for z deviations."""
        # The spread is an estimate from a few dozen batches at most, so a new span's
        # mean is a Student-t away from it, with the degrees of freedom of the scale
        # nearest the span (its batches and the prior's).
        span = max(blocks, 1.0)
        scale = min(range(len(SCALES)), key=lambda i: abs(math.log(span / SCALES[i])))
        z = student_z(z, self._scale_weight[scale] + _SCALE_PRIOR)
        return max(self._mean, 0.0) + z * self.yardstick(blocks)


def student_z(z: float, df: float) -> float:
    """The Student-t quantile with `df` degrees of freedom at the normal quantile `z`
    (the Cornish-Fisher expansion to 1/df^2: within 4 % at z = 3.5 for df >= 8)."""
    z3, z5 = z**3, z**5
    return z + (z3 + z) / (4 * df) + (5 * z5 + 16 * z3 + 3 * z) / (96 * df * df)
