"""The state of one operation: buffer, window, counters, baseline and detector.

The tracker's hot path only appends to `pending`. Everything else happens in `absorb()`,
called under the operation's lock every `batch_size` samples or when figures are asked
for, so the statistics cost is amortized over many calls and never paid per call.
"""

from __future__ import annotations

import math
import threading
from array import array
from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from ._baseline import Baseline
from ._config import TrackerConfig
from ._detect import BLOCK_SIZE, DetectorSettings, SustainedDetector, Verdict
from ._quantiles import mean_and_std, quantile
from ._sketch import LogSketch, SketchDelta
from ._window import RollingWindow, decode

_INF = math.inf
_DATED_BLOCKS = 64  # blocks whose absorb time is kept to date an episode (1,024 calls)


@dataclass(frozen=True)
class BaselineChange:
    """A baseline was established or replaced (persistence wants to know)."""

    operation: str
    reason: str  # "established" | "matured" | "improved" | "accepted"
    baseline: Baseline


@dataclass(frozen=True)
class StateChange:
    """The detector decided a transition at `sample_index`; `started_at_time` is when
    the block holding the episode's first sample was absorbed (within one batch of when
    that call was recorded)."""

    operation: str
    verdict: Verdict
    baseline: Baseline
    sample_index: int
    exemplars: tuple[Mapping[str, Any], ...]
    started_at_time: float


Notification = BaselineChange | StateChange


class Operation:
    """Everything perfguard knows about one named operation."""

    __slots__ = (
        "_block",
        "_block_times",
        "_config",
        "_detector_settings",
        "_learning_successes",
        "_mature",
        "_next_refresh",
        "baseline",
        "degradation_count",
        "delta",
        "detector",
        "drain_trigger",
        "episodes",
        "exemplar_floor",
        "exemplars",
        "failure_count",
        "histogram",
        "histogram_bounds",
        "histogram_sum",
        "last_seen",
        "lock",
        "name",
        "pending",
        "pending_failures",
        "recent_errors",
        "sample_count",
        "slow_threshold",
        "warn_suppressed",
        "warn_tokens",
        "warn_window_start",
        "window",
    )

    def __init__(
        self,
        name: str,
        config: TrackerConfig,
        detector_settings: DetectorSettings,
        baseline: Baseline | None = None,
        sketch_scale: int | None = None,
    ) -> None:
        self.name = name
        self._config = config
        self._detector_settings = detector_settings
        self.lock = threading.Lock()
        self.pending: list[float] = []
        self.window = RollingWindow(config.window_size)
        self.sample_count = 0
        self.failure_count = 0
        self.degradation_count = 0
        self.episodes = 0  # transitions into "degraded"
        # Cumulative duration histogram, kept only when an exporter asks for one.
        self.histogram_bounds: tuple[float, ...] | None = None
        self.histogram: list[int] = []
        self.histogram_sum = 0.0
        self.last_seen = 0.0 if baseline is None else baseline.last_seen_at
        self.exemplars: list[dict[str, Any]] = []
        self.exemplar_floor = -1.0 if config.exemplars else _INF
        self.recent_errors: deque[dict[str, Any]] = deque(maxlen=max(config.exemplars, 1))
        self.warn_tokens = config.warning_burst
        self.warn_window_start = -_INF
        self.warn_suppressed = 0
        self._block: list[float] = []
        # absorb time of recent blocks, to date an episode's start (64 blocks = 1,024 calls)
        # absorb time of the last _DATED_BLOCKS blocks, block k at slot k % _DATED_BLOCKS
        # (an array: 8 bytes a block), allocated when the detector first needs it
        self._block_times: array[float] | None = None
        self.pending_failures = 0
        # Only for stores shared by many processes: what to send at the next flush.
        self.delta = None if sketch_scale is None else SketchDelta(LogSketch(sketch_scale))
        self.baseline: Baseline | None = None
        self.detector: SustainedDetector | None = None
        self.slow_threshold = _INF
        self.drain_trigger = 1  # learning: absorb every sample so establishment is exact
        self._learning_successes = 0
        self._mature = False
        self._next_refresh = 0
        if baseline is not None:
            self._adopt(baseline, mature=True, at_sample=0)

    # -- state ---------------------------------------------------------------------------

    @property
    def state(self) -> str:
        if self.baseline is None:
            return "learning"
        if self.detector is not None and self.detector.degraded:
            return "degraded"
        return "ok"

    def _adopt(
        self,
        baseline: Baseline,
        *,
        mature: bool,
        at_sample: int,
        recent: list[float] | None = None,
    ) -> None:
        config = self._config
        self.baseline = baseline
        self._mature = mature
        if config.threshold == "p95":
            self.slow_threshold = baseline.p95
        else:
            self.slow_threshold = baseline.mean + config.std_multiplier * baseline.std
        self.drain_trigger = config.batch_size
        # Failures never enter a baseline, so a full window may hold fewer successes.
        needed = min(self._detector_settings.min_baseline_samples, (8 * config.window_size) // 10)
        armed = baseline.sample_count >= needed
        self.detector = (
            SustainedDetector(baseline, self._detector_settings, recent) if armed else None
        )
        # A mature baseline (learned from a full window, or restored) is re-examined once
        # a window; a young one when the number of samples seen has doubled.
        if mature:
            self._next_refresh = at_sample + config.window_size
        else:
            self._next_refresh = max(2 * at_sample, at_sample + BLOCK_SIZE)

    # -- absorbing samples ---------------------------------------------------------------

    def absorb(self, now: float) -> list[Notification]:
        """Move pending samples into the statistics. Caller holds `lock`.

        Detector decisions and baseline refreshes happen at block boundaries, fixed by
        sample index, and see the window as it was at that boundary: the outcome is the
        same however the stream was cut into batches (tight-loop replay = live traffic).
        """
        pending = self.pending
        count = len(pending)
        if not count:
            return []
        batch = pending[:count]
        del pending[:count]  # appends racing with us land after `count` and survive
        self.last_seen = now
        notes: list[Notification] = []
        first_index = self.sample_count
        self.sample_count = first_index + count
        failures = self.pending_failures
        self.failure_count += failures
        self.pending_failures = 0
        delta = self.delta
        if delta is not None and not (self.detector is not None and self.detector.degraded):
            # A fleet baseline must not learn from a degradation either.
            delta.sketch.add_many(batch if not failures else [v for v in batch if v >= 0.0])
            delta.failures += failures
            delta.last_seen_at = now
        window = self.window
        window.extend(batch)
        if self.histogram_bounds is not None:
            self._count_in_histogram(batch)
        if self.baseline is None:
            self._learn(batch, first_index, now, notes)
        block = self._block
        position = 0
        while position < count:
            needed = BLOCK_SIZE - len(block)
            if count - position < needed:
                block.extend(batch[position:])
                break
            if block:
                block.extend(batch[position : position + needed])
            else:
                block = batch[position : position + needed]
            position += needed
            self._close_block(block, count - position, now, notes)
            block = []
        self._block = block
        window.compact()
        return notes

    def _learn(
        self, batch: list[float], first_index: int, now: float, notes: list[Notification]
    ) -> None:
        """Establish the baseline at the exact sample that completes `min_samples`."""
        needed = self._config.min_samples
        for offset, value in enumerate(batch):
            if value >= 0.0:
                self._learning_successes += 1
                if self._learning_successes >= needed:
                    excluding = len(batch) - offset - 1
                    successful = self.window.successful_durations(excluding)
                    baseline = Baseline.from_samples(
                        successful, self.window.failures(excluding), now=now
                    )
                    self._adopt(baseline, mature=False, at_sample=first_index + offset + 1)
                    notes.append(BaselineChange(self.name, "established", baseline))
                    return

    def _close_block(
        self, block: list[float], later: int, now: float, notes: list[Notification]
    ) -> None:
        """A full block of BLOCK_SIZE samples; `later` samples of the batch follow it."""
        block_end = self.sample_count - later
        detector = self.detector
        if detector is not None:
            times = self._block_times
            if times is None:
                times = self._block_times = array("d", bytes(8 * _DATED_BLOCKS))
            times[(block_end // BLOCK_SIZE - 1) % _DATED_BLOCKS] = now
        if detector is not None:
            block.sort()  # in place: this block is not used again (split_sorted copies)
            failures = bisect_left(block, 0.0) if block[0] < 0.0 else 0
            successes = block[failures:] if failures else block
            if detector.observe_block(successes, failures, block_end - BLOCK_SIZE):
                span = detector.evidence_span(block_end)
                verdict = detector.decide(self.window.encoded(later)[-span:])
            else:
                verdict = None
            if verdict is not None:
                if verdict.kind == "degraded":
                    self.episodes += 1
                notes.append(
                    StateChange(
                        self.name,
                        verdict,
                        detector.baseline,
                        block_end,
                        tuple(self._exemplars_in_window()),
                        self._time_of(verdict.started_at_sample, now),
                    )
                )
        if self.baseline is not None and block_end >= self._next_refresh:
            self._refresh(later, block_end, now, notes)

    def _refresh(self, later: int, at_sample: int, now: float, notes: list[Notification]) -> None:
        """The documented update rule (docs/baselines.md).

        - never while degraded (the baseline must not absorb a degradation);
        - while young (learned from fewer samples than a full window): replace it with
          the estimate from the samples seen since, as their number doubles;
        - once mature: replace it only when the window is faster by `improvement_ratio`
          in both p50 and p95; a slower normal is adopted only by accept_baseline().
        """
        baseline = self.baseline
        assert baseline is not None
        config = self._config
        if self._mature:
            self._next_refresh = at_sample + config.window_size
        else:
            self._next_refresh = max(2 * at_sample, at_sample + BLOCK_SIZE)
        detector = self.detector
        if detector is not None and (detector.degraded or detector.accumulating):
            # Never absorb a degradation, nor one the tests are still weighing: the
            # refresh waits for the next scheduled look.
            return
        encoded = self.window.encoded(later)
        successful = [v for v in encoded if v >= 0.0]
        if len(successful) < config.min_samples:
            return
        full = len(encoded) >= config.window_size
        if self._mature:
            # Cheap screen first: a full baseline (logs, MAD) only for a real speed-up.
            ordered = sorted(successful)
            ratio = config.improvement_ratio
            if not (
                quantile(ordered, 0.5) <= ratio * baseline.p50
                and quantile(ordered, 0.95) <= ratio * baseline.p95
            ):
                return
            reason = "improved"
        else:
            reason = "matured"
        candidate = Baseline.from_samples(
            successful,
            len(encoded) - len(successful),
            now=now,
            established_at=baseline.established_at,
        )
        self._adopt(candidate, mature=self._mature or full, at_sample=at_sample, recent=encoded)
        notes.append(BaselineChange(self.name, reason, candidate))

    def adopt_shared(self, baseline: Baseline) -> bool:
        """Take a baseline learned by the whole fleet, unless this operation is degraded
        or its tests are weighing evidence (never swap the yardstick mid-measurement).
        Caller holds `lock`."""
        detector = self.detector
        if detector is not None and (detector.degraded or detector.accumulating):
            return False
        if self.baseline is not None and baseline.sample_count < self.baseline.sample_count:
            return False
        self._adopt(
            baseline, mature=True, at_sample=self.sample_count, recent=self.window.encoded()
        )
        return True

    def enable_histogram(self, bounds: tuple[float, ...]) -> None:
        """Start counting durations into cumulative buckets (upper bounds, +Inf implied).
        Caller holds `lock`."""
        if self.histogram_bounds != bounds:
            self.histogram_bounds = bounds
            self.histogram = [0] * (len(bounds) + 1)
            self.histogram_sum = 0.0

    def _count_in_histogram(self, batch: list[float]) -> None:
        bounds = self.histogram_bounds
        assert bounds is not None
        durations = [v if v >= 0.0 else -1.0 - v for v in batch]
        counts = self.histogram
        # bisect_left: a value equal to a bound belongs to that bound's bucket (le)
        for index, count in Counter(map(bisect_left, repeat(bounds), durations)).items():
            counts[index] += count
        self.histogram_sum += math.fsum(durations)

    def take_delta(self) -> SketchDelta | None:
        """Hand over what was recorded since the last flush. Caller holds `lock`."""
        delta = self.delta
        if delta is None:
            return None
        self.delta = SketchDelta(LogSketch(delta.sketch.scale))
        return delta

    def accept_current(self, now: float) -> Baseline:
        """Adopt the current window as the new normal (explicit; clears degraded)."""
        successful = self.window.successful_durations()
        if not successful:
            raise ValueError("no successful samples in the window")
        previous = self.baseline
        established = previous.established_at if previous is not None else now
        baseline = Baseline.from_samples(
            successful, self.window.failures(), now=now, established_at=established
        )
        self._adopt(
            baseline, mature=True, at_sample=self.sample_count, recent=self.window.encoded()
        )
        return baseline

    # -- figures -------------------------------------------------------------------------

    def figures(self) -> dict[str, Any]:
        """The stats() dictionary. Caller holds `lock` and has absorbed pending samples."""
        encoded = self.window.encoded()
        successful = sorted(v for v in encoded if v >= 0.0)
        window_failures = len(encoded) - len(successful)
        total = self.sample_count
        result: dict[str, Any] = {
            "operation": self.name,
            "state": self.state,
            "sample_count": total,
            "window_count": len(encoded),
            "failure_count": self.failure_count,
            "success_rate": (total - self.failure_count) / total if total else None,
            "error_rate": self.failure_count / total if total else None,
            "recent_error_rate": window_failures / len(encoded) if encoded else None,
            "degradation_count": self.degradation_count,
            "degradation_rate": self.degradation_count / total if total else None,
            "slow_threshold": self.slow_threshold if self.slow_threshold != _INF else None,
        }
        if successful:
            mean, std = mean_and_std(successful)
            for label, q in (("p50", 0.5), ("p75", 0.75), ("p95", 0.95), ("p99", 0.99)):
                result[f"recent_{label}"] = quantile(successful, q)
            result["recent_mean"] = mean
            result["recent_std"] = std
            result["recent_min"] = successful[0]
            result["recent_max"] = successful[-1]
        else:
            for key in ("p50", "p75", "p95", "p99", "mean", "std", "min", "max"):
                result[f"recent_{key}"] = None
        result["baseline"] = None if self.baseline is None else self.baseline.public_dict()
        detector = self.detector
        result["degraded_signals"] = list(detector.degraded_signals) if detector else []
        result["exemplars"] = [dict(e) for e in self._exemplars_in_window()]
        result["recent_errors"] = [dict(e) for e in self.recent_errors]
        return result

    def _time_of(self, sample: int, default: float) -> float:
        """When the block holding `sample` was absorbed (the oldest known if earlier)."""
        times = self._block_times
        newest = self.sample_count // BLOCK_SIZE - 1
        block = max(sample // BLOCK_SIZE, newest - _DATED_BLOCKS + 1)
        if times is None or block > newest or block < 0:
            return default
        when = times[block % _DATED_BLOCKS]
        return when if when > 0.0 else default

    def _exemplars_in_window(self) -> list[dict[str, Any]]:
        oldest = self.sample_count - self._config.window_size
        return [e for e in sorted(self.exemplars, key=_by_duration) if e["sample"] >= oldest]

    # -- exemplars -----------------------------------------------------------------------

    def offer_exemplar(self, encoded: float, metadata: Mapping[str, Any], when: float) -> None:
        """Keep metadata of the slowest recent calls. Caller holds `lock`."""
        limit = self._config.exemplars
        if not limit:
            return
        index = self.sample_count + len(self.pending) - 1  # already appended; 0-based
        oldest_kept = index - self._config.window_size + 1
        kept = [e for e in self.exemplars if e["sample"] >= oldest_kept]
        entry = {
            "duration": decode(encoded),
            "success": encoded >= 0.0,
            "sample": index,
            "time": when,
            "metadata": dict(metadata),
        }
        if len(kept) < limit:
            kept.append(entry)
        else:
            fastest = min(range(len(kept)), key=lambda i: kept[i]["duration"])
            if kept[fastest]["duration"] < entry["duration"]:
                kept[fastest] = entry
        self.exemplars = kept
        self.exemplar_floor = min(e["duration"] for e in kept) if len(kept) >= limit else -1.0


def _by_duration(entry: Mapping[str, Any]) -> float:
    return -float(entry["duration"])
