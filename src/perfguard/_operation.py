"""One named operation: the hot-path buffer and the absorb loop that feeds everything.

The per-call path only appends to `pending` (a failure or slow call to its marks list
first) and reads `slow_threshold` and `drain_trigger`, plain slots so the hot path pays
no extra attribute lookup.
Everything else happens in `absorb()`, called under `lock` every `batch_size` calls or
when figures are asked for: the window, the counters, the histogram, the sketch for a
shared store, the baseline lifecycle and, block by block, the detector. The statistics
cost is amortized over many calls and never paid per call.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from typing import Any

from ._baseline import Baseline
from ._config import TrackerConfig
from ._detect import BLOCK_SIZE, DetectorSettings, SustainedDetector
from ._exemplars import Exemplars, FailureMark
from ._histogram import DurationHistogram
from ._lifecycle import BaselineLifecycle
from ._notifications import BaselineChange, Notification, StateChange
from ._sketch import LogSketch, SketchDelta
from ._timeline import Timeline
from ._window import RollingWindow

_DATED_BLOCKS = 64  # blocks whose absorb time is kept to date an episode (1,024 calls)


class Operation:
    """Everything perfguard knows about one named operation."""

    __slots__ = (
        "_block",
        "_block_times",
        "_idle_after",
        "_lifecycle",
        "accepted_at",
        "degradation_count",
        "delta",
        "drain_trigger",
        "episodes",
        "exemplars",
        "failure_count",
        "failure_notes",
        "histogram",
        "last_seen",
        "lock",
        "name",
        "pending",
        "sample_count",
        "slow_marks",
        "slow_threshold",
        "timeline",
        "warn_quiet_until",
        "warn_skipped",
        "window",
    )

    def __init__(
        self,
        name: str,
        config: TrackerConfig,
        detector_settings: DetectorSettings,
        baseline: Baseline | None = None,
        sketch_scale: int | None = None,
        family: Callable[[], int] | None = None,
    ) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.pending: list[float] = []  # durations; a failure as -1 - duration (_window)
        # Marks the hot path appends (atomically, without the lock) *before* the sample
        # itself, so a batch can hold a failure or a slow call only while its mark
        # waits: the absorb scans a batch only then, and consumes one mark per sample
        # it finds (a healthy batch costs two truth tests, not a scan).
        # A failure's mark names its error for the exemplars (see FailureMark).
        self.failure_notes: list[FailureMark] = []
        self.slow_marks: list[float] = []
        # the slow-call WARNING gate: before this perf() reading the limiter would refuse
        # (so a slow call does not ask it), and how many slow calls the gate held back
        self.warn_quiet_until = 0.0
        self.warn_skipped = 0
        self.window = RollingWindow(config.window_size)
        self.sample_count = 0
        self.failure_count = 0
        self.degradation_count = 0
        self.accepted_at = 0.0  # when accept_baseline() set this baseline (0: never)
        self.episodes = 0  # episodes of "degraded" (a relapse reopens one, not counted)
        self.histogram: DurationHistogram | None = None  # only when an exporter asks
        self.timeline = Timeline()  # latency per minute of wall time (views, stores)
        self.exemplars = Exemplars(config.exemplars, config.window_size)
        self.last_seen = 0.0 if baseline is None else baseline.last_seen_at
        self._idle_after = config.idle_after
        self._block: list[float] = []
        # absorb time of the last _DATED_BLOCKS blocks, block k at slot k % _DATED_BLOCKS
        # (an array: 8 bytes a block), allocated when the detector first needs it
        self._block_times: array[float] | None = None
        # Only for stores shared by many processes: what to send at the next flush.
        self.delta = None if sketch_scale is None else SketchDelta(LogSketch(sketch_scale))
        self._lifecycle = BaselineLifecycle(config, detector_settings, family)
        self.slow_threshold = self._lifecycle.slow_threshold
        if baseline is not None:
            self._lifecycle.restore(baseline)
        self._copy_hot_figures()

    def _copy_hot_figures(self) -> None:
        """The lifecycle decides the threshold and batch size; the hot path reads copies."""
        if self.slow_threshold != self._lifecycle.slow_threshold:
            self.slow_marks.clear()  # marked under the old threshold: judged no more
        self.slow_threshold = self._lifecycle.slow_threshold
        self.drain_trigger = self._lifecycle.drain_trigger

    # -- state ---------------------------------------------------------------------------

    @property
    def baseline(self) -> Baseline | None:
        return self._lifecycle.baseline

    @property
    def detector(self) -> SustainedDetector | None:
        return self._lifecycle.detector

    @property
    def state(self) -> str:
        """The detector's state: "learning", "ok" or "degraded"."""
        lifecycle = self._lifecycle
        if lifecycle.baseline is None:
            return "learning"
        if lifecycle.detector is not None and lifecycle.detector.degraded:
            return "degraded"
        return "ok"

    def state_at(self, now: float) -> str:
        """What a person should read at wall time `now`: "idle" once no call has been
        absorbed for `idle_after` seconds (the state underneath is kept), else `state`."""
        idle_after = self._idle_after
        if idle_after is not None and self.last_seen and now - self.last_seen >= idle_after:
            return "idle"
        return self.state

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
        # classified here, once a batch, not per call (see the marks in __init__): one
        # sorted copy (C-level, ~20x cheaper than a Python loop over the batch) gives
        # both counts while marks wait; a healthy batch costs two truth tests
        failures = 0
        successes = batch
        failure_notes = self.failure_notes
        slow_marks = self.slow_marks
        if failure_notes or slow_marks:
            ordered = sorted(batch)
            if failure_notes:
                failures = bisect_left(ordered, 0.0)
                if failures:
                    self.exemplars.note_failures(failure_notes[:failures], batch, now)
                    del failure_notes[:failures]
                    successes = ordered[failures:]
            if slow_marks:
                slow = count - bisect_right(ordered, self.slow_threshold)
                if slow:
                    self.degradation_count += slow
                    del slow_marks[:slow]
        self.failure_count += failures
        delta = self.delta
        detector = self._lifecycle.detector
        if delta is not None and not (detector is not None and detector.degraded):
            # A fleet baseline must not learn from a degradation either.
            delta.sketch.add_many(successes)
            delta.failures += failures
            delta.last_seen_at = now
        self.window.extend(batch)
        if self.histogram is not None:
            self.histogram.count(batch, failures)
        self.timeline.add(successes, count, now)
        if self._lifecycle.baseline is None:
            self._learn(batch, first_index, now, notes)
        # complete blocks of BLOCK_SIZE samples, keeping the remainder for the next batch
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
        self.window.compact()
        return notes

    def _learn(
        self, batch: list[float], first_index: int, now: float, notes: list[Notification]
    ) -> None:
        baseline = self._lifecycle.learn(batch, first_index, self.window, now)
        self.drain_trigger = self._lifecycle.drain_trigger
        if baseline is not None:
            self._copy_hot_figures()
            notes.append(BaselineChange(self.name, "established", baseline))

    def _close_block(
        self, block: list[float], later: int, now: float, notes: list[Notification]
    ) -> None:
        """A full block of BLOCK_SIZE samples; `later` samples of the batch follow it.
        Runs once every 16 calls: written with as few calls as it can be."""
        block_end = self.sample_count - later
        lifecycle = self._lifecycle
        detector = lifecycle.detector
        if detector is not None:
            times = self._block_times
            if times is None:
                times = self._block_times = array("d", bytes(8 * _DATED_BLOCKS))
            times[(block_end // BLOCK_SIZE - 1) % _DATED_BLOCKS] = now
            block.sort()  # in place: this block is not used again
            failures = bisect_left(block, 0.0) if block[0] < 0.0 else 0
            successes = block[failures:] if failures else block
            if detector.observe_block(successes, failures, block_end - BLOCK_SIZE):
                self._decide(detector, block_end, later, now, notes)
        if lifecycle.baseline is not None and block_end >= lifecycle.next_refresh:
            replaced = lifecycle.refresh(self.window, later, block_end, now)
            if replaced is not None:
                self._copy_hot_figures()
                notes.append(BaselineChange(self.name, *replaced))

    def _decide(
        self,
        detector: SustainedDetector,
        block_end: int,
        later: int,
        now: float,
        notes: list[Notification],
    ) -> None:
        span = detector.evidence_span(block_end)
        verdict = detector.decide(self.window.encoded(later)[-span:])
        if verdict is None:
            return
        if verdict.kind == "degraded" and not (verdict.reopened or verdict.worsened):
            self.episodes += 1  # a relapse soon after a recovery is the same episode
        notes.append(
            StateChange(
                self.name,
                verdict,
                detector.baseline,
                block_end,
                tuple(self.exemplars.in_window(self.sample_count)),
                self._time_of(verdict.started_at_sample, now),
            )
        )

    def _time_of(self, sample: int, default: float) -> float:
        """When the block holding `sample` was absorbed (the oldest known if earlier)."""
        times = self._block_times
        newest = self.sample_count // BLOCK_SIZE - 1
        block = max(sample // BLOCK_SIZE, newest - _DATED_BLOCKS + 1)
        if times is None or block > newest or block < 0:
            return default
        when = times[block % _DATED_BLOCKS]
        return when if when > 0.0 else default

    # -- changing the baseline from outside (caller holds `lock`) -------------------------

    def adopt_shared(self, baseline: Baseline) -> bool:
        """Take a baseline learned by the whole fleet, unless this operation is degraded
        or its tests are weighing evidence (never swap the yardstick mid-measurement)."""
        adopted = self._lifecycle.adopt_shared(baseline, self.sample_count, self.window)
        self._copy_hot_figures()
        return adopted

    def accept_current(self, now: float) -> Baseline:
        """Adopt the current window as the new normal (explicit; clears degraded)."""
        baseline = self._lifecycle.accept_current(self.window, self.sample_count, now)
        self.accepted_at = now  # a deliberate new normal: it wins over other processes'
        self._copy_hot_figures()
        return baseline

    def enable_histogram(self, bounds: tuple[float, ...]) -> None:
        """Start counting durations into cumulative buckets (upper bounds, +Inf implied)."""
        if self.histogram is None or self.histogram.bounds != bounds:
            self.histogram = DurationHistogram(bounds)

    def take_delta(self) -> SketchDelta | None:
        """Hand over what was recorded since the last flush."""
        delta = self.delta
        if delta is None:
            return None
        self.delta = SketchDelta(LogSketch(delta.sketch.scale))
        return delta

    def offer_exemplar(self, encoded: float, metadata: Mapping[str, Any], when: float) -> None:
        """Offer a call just appended to `pending` as an exemplar."""
        index = self.sample_count + len(self.pending) - 1  # already appended; 0-based
        self.exemplars.offer(encoded, metadata, when, index)

    def renew_after_fork(self, *, discard_unsent: bool) -> None:
        """In a forked child: a fresh lock (a parent's thread may have held this one);
        with a shared store, what the parent recorded is the parent's to send."""
        self.lock = threading.Lock()
        if discard_unsent:
            self.pending = []
            self.failure_notes.clear()
            self.slow_marks.clear()
            self.take_delta()
