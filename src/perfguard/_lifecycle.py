"""The baseline lifecycle of one operation: learning, establishment, maturing, the
update rule, and the detector armed on the current baseline (docs/detection.md).

- learning: the baseline is established at the exact sample completing `min_samples`;
- young (learned from fewer samples than a full window): replaced by the estimate from
  the samples seen since, each time their number doubles ("matured");
- mature: replaced only by a window faster by `improvement_ratio` in both p50 and p95
  ("improved"); a slower normal is adopted only explicitly (`accept_baseline`);
- never while degraded, nor while a test is weighing evidence: the baseline must not
  absorb a degradation.

Warm-up: a young baseline arms the detector (or becomes mature) only once its samples
are steady: the older and newer half of the window agree on the p50 within
`STEADY_P50`, and its oldest eighth agrees with the newer half within `STEADY_HEAD_P50`
(a warm-up of a hundred-odd calls barely moves a half's p50, but in the level noise it
read as a wide wander and hid later steps). Not on the p95: a heavy tail's p95 differs
by 3-6x between healthy halves, and operations refused for it stayed blind for ~3,000
calls. Until then it is re-learned every half window, so the first calls of a process
(cold caches, JIT, connection set-up) are dropped from the window before the detector
trusts it. After `SETTLING_LOOKS` such looks the level is taken as it is (a service
that never settles is still watched).
Meanwhile a detector tests the error rate alone: failures do not warm up.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import replace

from ._baseline import Baseline
from ._config import TrackerConfig
from ._detect import BLOCK_SIZE, DetectorSettings, SustainedDetector
from ._quantiles import quantile
from ._window import RollingWindow

STEADY_P50 = 1.2  # halves of a window whose p50s differ more are still settling
# ... or whose oldest eighth's p50 differs this much from the newer half's (a warm-up of
# a hundred-odd calls moves a half's p50 too little to be seen)
STEADY_HEAD_P50 = 1.5
SETTLING_LOOKS = 4  # unsteady looks before the level is taken as it is


class BaselineLifecycle:
    """The baseline, its detector, and the two hot-path figures they set: the per-call
    slow threshold and how many samples wait before an absorb (`drain_trigger`)."""

    __slots__ = (
        "_config",
        "_family",
        "_learning_successes",
        "_mature",
        "_settings",
        "_unsteady_looks",
        "baseline",
        "detector",
        "drain_trigger",
        "next_refresh",
        "slow_threshold",
    )

    def __init__(
        self,
        config: TrackerConfig,
        settings: DetectorSettings,
        family: Callable[[], int] | None = None,
    ) -> None:
        self._config = config
        self._settings = settings
        self._family = family  # how many operations share the false-alarm budget
        self.baseline: Baseline | None = None
        self.detector: SustainedDetector | None = None
        self.slow_threshold = math.inf
        self.drain_trigger = 1  # learning: the first absorb comes at once, then see learn()
        self._learning_successes = 0
        self._mature = False
        self._unsteady_looks = 0
        self.next_refresh = 0

    @property
    def under_test(self) -> bool:
        """Degraded, or a test is weighing evidence: the yardstick must not move."""
        detector = self.detector
        return detector is not None and (detector.degraded or detector.accumulating)

    def adopt(
        self,
        baseline: Baseline,
        *,
        mature: bool,
        at_sample: int,
        recent: list[float] | None = None,
        settling: bool = False,
    ) -> None:
        config = self._config
        self.baseline = baseline
        self._mature = mature
        if config.threshold == "p95":
            self.slow_threshold = baseline.p95
        else:
            self.slow_threshold = baseline.mean + config.std_multiplier * baseline.std
        self.drain_trigger = config.batch_size
        armed = baseline.sample_count >= self._arming_samples()
        previous = self.detector
        # while the level settles, the error rate is tested already: it does not warm up
        self.detector = (
            SustainedDetector(baseline, self._tuning(), recent, errors_only=settling)
            if armed
            else None
        )
        if previous is not None and self.detector is not None:
            self.detector.remember_episodes_of(previous)
        self._schedule_refresh(at_sample)
        if settling:
            self.next_refresh = at_sample + max(BLOCK_SIZE, config.window_size // 2)

    def restore(self, baseline: Baseline) -> None:
        """A baseline loaded from a store. One learned from a full window (or a fleet's)
        is mature. A young one (a process that saved early) keeps maturing here: it is
        re-learned once this process has seen as many samples as it rests on, then as
        the count doubles, so its detector arms by the time a full window is seen
        instead of never."""
        young = baseline.sample_count < self._config.window_size
        self.adopt(baseline, mature=not young, at_sample=0)
        if young:
            self.next_refresh = max(BLOCK_SIZE, baseline.sample_count)

    def _tuning(self) -> DetectorSettings:
        """The settings, with the family size filled in when it is automatic: the
        operations known now, so the whole tracker shares one false-alarm budget."""
        settings = self._settings
        if settings.family_size is not None:
            return settings
        size = max(1, self._family()) if self._family is not None else 1
        return replace(settings, family_size=size)

    def _schedule_refresh(self, at_sample: int) -> None:
        # A mature baseline (learned from a full window, or restored) is re-examined once
        # a window; a young one when the number of samples seen has doubled.
        if self._mature:
            self.next_refresh = at_sample + self._config.window_size
        else:
            self.next_refresh = max(2 * at_sample, at_sample + BLOCK_SIZE)

    def learn(
        self, batch: list[float], first_index: int, window: RollingWindow, now: float
    ) -> Baseline | None:
        """Establish the baseline at the exact sample that completes `min_samples`.
        `window` already holds the batch."""
        needed = self._config.min_samples
        for offset, value in enumerate(batch):
            if value >= 0.0:
                self._learning_successes += 1
                if self._learning_successes >= needed:
                    excluding = len(batch) - offset - 1
                    successful = window.successful_durations(excluding)
                    baseline = Baseline.from_samples(
                        successful, window.failures(excluding), now=now
                    )
                    self.adopt(baseline, mature=False, at_sample=first_index + offset + 1)
                    return baseline
        # the next absorb is due when enough calls have come to complete min_samples (a
        # call adds one success at most): establishment stays exact, and an operation
        # that only fails is not absorbed at every call
        self.drain_trigger = max(1, min(self._config.batch_size, needed - self._learning_successes))
        return None

    def refresh(
        self, window: RollingWindow, later: int, at_sample: int, now: float
    ) -> tuple[str, Baseline] | None:
        """The update rule (module docstring), on the window as it was at `at_sample`:
        the reason and the new baseline when it was replaced."""
        baseline = self.baseline
        assert baseline is not None
        config = self._config
        self._schedule_refresh(at_sample)
        if self.under_test:
            return None  # the refresh waits for the next scheduled look
        encoded = window.encoded(later)
        if self._mature:
            # Cheap screen first (one sort, in C, every window of calls): a full
            # baseline (logs, MAD) only for a real speed-up.
            ordered = sorted(encoded)
            ordered = ordered[bisect_left(ordered, 0.0) :]  # failures sort first
            if len(ordered) < config.min_samples:
                return None
            ratio = config.improvement_ratio
            if not (
                quantile(ordered, 0.5) <= ratio * baseline.p50
                and quantile(ordered, 0.95) <= ratio * baseline.p95
            ):
                return None
            reason = "improved"
        else:
            reason = "matured"
        successful = [v for v in encoded if v >= 0.0]
        if len(successful) < config.min_samples:
            return None
        full = len(encoded) >= config.window_size
        candidate = Baseline.from_samples(
            successful,
            len(encoded) - len(successful),
            now=now,
            established_at=baseline.established_at,
        )
        settling = not self._mature and self._still_settling(successful)
        mature = (self._mature or full) and not settling
        self.adopt(candidate, mature=mature, at_sample=at_sample, recent=encoded, settling=settling)
        return reason, candidate

    def _arming_samples(self) -> int:
        """Baseline samples the detector is armed from. Failures never enter a baseline,
        so a full window may hold fewer successes: at most 80 % of it is asked for."""
        return min(self._settings.min_baseline_samples, (8 * self._config.window_size) // 10)

    def _still_settling(self, successful: list[float]) -> bool:
        """Would this young baseline arm the detector on samples whose level is still
        moving (module docstring, warm-up)? Counts the looks it has been refused."""
        if len(successful) < self._arming_samples() or self._unsteady_looks >= SETTLING_LOOKS:
            return False
        half = len(successful) // 2
        older = quantile(sorted(successful[:half]), 0.5)
        newer = quantile(sorted(successful[half:]), 0.5)
        head = quantile(sorted(successful[: len(successful) // 8]), 0.5)
        if _apart(older, newer, STEADY_P50) or _apart(head, newer, STEADY_HEAD_P50):
            self._unsteady_looks += 1
            return True
        return False

    def adopt_shared(self, baseline: Baseline, sample_count: int, window: RollingWindow) -> bool:
        """Take a baseline learned by the whole fleet, unless it is under test or rests on
        fewer samples than the current one."""
        if self.under_test:
            return False
        if self.baseline is not None and baseline.sample_count < self.baseline.sample_count:
            return False
        self.adopt(baseline, mature=True, at_sample=sample_count, recent=window.encoded())
        return True

    def accept_current(self, window: RollingWindow, sample_count: int, now: float) -> Baseline:
        """Adopt the current window as the new normal (explicit; clears degraded)."""
        successful = window.successful_durations()
        if not successful:
            raise ValueError("no successful samples in the window")
        previous = self.baseline
        established = previous.established_at if previous is not None else now
        baseline = Baseline.from_samples(
            successful, window.failures(), now=now, established_at=established
        )
        self.adopt(baseline, mature=True, at_sample=sample_count, recent=window.encoded())
        return baseline


def _apart(first: float, second: float, ratio: float) -> bool:
    """Whether two positive p50s differ by more than `ratio` either way."""
    return first > 0.0 and second > 0.0 and max(first, second) > ratio * min(first, second)
