"""Detection quality of perfguard's state machine, scored through the public API only.

Run: python bench/detection.py [--quick] [--data ../shared/data] [--jobs 2]
         [--only generated|dev|nab|realtrace] [--misses] [--settings JSON]

For every stream: a fresh in-memory PerformanceTracker(), one record(name, value,
success=...) per sample, state(name) read after each; an alert is a transition into
"degraded". Streams come from this file's own deterministic generator (families of
healthy regimes x degradation scenarios with ground-truth change points) and, when
present, from the development set in ../shared/data (synthetic/ with labels.json;
nab/, real AWS CloudWatch and latency traces with labelled anomaly windows; realtrace/,
real per-call traces with faults injected for real, scored by bench/realtrace.py under
that set's own README rules, listed last).

Scoring (the same for every source):
- healthy samples: all of a healthy stream; before the first change point otherwise;
  for a recovery, also from `end + 1000` on. An alert that starts in healthy samples is a
  false alert; figures are per 10,000 healthy samples.
- a change is detected when the first alert at or after its index comes before its
  deadline: index + 500, or for a drift index + ramp + 500 (a drift is only complete
  at the end of its ramp). Delay = alert index - change index, in samples.
- a recovery is cleared when the episode is over within 1,000 samples of its end: the
  state is "ok" for all of the 100 samples that follow end + 1,000 (a rule that flips
  back and forth call by call does not clear).
- NAB: a labelled window is hit when an alert starts inside it; alerts starting outside
  every window count per 10,000 samples.
The seed's per-call rule (a call slower than mean + 2 std of the last 1000 successful
calls is "degraded") is scored beside perfguard as the reference.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import realtrace  # bench/realtrace.py: the real traces' scorer
from perfguard import DetectorSettings, PerformanceTracker

logging.getLogger("perfguard").setLevel(logging.CRITICAL)

REGIMES = ("lognormal", "pareto_mix", "bimodal", "outliers", "bursts", "diurnal")
SCENARIOS = (
    "healthy",
    "healthy",
    "step_x1.2",
    "step_x1.5",
    "step_x2",
    "step_x5",
    "drift_x2_over500",
    "drift_x2_over5000",
    "tail_p99x3",
    "variance_x2",
    "errors_5pct",
    "errors_10pct",
    "errors_30pct",
    "recovery_x2",
)
DETECTION_WINDOW = 500
RECOVERY_WINDOW = 1000


@dataclass
class Change:
    index: int
    kind: str
    ramp: int | None = None
    end: int | None = None

    @property
    def deadline(self) -> int:
        return self.index + (self.ramp or 0) + DETECTION_WINDOW


@dataclass
class Stream:
    name: str
    source: str  # "generated" | "dev" | "nab"
    regime: str
    scenario: str
    values: list[float]
    successes: list[bool]
    changes: list[Change] = field(default_factory=list)
    windows: list[tuple[int, int]] = field(default_factory=list)  # NAB, inclusive


# -- the generator ----------------------------------------------------------------------


def generate_stream(regime: str, scenario: str, rng: random.Random, name: str) -> Stream:
    n = int(math.exp(rng.uniform(math.log(2000), math.log(17000))))
    median = math.exp(rng.uniform(math.log(0.002), math.log(0.5)))
    sigma = rng.uniform(0.1, 0.3) if regime == "bimodal" else rng.uniform(0.2, 0.6)
    base_err = rng.uniform(0.0, 0.01)
    extra: dict[str, float] = {}
    if regime == "pareto_mix":
        extra = {
            "frac": rng.uniform(0.01, 0.05),
            "alpha": rng.uniform(1.3, 2.5),
            "scale": rng.uniform(2.5, 4.6),
        }
    elif regime == "bimodal":
        extra = {"frac": rng.uniform(0.1, 0.3), "ratio": rng.uniform(7.0, 14.0)}
    elif regime == "outliers":
        extra = {"rate": rng.uniform(0.0005, 0.003)}
    elif regime == "diurnal":
        extra = {
            "amp": rng.uniform(0.1, 0.22),
            "period": rng.uniform(2500, 6000),
            "phase": rng.uniform(0, 2 * math.pi),
        }
    bursts: list[tuple[int, int, float]] = []
    if regime == "bursts":
        for _ in range(rng.randint(1, max(1, n // 1500))):
            start = rng.randrange(200, n - 100)
            bursts.append((start, start + rng.randint(10, 30), rng.uniform(2.0, 5.0)))
    # as in the development set: a change comes after an established baseline (>= 1,200
    # healthy calls), and the stream runs long enough to see it whole
    change_at = max(1200, int(n * rng.uniform(0.3, 0.65)))
    n = max(n, change_at + 1000)
    change: Change | None = None
    multiplier_at = _constant(1.0)
    sigma_factor_at = _constant(1.0)
    error_at = _constant(base_err)
    tail_at = _constant(0.0)
    if scenario.startswith("step_x"):
        factor = float(scenario[6:])
        change = Change(change_at, "step")
        multiplier_at = _step(change_at, factor)
    elif scenario.startswith("drift_x2_over"):
        ramp = int(scenario[len("drift_x2_over") :])
        n = max(n, change_at + ramp + 1000)
        change = Change(change_at, "drift", ramp=ramp)
        multiplier_at = _ramp(change_at, ramp, 2.0)
    elif scenario == "tail_p99x3":
        change = Change(change_at, "tail")
        tail_at = _step(change_at, rng.uniform(0.03, 0.05), before=0.0)
    elif scenario == "variance_x2":
        change = Change(change_at, "variance")
        sigma_factor_at = _step(change_at, 2.0)
    elif scenario.startswith("errors_"):
        change = Change(change_at, "errors")
        error_at = _step(change_at, int(scenario[7:-3]) / 100.0, before=base_err)
    elif scenario == "recovery_x2":
        end = change_at + rng.randint(1000, 2500)
        n = max(n, end + 2000)
        change = Change(change_at, "recovery", end=end)
        multiplier_at = lambda i: 2.0 if change_at <= i < end else 1.0  # noqa: E731
    tail_level = 0.0
    if scenario == "tail_p99x3":  # tail events land around 1.5-4.5x the healthy p99
        sampler = random.Random(7)
        healthy = sorted(_healthy_value(regime, median, sigma, extra, sampler) for _ in range(4000))
        tail_level = healthy[int(0.99 * len(healthy))]
    values: list[float] = []
    successes: list[bool] = []
    for i in range(n):
        core = _healthy_value(regime, median, sigma * sigma_factor_at(i), extra, rng)
        if regime == "diurnal":
            core *= 1.0 + extra["amp"] * math.sin(
                2 * math.pi * i / extra["period"] + extra["phase"]
            )
        for start, stop, slowdown in bursts:
            if start <= i < stop:
                core *= slowdown
        if tail_at(i) and rng.random() < tail_at(i):
            core = max(core, tail_level * rng.uniform(1.5, 4.5))
        values.append(core * multiplier_at(i))
        successes.append(rng.random() >= error_at(i))
    return Stream(
        name, "generated", regime, scenario, values, successes, [change] if change else []
    )


def _healthy_value(
    regime: str, median: float, sigma: float, extra: dict[str, float], rng: random.Random
) -> float:
    core = median * math.exp(rng.gauss(0.0, sigma))
    if regime == "pareto_mix" and rng.random() < extra["frac"]:
        core = median * extra["scale"] * rng.paretovariate(extra["alpha"])
    elif regime == "bimodal" and rng.random() < extra["frac"]:
        core *= extra["ratio"]
    elif regime == "outliers" and rng.random() < extra["rate"]:
        core *= rng.uniform(10.0, 100.0)
    return core


def _constant(value: float):  # type: ignore[no-untyped-def]
    return lambda i: value


def _step(at: int, after: float, before: float = 1.0):  # type: ignore[no-untyped-def]
    return lambda i: after if i >= at else before


def _ramp(at: int, ramp: int, factor: float):  # type: ignore[no-untyped-def]
    return lambda i: 1.0 if i < at else factor ** min(1.0, (i - at) / ramp)


def generated_streams(seed: int, per_cell: int) -> Iterator[Stream]:
    rng = random.Random(seed)
    for regime in REGIMES:
        for index, scenario in enumerate(SCENARIOS):
            for copy in range(per_cell):
                name = f"gen_{regime}__{scenario}_{index}_{copy}"
                yield generate_stream(regime, scenario, random.Random(rng.random()), name)


# -- the development set ----------------------------------------------------------------


def dev_streams(data: Path) -> Iterator[Stream]:
    folder = data / "synthetic"
    labels = json.loads((folder / "labels.json").read_text())["streams"]
    for name in sorted(labels):
        label = labels[name]
        values, successes = [], []
        with (folder / f"{name}.csv").open() as handle:
            for row in csv.DictReader(handle):
                values.append(float(row["value"]))
                successes.append(row["success"] == "1")
        changes = [
            Change(c["index"], c["kind"], ramp=c.get("ramp"), end=c.get("end"))
            for c in label["change_points"]
        ]
        yield Stream(name, "dev", label["regime"], label["scenario"], values, successes, changes)


def nab_streams(data: Path) -> Iterator[Stream]:
    folder = data / "nab"
    labels = json.loads((folder / "labels.json").read_text())["windows"]
    for relative in sorted(labels):
        stamps, values = [], []
        with (folder / relative).open() as handle:
            for row in csv.DictReader(handle):
                stamps.append(datetime.fromisoformat(row["timestamp"]))
                values.append(max(0.0, float(row["value"])))
        windows = []
        for start_text, end_text in labels[relative]:
            start, end = datetime.fromisoformat(start_text), datetime.fromisoformat(end_text)
            inside = [i for i, stamp in enumerate(stamps) if start <= stamp <= end]
            if inside:
                windows.append((inside[0], inside[-1]))
        yield Stream(relative, "nab", "nab", "nab", values, [True] * len(values), windows=windows)


# -- running ----------------------------------------------------------------------------


SETTINGS: dict[str, Any] = {}  # --settings overrides, for tuning experiments


def perfguard_states(stream: Stream) -> tuple[list[bool], float]:
    """degraded-or-not after each sample, and ns per sample (record + state)."""
    settings = DetectorSettings(**SETTINGS) if SETTINGS else None
    tracker = PerformanceTracker(autosave_interval=None, detector_settings=settings)
    record, state = tracker.record, tracker.state
    name = "op"
    degraded: list[bool] = []
    append = degraded.append
    start = time.perf_counter_ns()
    for value, success in zip(stream.values, stream.successes, strict=False):
        record(name, value, success=success)
        append(state(name) == "degraded")
    elapsed = time.perf_counter_ns() - start
    tracker.close()
    return degraded, elapsed / max(1, len(stream.values))


def per_call_states(stream: Stream) -> list[bool]:
    """The seed's per-call rule: slower than mean + 2 std of the last 1000 successes."""
    window: list[float] = []
    limit = math.inf
    flags: list[bool] = []
    for index, (value, success) in enumerate(zip(stream.values, stream.successes, strict=False)):
        flags.append(success and value > limit)
        if success:
            window.append(value)
            if len(window) > 1000:
                del window[0]
        if len(window) >= 10 and (index % 50 == 0 or limit == math.inf):
            mean = statistics.fmean(window)
            limit = mean + 2.0 * statistics.pstdev(window, mean)
    return flags


def alerts_of(states: Sequence[bool]) -> list[int]:
    return [i for i, s in enumerate(states) if s and (i == 0 or not states[i - 1])]


@dataclass
class StreamScore:
    name: str
    source: str
    regime: str
    scenario: str
    samples: int
    healthy: int
    false_alerts: int
    detected: list[int | None]  # delay per change (None: missed)
    kinds: list[str]
    cleared: list[bool]  # per detected recovery
    windows_hit: int
    windows: int
    ns_per_sample: float


def score(stream: Stream, states: Sequence[bool], ns: float) -> StreamScore:
    alerts = alerts_of(states)
    n = len(states)
    if stream.source == "nab":
        hit = sum(1 for lo, hi in stream.windows if any(lo <= a <= hi for a in alerts))
        outside = sum(1 for a in alerts if not any(lo <= a <= hi for lo, hi in stream.windows))
        inside_samples = sum(hi - lo + 1 for lo, hi in stream.windows)
        return StreamScore(
            stream.name,
            "nab",
            "nab",
            "nab",
            n,
            n - inside_samples,
            outside,
            [],
            [],
            [],
            hit,
            len(stream.windows),
            ns,
        )
    healthy_ranges = _healthy_ranges(stream, n)
    healthy = sum(hi - lo for lo, hi in healthy_ranges)
    false_alerts = sum(1 for a in alerts if any(lo <= a < hi for lo, hi in healthy_ranges))
    detected: list[int | None] = []
    cleared: list[bool] = []
    for change in stream.changes:
        hits = [a for a in alerts if change.index <= a < change.deadline]
        if (
            not hits
            and states[change.index : change.deadline].count(True)
            and change.index
            and states[change.index - 1]
        ):
            hits = [change.index]  # already degraded when the change came: it counts
        detected.append(hits[0] - change.index if hits else None)
        if change.kind == "recovery" and change.end is not None and hits:
            start = min(n, change.end + RECOVERY_WINDOW)
            cleared.append(not any(states[start : start + 100]))
    return StreamScore(
        stream.name,
        stream.source,
        stream.regime,
        stream.scenario,
        n,
        healthy,
        false_alerts,
        detected,
        [c.kind for c in stream.changes],
        cleared,
        0,
        0,
        ns,
    )


def _healthy_ranges(stream: Stream, n: int) -> list[tuple[int, int]]:
    if not stream.changes:
        return [(0, n)]
    first = stream.changes[0]
    ranges = [(0, first.index)]
    if first.kind == "recovery" and first.end is not None:
        ranges.append((min(n, first.end + RECOVERY_WINDOW), n))
    return ranges


def run_one(job: tuple[Stream, dict[str, Any]]) -> tuple[StreamScore, StreamScore]:
    stream, settings = job
    SETTINGS.clear()
    SETTINGS.update(settings)
    states, ns = perfguard_states(stream)
    return score(stream, states, ns), score(stream, per_call_states(stream), 0.0)


# -- reporting --------------------------------------------------------------------------


def summarize(scores: Iterable[StreamScore]) -> dict[str, float | int | str]:
    scores = list(scores)
    healthy = sum(s.healthy for s in scores if s.source != "nab")
    false_alerts = sum(s.false_alerts for s in scores if s.source != "nab")
    delays = [d for s in scores for d in s.detected]
    found = sorted(d for d in delays if d is not None)
    cleared = [c for s in scores for c in s.cleared]
    result: dict[str, float | int | str] = {
        "streams": len(scores),
        "healthy samples": healthy,
        "false alerts": false_alerts,
        "false alerts / 10k healthy": 1e4 * false_alerts / healthy if healthy else math.nan,
        "changes": len(delays),
        "recall": len(found) / len(delays) if delays else math.nan,
        "median delay": statistics.median(found) if found else math.nan,
        "p90 delay": found[int(0.9 * (len(found) - 1))] if found else math.nan,
        "recoveries cleared": sum(cleared) / len(cleared) if cleared else math.nan,
    }
    return result


def recall_by(scores: Sequence[StreamScore], key: str) -> dict[str, tuple[int, int]]:
    table: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s in scores:
        for delay, kind in zip(s.detected, s.kinds, strict=False):
            group = kind if key == "kind" else getattr(s, key)
            table[group][1] += 1
            table[group][0] += delay is not None
    return {k: (v[0], v[1]) for k, v in sorted(table.items())}


def delay_by_kind(scores: Sequence[StreamScore]) -> dict[str, float]:
    table: dict[str, list[int]] = defaultdict(list)
    for s in scores:
        for delay, kind in zip(s.detected, s.kinds, strict=True):
            if delay is not None:
                table[kind].append(delay)
    return {k: float(statistics.median(v)) for k, v in table.items()}


def false_by(scores: Sequence[StreamScore], key: str) -> dict[str, tuple[int, int]]:
    table: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s in scores:
        table[getattr(s, key)][0] += s.false_alerts
        table[getattr(s, key)][1] += s.healthy
    return {k: (v[0], v[1]) for k, v in sorted(table.items())}


def report(title: str, ours: list[StreamScore], reference: list[StreamScore]) -> str:
    lines = [f"### {title}", ""]
    a, b = summarize(ours), summarize(reference)
    lines.append("| metric | perfguard | per-call rule (seed) |")
    lines.append("|---|---:|---:|")
    for key in a:
        lines.append(f"| {key} | {_fmt(a[key])} | {_fmt(b[key])} |")
    ns = [s.ns_per_sample for s in ours if s.ns_per_sample]
    if ns:
        lines.append(f"| ns per sample (record + state) | {statistics.median(ns):.0f} | - |")
    lines.append("")
    delays = delay_by_kind(ours)
    lines.append("| change kind | recall | median delay | regime | recall | false alerts / 10k |")
    lines.append("|---|---:|---:|---|---:|---:|")
    kinds = list(recall_by(ours, "kind").items())
    regimes = list(recall_by(ours, "regime").items())
    falses = false_by(ours, "regime")
    for row in range(max(len(kinds), len(regimes))):
        k = kinds[row] if row < len(kinds) else None
        r = regimes[row] if row < len(regimes) else None
        fa = falses.get(r[0]) if r else None
        lines.append(
            f"| {k[0] if k else ''} | {f'{k[1][0]}/{k[1][1]}' if k else ''} "
            f"| {_fmt(delays.get(k[0], math.nan)) if k else ''} "
            f"| {r[0] if r else ''} | {f'{r[1][0]}/{r[1][1]}' if r else ''} "
            f"| {f'{1e4 * fa[0] / fa[1]:.2f} ({fa[0]})' if fa and fa[1] else ''} |"
        )
    return "\n".join(lines)


def report_nab(ours: list[StreamScore], reference: list[StreamScore]) -> str:
    def figures(scores: list[StreamScore]) -> tuple[int, int, float]:
        hit = sum(s.windows_hit for s in scores)
        total = sum(s.windows for s in scores)
        outside = sum(s.false_alerts for s in scores)
        samples = sum(s.samples for s in scores)
        return hit, total, 1e4 * outside / samples

    a, b = figures(ours), figures(reference)
    return "\n".join(
        [
            "### NAB (real traces)",
            "",
            "| metric | perfguard | per-call rule (seed) |",
            "|---|---:|---:|",
            f"| labelled windows hit | {a[0]}/{a[1]} | {b[0]}/{b[1]} |",
            f"| alerts outside windows / 10k samples | {a[2]:.2f} | {b[2]:.2f} |",
        ]
    )


def _fmt(value: float | int | str) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one stream per family cell")
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", choices=("generated", "dev", "nab", "realtrace"), default=None)
    parser.add_argument("--misses", action="store_true", help="list missed changes")
    parser.add_argument(
        "--settings",
        type=json.loads,
        default={},
        help="DetectorSettings overrides as JSON, e.g. '{\"threshold\": 14}'",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    sources: dict[str, list[Stream]] = {}
    if args.only in (None, "generated"):
        sources["generated"] = list(generated_streams(args.seed, 1 if args.quick else 5))
    if args.data.is_dir():
        if args.only in (None, "dev") and (args.data / "synthetic").is_dir():
            sources["dev"] = list(dev_streams(args.data))
        if args.only in (None, "nab") and (args.data / "nab").is_dir():
            sources["nab"] = list(nab_streams(args.data))
    else:
        print(f"no development set at {args.data}: generated streams only", file=sys.stderr)
    sections = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for source, streams in sources.items():
            jobs = [(stream, args.settings) for stream in streams]
            results = list(pool.map(run_one, jobs, chunksize=2))
            ours = [r[0] for r in results]
            reference = [r[1] for r in results]
            if source == "nab":
                sections.append(report_nab(ours, reference))
            else:
                title = {
                    "generated": f"Generated streams (seed {args.seed})",
                    "dev": "Development set (shared/data/synthetic)",
                }[source]
                sections.append(report(title, ours, reference))
            if args.misses:
                for s in ours:
                    if None in s.detected or s.false_alerts:
                        print(
                            f"  {s.name}: delays {s.detected} false {s.false_alerts} "
                            f"cleared {s.cleared}",
                            file=sys.stderr,
                        )
    print("\n\n".join(sections))
    traces = args.data / "realtrace"
    if args.only in (None, "realtrace") and (traces / "labels.json").exists():
        # the recorded real traces, by their README's rules (bench/realtrace.py)
        print("\n### Real traces (shared/data/realtrace)\n")
        realtrace.SETTINGS.update(args.settings)
        realtrace.report(traces, args.jobs, per_trace=False, episodes=args.misses)
    print(f"\n(ran in {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
