"""The state machine ok <-> degraded of one operation, driven by blocks of samples.

Stage one proposes: each signal is a one-sided binomial CUSUM (cusum.py) on a rank
indicator against the reference (reference.py), so heavy tails and multi-modal latency
cannot fool it:

- latency: share of successful calls slower than the reference p50 (0.5 when healthy),
  tested against a small shift and, separately, a large jump (fast detection);
- tail: share slower than the reference p95 (0.05), than its p99 (0.01), than 3x its p99;
- errors: share of failed calls (the baseline error rate when healthy).

Stage two confirms (confirm.py) on the samples since the estimated change point, as
Sentry's regression detector confirms its cheap trigger. While degraded, a reverse CUSUM
per degraded signal accumulates evidence of a return to the reference; all must agree
before the state clears (hysteresis in the spirit of Prometheus `for` / `keep_firing_for`).
Meanwhile the stage-one tests of the signals the episode does not hold keep running (not
the tail during a latency episode): one that is confirmed worsens the episode.
The reference never tracks while a test is accumulating evidence or while degraded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .._baseline import Baseline
from .._events import Signal
from .confirm import (
    current_figures,
    effect_ratio,
    ratio_of,
    spans_to_judge,
    stricter_tail,
    tail_moves_with_level,
)
from .cusum import BinomialCusum
from .escalation import Escalation
from .evidence import (
    episode_of,
    escalated_evidence,
    evidence_of,
    learned_noise,
    recovery_evidence,
)
from .proposing import (
    error_rates,
    family_z,
    far_rate,
    feed,
    learn_healthy,
    limits_of,
    open_tests,
    persistence_of,
    proposing_tests,
    signal_starts,
)
from .recovery import Recovery
from .reference import KEEP_MEDIANS, TRACK_EVERY, Reference
from .schedule import DecisionSchedule
from .settings import BLOCK_SIZE, DetectorSettings
from .tail_calibration import TailCalibration


@dataclass(frozen=True)
class Verdict:
    """A state change decided by the detector."""

    kind: str  # "degraded" | "recovered"
    signals: tuple[Signal, ...]
    current: dict[str, float]
    effect_ratio: float
    evidence: dict[str, Any]
    started_at_sample: int
    # a relapse within `reopen_within` calls of the last recovery: the same episode again
    reopened: bool = False
    # a signal added to an open episode (errors rising during a latency episode ...)
    worsened: bool = False


class SustainedDetector:
    """Drives ok <-> degraded for one operation from blocks of samples."""

    def __init__(
        self,
        baseline: Baseline,
        settings: DetectorSettings | None = None,
        recent_encoded: list[float] | None = None,
        *,
        errors_only: bool = False,
    ) -> None:
        s = self.settings = settings or DetectorSettings()
        self.baseline = baseline
        self._reference = Reference(baseline, recent_encoded)
        self._blocks_seen = 0
        self._reference_error, self._error_alt = error_rates(baseline, s)
        self.far_rate = far_rate(baseline, recent_encoded, s)
        tests = proposing_tests(s, self._reference_error, self._error_alt, self.far_rate)
        self._tests: dict[str, BinomialCusum] = tests
        self._latency, self._jump, self._tail, self._extreme, self._far, self._errors = (
            tests.values()
        )
        # The tests that count calls above a limit: none while the level still settles
        # (only errors are tested), no tail on a p99 from a few hundred samples.
        tails_armed = baseline.sample_count >= s.tail_min_samples and not errors_only
        self._ranked = (
            () if errors_only else (self._latency, self._jump),
            (self._tail, self._extreme, self._far) if tails_armed else (),
        )
        self._gate = self._latency.threshold * s.track_gate
        self._noise_z = family_z(s.noise_z, s.family_size or 1)
        if self._reference.anchored:
            self._reference.track(math.inf, s)
        self._limits: tuple[tuple[BinomialCusum, float], ...] = ()
        self._follow_reference()
        # while degraded: the tests of the signals not in the episode, with their limits
        self._watched: tuple[tuple[BinomialCusum, float], ...] = self._limits
        self._recovery_due = False  # while degraded: the decision due is a recovery
        self._unwatched: tuple[Signal, ...] = ()  # while degraded: signals not proposing
        self._noise = learned_noise(baseline, recent_encoded)
        self._calibration = TailCalibration(baseline, self._ranked[1][:2])  # tail limits' shares
        self._recovery: Recovery | None = None  # while degraded
        self._escalation: Escalation | None = None  # while degraded for latency
        self._escalation_due = False  # while degraded: the decision due is an escalation
        self.degraded_signals: tuple[Signal, ...] = ()
        self.episode_start = 0
        self.recovered_at = -1  # the sample at which the last episode cleared (-1: none)
        # the p50 the last recovery judged healthy below: a relapse soon after must exceed it
        self._relapse_p50 = 0.0
        self._degraded_until = 0  # the end of the last block seen while degraded
        self._schedule = DecisionSchedule(s, self._latency.threshold)
        self._persistence = persistence_of(s)  # how old a proposal must be to be judged
        self._with_level = stricter_tail(s)  # the settings a tail moving with the level meets
        self._judged_young = False  # the last confirmation judged a young latency span

    def remember_episodes_of(self, previous: SustainedDetector) -> None:
        """A re-armed detector keeps its predecessor's last episode: a relapse still reopens it."""
        self.recovered_at = previous.recovered_at
        self.episode_start = previous.episode_start
        self._relapse_p50 = previous._relapse_p50

    @property
    def degraded(self) -> bool:
        return bool(self.degraded_signals)

    @property
    def accumulating(self) -> bool:
        """Some test holds at least half the evidence it needs to propose an alert."""
        return any(t.statistic > 0.5 * t.threshold for t in self._tests.values())

    def observe_block(self, sorted_successes: list[float], failures: int, block_start: int) -> bool:
        """Feed one block; True when a decision is due (call decide() with recent data).

        Runs once every 16 calls of every operation, so it is written out in one piece:
        the block's median goes to the reference and to the level noise (held back while
        a latency test accumulates evidence), its counts above the reference p50, p95,
        p99 and far limit to the proposing tests, without a call into either."""
        n_ok = len(sorted_successes)
        self._blocks_seen += 1
        if self.degraded_signals:
            return self._observe_degraded(sorted_successes, failures, block_start)
        proposed = False
        if n_ok:
            upper_middle = sorted_successes[n_ok >> 1]  # the reference's level estimate
            # the noise's: the middle (of an even count, the mean of the two middle values)
            median = 0.5 * (sorted_successes[(n_ok - 1) >> 1] + upper_middle)
            reference = self._reference
            medians = reference.block_medians
            medians.append(upper_middle)
            if len(medians) > KEEP_MEDIANS:
                del medians[: len(medians) - KEEP_MEDIANS]
            proposed = feed(self._limits, sorted_successes, block_start)
            self._calibration.successes += n_ok
            if self._schedule.rise_limit and self._schedule.rising(sorted_successes, block_start):
                proposed = True  # a step on top of a rejected wander: judged now
            noise, gate = self._noise, self._gate
            if self._latency.statistic > gate or self._jump.statistic > gate:
                noise.hold(median)
            elif noise.held:
                noise.release(median)
            else:
                noise.quiet.append(median)
        errors = self._errors
        if (failures or errors.statistic) and errors.update(failures, n_ok + failures, block_start):
            proposed = True
        if self._blocks_seen % TRACK_EVERY == 0 and learn_healthy(
            self._reference, self._noise, self._calibration, self._tests, self.settings, proposed
        ):
            self._follow_reference()
        if proposed:
            return self._decision_due(block_start + BLOCK_SIZE)
        if self._schedule.next_block or self._schedule.rise_limit:  # none firing: back-offs end
            self._schedule.clear()
        return False

    def _observe_degraded(
        self, sorted_successes: list[float], failures: int, block_start: int
    ) -> bool:
        n_ok = len(sorted_successes)
        self._degraded_until = block_start + n_ok + failures
        if n_ok:
            medians = self._reference.block_medians
            medians.append(sorted_successes[n_ok >> 1])
            if len(medians) > KEEP_MEDIANS:
                del medians[: len(medians) - KEEP_MEDIANS]
        assert self._recovery is not None
        self._recovery_due = self._recovery.observe(sorted_successes, failures, block_start)
        if self._recovery_due:
            return True
        watched = self._watched  # the other signals' tests: one that rises now worsens it
        proposed = bool(n_ok and watched) and feed(watched, sorted_successes, block_start)
        errors = self._errors
        if "errors" not in self._unwatched and (failures or errors.statistic):
            proposed = errors.update(failures, n_ok + failures, block_start) or proposed
        esc = self._escalation  # is the open latency episode much worse now?
        self._escalation_due = bool(esc and esc.observe(sorted_successes, block_start))
        return self._escalation_due or (proposed and self._decision_due(block_start + BLOCK_SIZE))

    def _open_tests(self) -> dict[str, BinomialCusum]:
        """The tests that may propose: all, or while degraded the watched ones."""
        return open_tests(self._tests, self._unwatched if self.degraded_signals else ())

    def _decision_due(self, next_sample: int) -> bool:
        tests = self._open_tests()
        firing = frozenset(name for name, t in tests.items() if t.statistic > t.threshold)
        if self._schedule.backing_off(self._blocks_seen, firing):
            return False
        starts = signal_starts(tests).items()  # none: the rise test fired as the proposal ended
        short = min((self._persistence[sig] - (next_sample - at) for sig, at in starts), default=1)
        if short > 0:  # every proposal too young to judge yet
            return False
        self._schedule.take(self._blocks_seen, next_sample, firing)
        return True

    def _follow_reference(self) -> None:
        """Each proposing test's limit (observe_block reads them per block; they change
        only when the reference moves)."""
        self._limits = limits_of(self._reference, *self._ranked, self.settings.far_tail_factor)

    # -- stage two -----------------------------------------------------------------------

    def evidence_span(self, next_sample: int) -> int:
        """How many recent samples decide() should see: those since the earliest change
        point of a proposed signal (at most `max_span`); while degraded, `recent_samples`."""
        s = self.settings
        if self.degraded_signals and self._recovery_due:
            # the samples that convinced the reverse tests, so the verdict shows the
            # recovered figures rather than a mix with the end of the incident
            began = self._recovery.began if self._recovery is not None else 0
            return max(2 * BLOCK_SIZE, min(next_sample - began, s.recent_samples))
        if self._escalation is not None and self._escalation_due:
            return min(next_sample - self._escalation.test.started_at, s.max_span)
        starts = signal_starts(self._open_tests()).values()
        start = min(starts) if starts else next_sample - s.recent_samples
        return max(0, min(next_sample - start, s.max_span))

    def decide(self, recent_encoded: list[float]) -> Verdict | None:
        """Confirm a proposed alert (or a recovery) on the samples evidence_span() named,
        in the window's encoding (failures negative)."""
        if self.degraded_signals and self._recovery_due:
            return self._recover(current_figures(recent_encoded))
        if self._escalation is not None and self._escalation_due:
            return self._escalate(recent_encoded, self._escalation)
        verdict = self._confirmed(recent_encoded)
        if verdict is not None:
            self._schedule.confirmed()
        elif not self._judged_young:  # too young for a moderate effect is no rejection
            self._schedule.rejected()
        return verdict

    def _confirmed(self, recent: list[float]) -> Verdict | None:
        """Each proposed signal is judged on the samples since its own change point."""
        s = self.settings
        starts = signal_starts(self._open_tests())
        confirmed: list[Signal] = []
        ratios: dict[str, float] = {}
        shown: dict[str, float] = {}
        figures_by_start: dict[int, dict[str, float]] = {}
        self._judged_young = False
        decision_at = self._schedule.decision_at
        for signal, start in starts.items():
            if start < self.episode_start and self.degraded_signals:
                continue  # evidence older than the open episode: part of it, not new
            whole = recent[-(decision_at - start) :] if start < decision_at else []
            if len(whole) < self._persistence[signal]:
                continue  # too young to judge
            moves = tail_moves_with_level(signal, starts, confirmed, decision_at)
            judged_by = self._with_level if moves else s  # stricter tail floors: confirm.py
            self._judged_young |= signal == "latency" and len(whole) < s.min_persistence
            risen = self._schedule.risen(decision_at)
            for span in spans_to_judge(signal, whole, self._reference.p50, s, self._latency, risen):
                start = starts[signal] if span is whole else decision_at - len(span)
                current = figures_by_start.get(start) or current_figures(span)
                figures_by_start[start] = current
                self._noise.learn_quiet(self._reference.p50)
                level_floor = math.exp(self._noise.upper(len(span) / BLOCK_SIZE, self._noise_z))
                if self.recovered_at >= 0 and start - self.recovered_at < s.reopen_within:
                    # hysteresis: what the recovery called healthy cannot reopen the episode
                    level_floor = max(level_floor, ratio_of(self._relapse_p50, self._reference.p50))
                ratio = effect_ratio(
                    signal,
                    span,
                    current,
                    self._reference,
                    self._reference_error,
                    judged_by,
                    level_floor,
                    self.far_rate,
                )
                if ratio is not None:
                    starts[signal] = start  # the span judged: the whole, or its later part
                    break
            if ratio is not None:
                confirmed.append(signal)
                ratios[signal] = ratio
                if not shown:
                    shown = current
        self._schedule.judged(figures_by_start.get(starts.get("latency", -1)))
        if not confirmed:
            return None
        start = min(starts[signal] for signal in confirmed)
        self._noise.discard()
        self._calibration.discard()
        worsened = bool(self.degraded_signals)  # the episode's signals come first
        self.degraded_signals = signals = self.degraded_signals + tuple(confirmed)
        # a latency episode moves the tail with it: only a new kind of trouble worsens it
        self._unwatched = unwatched = (*signals, "tail") if "latency" in signals else signals
        still_open = set(open_tests(self._tests, unwatched).values())
        self._watched = tuple(p for p in self._limits if p[0] in still_open)
        recovered_at = self.recovered_at
        relapse = recovered_at >= 0 and start - recovered_at < self.settings.reopen_within
        reopened = relapse and not worsened
        if not (reopened or worsened):
            self.episode_start = start
        # the p99 test alone proposed the tail: its recovery is judged on the p99 too
        tail_on_p99 = "tail" in signals and not self._tail.statistic > self._tail.threshold
        self._recovery = Recovery(
            self.degraded_signals,
            shown,
            self._reference,
            self.settings,
            (self._reference_error, self._error_alt),
            tail_on_p99,
        )
        if "latency" in confirmed:
            self._escalation = Escalation(shown["p50"], self.settings, self._latency.threshold)
        evidence = evidence_of(self._tests, self._reference, self._noise, starts, self._noise_z)
        if reopened or worsened:
            evidence.update(episode_of(self.episode_start, reopened, recovered_at, confirmed))
        ratio = ratios[confirmed[0]]
        return Verdict("degraded", signals, shown, ratio, evidence, start, reopened, worsened)

    def _escalate(self, recent: list[float], escalation: Escalation) -> Verdict | None:
        """The open latency episode has become much worse (escalation.py): worsened."""
        ratio = escalation.judge(recent, self.settings)
        if ratio is None:
            return None
        current, level = current_figures(recent), escalation.level
        start = escalation.test.started_at  # the escalation's change point
        escalation.restart(current["p50"])
        evidence = escalated_evidence(self.episode_start, level, ratio)
        effect, signals = ratio_of(current["p50"], self._reference.p50), self.degraded_signals
        return Verdict("degraded", signals, current, effect, evidence, start, worsened=True)

    def _recover(self, current: dict[str, float]) -> Verdict:
        signals = self.degraded_signals
        tests = self._recovery.tests if self._recovery is not None else {}
        evidence = recovery_evidence(tests, self.settings.recovery_threshold)
        ratio = ratio_of(current["p50"], self._reference.p50)
        verdict = Verdict("recovered", signals, current, ratio, evidence, self.episode_start)
        self.recovered_at = self._degraded_until
        self._relapse_p50 = self._recovery.healthy_p50 if self._recovery is not None else 0.0
        self.degraded_signals = ()
        self._recovery = self._escalation = None
        for test in self._tests.values():
            test.reset()
        self._calibration.discard()
        # back-offs earned by the watched signals during the episode end with it
        self._schedule.clear()
        return verdict
