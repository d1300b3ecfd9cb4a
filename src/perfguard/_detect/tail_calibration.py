"""The reference p95 and p99 recalibrated to the share of healthy calls above them.

The tail tests assume that 5 % of healthy calls are slower than the reference p95 and
1 % slower than its p99. Those quantiles come from one window (1,000 calls by default):
a few seconds of a busy service, one stretch of its wander. On recorded real traces and
on a FastAPI service, the share of later healthy calls above the p99 was 2.0-7.5 % instead
of 1 % on a third of the operations (docs/benchmarks.md), and a test tuned for 1 %
drifts up by itself on 3 %: the source of most false tail alerts on long runs.

So each limit carries a factor that follows the healthy share. The share is counted
over ~MEMORY calls (exponentially decayed), starting from the baseline's own window
taken as PRIOR calls at the nominal share. A factor moves only when the share leaves
the band that independent calls keep it in (Z_BAND binomial deviations), and then by
what brings the band's near edge to the nominal share, read through the tail's local
index alpha = ln 5 / ln(p99 / p95) (a Pareto tail: share ~ limit^-alpha); the counts
are rescaled to the new limit. Independent calls therefore keep factors of 1, as
before. A factor never goes below 1 (a limit lower than what was learned turns ordinary
slow calls into evidence) nor beyond RANGE.

What is counted, after the level noise (noise.py): calls seen while a test is over its
threshold are held back, learned if the proposal ends without an alert (wander) and
dropped if one is confirmed. Calls seen while the latency tests hold half their
evidence are not counted at all: a tail that moves with the level is the level's wander
(confirm.tail_moves_with_level); this calibrates the tail at a still level. A tail fault
fires its tests within a few hundred calls, and until then moves a factor by a few
percent at most: a step in the share is still a change.
"""

from __future__ import annotations

import math

from .._baseline import Baseline
from .cusum import BinomialCusum
from .reference import Reference

NOMINAL = (0.05, 0.01)  # the shares of healthy calls above the reference p95 and p99
MEMORY = 4096  # calls: the span the healthy share is effectively estimated over
Z_BAND = 2.0  # deviations of the share of independent calls that are noise
PRIOR = 512  # calls the baseline's own window counts as (at most its samples)
RANGE = 2.0  # a calibrated limit stays within [1, RANGE] x the learned one
HELD_AT_MOST = 24  # updates (of 4 blocks) held back while evidence accumulates
MOVE_EVERY = 4  # quiet updates (of 4 blocks) between two moves: 256 calls
_ALPHA_RANGE = (1.5, 8.0)  # the tail index used, whatever the baseline's quantiles say


class TailCalibration:
    """Counts healthy calls and their hits above the reference p95 and p99 (the tail
    tests count the hits, `successes` is added to per block) and moves the reference's
    tail factors every few blocks."""

    __slots__ = (
        "_alpha",
        "_calls",
        "_held",
        "_hits",
        "_quiet",
        "_tests",
        "successes",
    )

    def __init__(self, baseline: Baseline, tests: tuple[BinomialCusum, ...]) -> None:
        """`tests`: the p95 and p99 tests, or none (the tails are not tested)."""
        self._tests = tests
        p95, p99 = baseline.p95, baseline.p99
        spread = math.log(p99 / p95) if p95 > 0.0 and p99 > p95 else 0.0
        alpha = math.log(5.0) / spread if spread > 0.0 else math.inf
        self._alpha = min(max(alpha, _ALPHA_RANGE[0]), _ALPHA_RANGE[1])
        # decayed counts over ~MEMORY calls, starting from the window the baseline was
        # learned from: its shares were the nominal ones, and it counts as up to PRIOR
        # calls, so a fault right after arming is diluted rather than learned
        prior = float(min(baseline.sample_count, PRIOR))
        self._calls = prior
        self._hits = [nominal * prior for nominal in NOMINAL]
        # [calls, hits above the p95, above the p99, updates] held back while a test
        # proposes; quiet updates since the counts were last taken
        self._held = [0, 0, 0, 0]
        self._quiet = 0
        self.successes = 0

    def update(self, reference: Reference, holding: bool, level_moving: bool) -> bool:
        """Every 4 blocks; True when the reference's tails moved. `holding`: a test is
        over its threshold (the counts are held back); `level_moving`: the latency tests
        hold half their evidence (the counts are dropped). The counts accumulate where
        they are (`successes`, the tests' `hits_seen`) and are taken only every
        MOVE_EVERY quiet updates or when set aside, so a routine update is one addition
        (the counts set aside include the quiet updates just before: a few hundred
        calls that are held or dropped rather than learned)."""
        if not self._tests:
            return False
        if holding or level_moving:
            calls, above_p95, above_p99 = self._take()
            held = self._held
            if holding and held[3] < HELD_AT_MOST:
                held[0] += calls
                held[1] += above_p95
                held[2] += above_p99
                held[3] += 1
            return False
        self._quiet += 1
        if self._quiet < MOVE_EVERY:
            return False
        calls, above_p95, above_p99 = self._take()
        held = self._held
        if held[3]:  # the proposal ended without an alert: what was held was wander
            calls, above_p95, above_p99 = calls + held[0], above_p95 + held[1], above_p99 + held[2]
            held[:] = [0, 0, 0, 0]
        decay = math.exp(-calls / MEMORY)
        self._calls = self._calls * decay + calls
        hits = self._hits
        hits[0] = hits[0] * decay + above_p95
        hits[1] = hits[1] * decay + above_p99
        return self._move(reference)

    def _take(self) -> tuple[int, int, int]:
        """The calls and hits counted since the last take."""
        p95_test, p99_test = self._tests
        taken = (self.successes, p95_test.hits_seen, p99_test.hits_seen)
        self.successes = p95_test.hits_seen = p99_test.hits_seen = self._quiet = 0
        return taken

    def _move(self, reference: Reference) -> bool:
        """Each factor moves only when its share is out of the band that the share of
        independent calls stays in (Z_BAND deviations), by what brings the band's near
        edge to the nominal share; the counts are rescaled to the new limit."""
        factors, calls, alpha = reference.tail_factors, self._calls, self._alpha
        moved = False
        for k, nominal in enumerate(NOMINAL):
            share = self._hits[k] / calls
            band = Z_BAND * math.sqrt(nominal * (1.0 - nominal) / calls)
            if share > nominal + band:
                edge = share - band
            elif share < nominal - band and factors[k] > 1.0:
                edge = share + band
            else:
                continue
            wanted = min(max(factors[k] * (edge / nominal) ** (1.0 / alpha), 1.0), RANGE)
            if wanted != factors[k]:
                self._hits[k] *= (factors[k] / wanted) ** alpha
                factors[k] = wanted
                moved = True
        if moved:
            reference.settle()
        return moved

    def discard(self) -> None:
        """An alert was confirmed or cleared: what was held is not healthy."""
        self._held[:] = [0, 0, 0, 0]
        self.successes = 0
