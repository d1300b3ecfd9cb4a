"""`perfguard demo`: a small simulated service, an injected slowdown, and its recovery.

Call durations are drawn from seeded distributions (nothing sleeps per call); phases are
paced in real time only so a person can watch the alerts arrive.
"""

from __future__ import annotations

import logging
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from .._clock import SYSTEM_CLOCK
from .._events import DegradationEvent
from .._tracker import PerformanceTracker
from .tables import format_seconds, stats_table


@dataclass(frozen=True)
class SimulatedOperation:
    name: str
    median: float  # seconds
    spread: float  # sigma of ln(duration)
    error_rate: float
    second_mode: tuple[float, float] | None = None  # (share, median) of a slower mode

    def draw(self, rng: random.Random, slowdown: float, extra_errors: float) -> tuple[float, bool]:
        median = self.median
        if self.second_mode is not None and rng.random() < self.second_mode[0]:
            median = self.second_mode[1]
        duration = rng.lognormvariate(0.0, self.spread) * median * slowdown
        success = rng.random() >= self.error_rate + extra_errors
        return duration, success


SERVICE = (
    SimulatedOperation("db.query", 0.008, 0.35, 0.002),
    SimulatedOperation("cache.get", 0.0004, 0.3, 0.0, second_mode=(0.1, 0.003)),
    SimulatedOperation("payments.api", 0.045, 0.45, 0.005),
    SimulatedOperation("render.page", 0.012, 0.25, 0.0),
)


@dataclass(frozen=True)
class Phase:
    title: str
    calls_per_operation: int
    slowdown: dict[str, float]
    extra_errors: dict[str, float]


PHASES = (
    Phase("warm-up: learning baselines", 1500, {}, {}),
    Phase("steady traffic", 1500, {}, {}),
    Phase(
        "incident: db.query 2.5x slower, more failures", 1500, {"db.query": 2.5}, {"db.query": 0.05}
    ),
    Phase("fix deployed: back to normal", 3000, {}, {}),
)


def run_demo(
    output: Path,
    *,
    seconds: float = 4.0,
    seed: int = 7,
    out: TextIO | None = None,
    report: Path | None = None,
) -> int:
    out = sys.stdout if out is None else out
    rng = random.Random(seed)
    alerts: Counter[str] = Counter()
    started = SYSTEM_CLOCK.perf()

    def say(text: str) -> None:
        print(f"[t+{SYSTEM_CLOCK.perf() - started:5.2f}s] {text}", file=out, flush=True)

    def on_alert(event: DegradationEvent) -> None:
        if event.kind == "degraded":
            alerts[event.operation] += 1
            say(f"ALERT    {event.describe()}")
            return
        lagging = still_degraded(event)
        if lagging:
            say(f"CLEARING {event.describe()}; not yet normal: {'; '.join(lagging)}")
        else:
            say(f"RESOLVED {event.describe()}")

    # Slow-call warnings go to the perfguard logger; the demo shows the alerts instead.
    logging.getLogger("perfguard").setLevel(logging.ERROR)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.exists():
        output.unlink()  # a demo starts from scratch
    tracker = PerformanceTracker(storage=output, on_alert=on_alert, autosave_interval=None)
    pace = seconds / sum(p.calls_per_operation for p in PHASES)
    with tracker:
        for phase in PHASES:
            say(f"--- {phase.title}")
            _run_phase(tracker, phase, rng, pace)
            states = ", ".join(f"{n}={tracker.state(n)}" for n in tracker.operations())
            say(f"    states: {states}")
        say(f"baselines saved to {output}")
        if report is not None:
            tracker.write_report(report)
            say(f"report written to {report}")
    all_stats = [tracker.stats(name) for name in tracker.operations()]
    print(file=out)
    print(stats_table(all_stats, alerts), file=out)
    print(LEGEND, file=out)
    db = tracker.stats("db.query")
    db_p95 = db["baseline"]["p95"] if db["baseline"] is not None else None
    print(
        f"\ndb.query: baseline p95 {format_seconds(db_p95)}; "
        f"{alerts['db.query']} alert(s); state now {db['state']}. "
        f"Look at it with: perfguard show {output} (or check, top, report)",
        file=out,
    )
    return 0


LEGEND = """
  state: what the detector says now. calls, errors: every call recorded, and the failed
  share. base p50/p95: the baseline (normal) percentiles; now p50/p95: those of the last
  1,000 calls. slow calls: single calls over the slow threshold (near the baseline p95,
  so about 5 % of healthy calls are slow by definition: counted, never an alert by
  themselves). alerts: sustained degradations (ALERT lines); an alert's "effect x2.09"
  is the current figure over the baseline's, "since 12:03:10Z (call 2992)" when the
  episode began. Lines start with the seconds since the demo began (t+)."""


def still_degraded(event: DegradationEvent) -> list[str]:
    """The signals of a recovery whose figures are not back near the baseline's: the
    error rate within 2x (and 1 point) of the baseline's, p50 and p99 within 1.3x."""
    current, baseline = event.current, event.baseline
    lagging = []
    errors, base_errors = current.get("error_rate"), baseline.get("error_rate", 0.0)
    if errors is not None and errors > max(2 * base_errors, base_errors + 0.01):
        lagging.append(f"errors {errors:.1%} vs baseline {base_errors:.1%}")
    for key in ("p50", "p99"):
        now, base = current.get(key), baseline.get(key)
        if now is not None and base and now > 1.3 * base:
            lagging.append(f"{key} {format_seconds(now)} vs baseline {format_seconds(base)}")
    return lagging


def _run_phase(tracker: PerformanceTracker, phase: Phase, rng: random.Random, pace: float) -> None:
    chunk = 100
    sleep: Callable[[float], None] = time.sleep
    for start in range(0, phase.calls_per_operation, chunk):
        for _ in range(min(chunk, phase.calls_per_operation - start)):
            for operation in SERVICE:
                duration, success = operation.draw(
                    rng,
                    phase.slowdown.get(operation.name, 1.0),
                    phase.extra_errors.get(operation.name, 0.0),
                )
                tracker.record(operation.name, duration, success=success)
        for operation in SERVICE:
            tracker.state(operation.name)  # let alerts surface as they happen
        sleep(pace * chunk)  # pacing for the viewer only; no decision depends on it
