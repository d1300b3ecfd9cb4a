"""The reference the tests compare against: the learned baseline, following slow moves.

Every four blocks the reference moves toward the median of block medians seen 128-384
samples earlier, by at most `track_step` per update, never beyond `track_range` of the
learned baseline. The learned baseline itself never moves; an abrupt shift outruns the
tracking and is tested in full, and a slow drift is caught once it leaves the band.
"""

from __future__ import annotations

import math

from .._baseline import Baseline
from .settings import BLOCK_SIZE, DetectorSettings

TRACK_EVERY = 4  # blocks between reference updates
KEEP_MEDIANS = 32  # block medians kept at most between two trims
_LAG_NEAR, _LAG_FAR = 8, 24  # the lagged level: block medians 8..24 blocks ago


class Reference:
    """Reference quantiles p50/p95/p99 = baseline x the tracked level `scale` (the tails
    also x their calibration, tail_calibration.py)."""

    __slots__ = (
        "_anchor_level",
        "baseline",
        "block_medians",
        "p50",
        "p95",
        "p99",
        "scale",
        "tail_factors",
    )

    def __init__(self, baseline: Baseline, recent_encoded: list[float] | None) -> None:
        self.baseline = baseline
        self.scale = 1.0
        self.p50 = baseline.p50
        self.p95 = baseline.p95
        self.p99 = baseline.p99
        self.tail_factors = [1.0, 1.0]  # p95's and p99's, set by TailCalibration
        # The anchor is the level of the samples the baseline was learned from; the
        # reference starts where the level stands now, so a baseline learned across a
        # daily cycle does not start out offset from the present.
        medians = block_medians(recent_encoded or [])
        # the detector appends each block's median; trimmed to the last LAG_FAR here
        self.block_medians = medians[-_LAG_FAR:]
        self._anchor_level: float | None = (
            sorted(medians)[len(medians) // 2] if len(medians) >= _LAG_FAR else None
        )

    @property
    def anchored(self) -> bool:
        return self._anchor_level is not None

    def track(self, step: float, settings: DetectorSettings) -> None:
        """Move toward the lagged level by at most `step` (a ratio), within the band."""
        medians = self.block_medians
        if len(medians) > _LAG_FAR:
            del medians[:-_LAG_FAR]
        if len(medians) < _LAG_FAR:
            return
        lagged = sorted(medians[: len(medians) - _LAG_NEAR])
        level = lagged[len(lagged) // 2]
        if self._anchor_level is None:
            self._anchor_level = level
            return
        target = level / self._anchor_level if self._anchor_level > 0 else 1.0
        target = min(max(target, 1.0 / settings.track_range), settings.track_range)
        if abs(math.log(target / self.scale)) < settings.track_deadband:
            return  # within the noise of the level estimate: stay put
        scale = min(max(target, self.scale / (1.0 + step)), self.scale * (1.0 + step))
        if scale != self.scale:
            self.scale = scale
            self.settle()

    def settle(self) -> None:
        """The quantiles from the baseline, the level and the tail factors. Tails follow
        the level up (a daily peak) but never below what was learned: a low tail
        threshold turns ordinary slow calls into evidence."""
        base, scale = self.baseline, self.scale
        self.p50 = base.p50 * scale
        tail = max(1.0, scale)
        self.p95 = base.p95 * tail * self.tail_factors[0]
        self.p99 = base.p99 * tail * self.tail_factors[1]


def block_medians(encoded: list[float], *, middle: bool = False) -> list[float]:
    """Medians of the successful samples of consecutive 16-sample blocks, aligned to the
    end (the newest block is complete): the upper middle value of an even count, or
    with `middle` the mean of the two middle values."""
    medians = []
    for end in range(len(encoded), BLOCK_SIZE - 1, -BLOCK_SIZE):
        block = sorted(v for v in encoded[end - BLOCK_SIZE : end] if v >= 0.0)
        if block:
            half = len(block) // 2
            even = middle and not len(block) % 2
            medians.append(0.5 * (block[half] + block[half - 1]) if even else block[half])
    medians.reverse()
    return medians
