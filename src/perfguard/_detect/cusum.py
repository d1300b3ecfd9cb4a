"""The sequential test every signal uses: a one-sided binomial CUSUM fed per block."""

from __future__ import annotations

import math


class BinomialCusum:
    """Page's CUSUM for a Bernoulli rate rising from p0 to p1, fed counts per block.

    `started_at` is the first sample of the block in which the statistic last left
    zero: the test's estimate of the change point. `cap` bounds the statistic (see
    proposing.py): evidence beyond it is not kept. `hits_seen`: the hits fed per block
    since a reader last took them (tail_calibration.py).
    """

    __slots__ = (
        "cap",
        "hit_weight",
        "hits_seen",
        "miss_weight",
        "started_at",
        "statistic",
        "threshold",
    )

    def __init__(self, p0: float, p1: float, threshold: float, cap: float = math.inf) -> None:
        self.hit_weight = math.log(p1 / p0)
        self.miss_weight = math.log((1.0 - p1) / (1.0 - p0))
        self.threshold = threshold
        self.cap = cap
        self.statistic = 0.0
        self.started_at = 0
        self.hits_seen = 0

    def update(self, hits: int, trials: int, block_start: int, floor: float = -math.inf) -> bool:
        """Add one block (its log-likelihood ratio no lower than `floor`); True when the
        statistic is over the threshold."""
        if self.statistic == 0.0:
            self.started_at = block_start
        step = hits * self.hit_weight + (trials - hits) * self.miss_weight
        value = self.statistic + (step if step > floor else floor)
        self.statistic = min(value, self.cap) if value > 0.0 else 0.0
        return self.statistic > self.threshold

    def reset(self) -> None:
        self.statistic = 0.0
        self.hits_seen = 0
