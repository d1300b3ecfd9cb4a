"""Detection quality on recorded real traces, scored by the rules of the set's README.

Run: python bench/realtrace.py [--data DIR [DIR ...]] [--jobs 2] [--markdown]
         [--per-trace] [--episodes] [--settings JSON]

Several --data folders (the shared set and your own recordings, bench/record_traces.py)
are scored each and pooled. --episodes lists every alert episode: where it began,
whether in a healthy span (a false alert), its signals, effect, the calls it was judged
on and how long it lasted: the view that shows what a false alert was.

The traces are real per-call latencies (SQLite, Redis over loopback, HTTP to a local
server, pure-Python CPU work) with faults injected for real at a known call; they are
read from the shared data folder when present and never copied into the project. Each
trace goes through a fresh in-memory PerformanceTracker: one record(name, value,
success=...) per call, state(name) read after each; an alert is a transition into
"degraded".

Rules (the README's, applied as written):
- healthy span: all of a healthy trace; [0, index) of a degraded one; for a recovery
  also [end + 500, n). A false alert is an alert starting inside a healthy span; rates
  are pooled per 10,000 healthy calls, over all traces and over the stable ones only
  (`stability.stable`).
- detection: the first alert in [index, end or n); delay = alert - index; caught within
  500 when delay < 500 (a drift: delay < 500 + ramp // 2). An alert already on at
  `index` is not a detection. The median delay is over the changes caught within 500.
- recovery cleared: "ok" for 200 calls in a row starting within 1,000 calls after end.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import statistics
import sys
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfguard import DegradationEvent, DetectorSettings, PerformanceTracker

logging.getLogger("perfguard").setLevel(logging.CRITICAL)

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "realtrace"
WITHIN = 500
CLEAR_RUN, CLEAR_WITHIN = 200, 1000


@dataclass(frozen=True)
class Trace:
    name: str
    kind: str
    family: str
    values: list[float]
    successes: list[bool]
    changes: list[dict[str, object]]
    stable: bool
    measurable: bool  # the README's `check.ok`: the fault measurably changed the trace
    starts: list[float] = field(default_factory=list)  # call starts, seconds (start_s)


@dataclass
class TraceScore:
    name: str
    kind: str
    family: str
    stable: bool
    measurable: bool
    healthy_calls: int = 0
    false_alerts: int = 0
    changes: int = 0
    caught: int = 0
    delays: tuple[int, ...] = ()
    recoveries: int = 0
    cleared: int = 0
    # (began at call, false alert?, signals, effect ratio, calls judged, calls until it
    # cleared or None): each episode, from the events the tracker sent
    episodes: tuple[tuple[int, bool, str, float, int, int | None], ...] = ()


def load(folder: Path) -> list[Trace]:
    labels = json.loads((folder / "labels.json").read_text())["streams"]
    traces = []
    for name in sorted(labels):
        label = labels[name]
        values: list[float] = []
        successes: list[bool] = []
        starts: list[float] = []
        with (folder / f"{name}.csv").open(newline="") as handle:
            for row in csv.DictReader(handle):
                values.append(float(row["value"]))
                successes.append(row["success"] == "1")
                starts.append(float(row.get("start_s") or 0.0))
        traces.append(
            Trace(
                name=name,
                kind=label["kind"],
                family=label["family"],
                values=values,
                successes=successes,
                changes=list(label["change_points"]),
                stable=bool(label.get("stability", {}).get("stable", False)),
                measurable=bool(label.get("check", {}).get("ok", True)),
                starts=starts,
            )
        )
    return traces


SETTINGS: dict[str, Any] = {}  # DetectorSettings overrides (--settings)


def states_of(trace: Trace, events: list[DegradationEvent] | None = None) -> list[bool]:
    """True where the operation reads "degraded" after the call (its events to `events`)."""
    sent: list[DegradationEvent] = [] if events is None else events

    def keep(event: DegradationEvent) -> None:
        sent.append(event)

    tracker = PerformanceTracker(
        autosave_interval=None, detector_settings=DetectorSettings(**SETTINGS), on_alert=keep
    )
    record, state = tracker.record, tracker.state
    degraded = []
    for value, success in zip(trace.values, trace.successes, strict=True):
        record("op", value, success=success)
        degraded.append(state("op") == "degraded")
    tracker.close()
    return degraded


def episodes_of(
    events: Sequence[DegradationEvent], healthy: Sequence[tuple[int, int]]
) -> tuple[tuple[int, bool, str, float, int, int | None], ...]:
    """Each episode (a "degraded" event that is neither a worsening nor a relapse, to
    the recovery that ends it): began at, false alert?, signals, effect, calls judged,
    calls until it cleared."""
    episodes: list[tuple[int, bool, str, float, int, int | None]] = []
    opened: DegradationEvent | None = None
    for event in events:
        if event.kind == "degraded" and opened is None and not event.worsened:
            opened = event
        elif event.kind == "recovered" and opened is not None:
            episodes.append(_episode(opened, healthy, event.sample_index - opened.sample_index))
            opened = None
    if opened is not None:
        episodes.append(_episode(opened, healthy, None))
    return tuple(episodes)


def _episode(
    event: DegradationEvent, healthy: Sequence[tuple[int, int]], lasted: int | None
) -> tuple[int, bool, str, float, int, int | None]:
    began = event.sample_index
    false = any(start <= began < stop for start, stop in healthy)
    judged = event.sample_index - event.started_at_sample
    return (began, false, "+".join(event.signals), round(event.effect_ratio, 2), judged, lasted)


def alerts_in(degraded: Sequence[bool]) -> list[int]:
    return [i for i, on in enumerate(degraded) if on and (i == 0 or not degraded[i - 1])]


def healthy_ranges(trace: Trace) -> list[tuple[int, int]]:
    n = len(trace.values)
    if not trace.changes:
        return [(0, n)]
    first = trace.changes[0]
    ranges = [(0, int(first["index"]))]  # type: ignore[call-overload]
    end = first.get("end")
    if first["kind"] == "recovery" and end is not None:
        ranges.append((int(end) + 500, n))  # type: ignore[call-overload]
    return ranges


def score(trace: Trace) -> TraceScore:
    events: list[DegradationEvent] = []
    degraded = states_of(trace, events)
    alerts = alerts_in(degraded)
    result = TraceScore(trace.name, trace.kind, trace.family, trace.stable, trace.measurable)
    result.episodes = episodes_of(events, healthy_ranges(trace))
    for start, stop in healthy_ranges(trace):
        result.healthy_calls += max(0, stop - start)
        result.false_alerts += sum(start <= a < stop for a in alerts)
    n = len(trace.values)
    delays = []
    for change in trace.changes:
        index = int(change["index"])  # type: ignore[call-overload]
        end = change.get("end")
        stop = int(end) if end is not None else n  # type: ignore[call-overload]
        ramp = int(change.get("ramp") or 0)  # type: ignore[call-overload]
        result.changes += 1
        found = [a for a in alerts if index <= a < stop]
        if found:
            delay = found[0] - index
            limit = WITHIN + (ramp // 2 if change["kind"] == "drift" else 0)
            if delay < limit:
                result.caught += 1
                delays.append(delay)
        if change["kind"] == "recovery" and end is not None:
            result.recoveries += 1
            result.cleared += cleared_after(degraded, int(end))  # type: ignore[call-overload]
    result.delays = tuple(delays)
    return result


def cleared_after(degraded: Sequence[bool], end: int) -> int:
    run = 0
    for index in range(end, min(len(degraded), end + CLEAR_WITHIN + CLEAR_RUN)):
        run = 0 if degraded[index] else run + 1
        if run >= CLEAR_RUN and index - CLEAR_RUN + 1 <= end + CLEAR_WITHIN:
            return 1
    return 0


def summary(scores: Sequence[TraceScore]) -> dict[str, object]:
    healthy = [s for s in scores if s.family == "healthy"]
    stable = [s for s in scores if s.stable]
    delays = [d for s in scores for d in s.delays]
    changes = sum(s.changes for s in scores)
    measurable = [s for s in scores if s.measurable and s.changes]

    def rate(group: Sequence[TraceScore]) -> float:
        calls = sum(s.healthy_calls for s in group)
        return 10_000 * sum(s.false_alerts for s in group) / calls if calls else 0.0

    return {
        "traces": len(scores),
        "false per 10k (all)": round(rate(scores), 2),
        "false per 10k (stable)": round(rate(stable), 2),
        "healthy traces with a false alert": (
            f"{sum(s.false_alerts > 0 for s in healthy)} of {len(healthy)}"
        ),
        "caught within 500": f"{sum(s.caught for s in scores)} of {changes}",
        "caught (measurable faults)": (
            f"{sum(s.caught for s in measurable)} of {sum(s.changes for s in measurable)}"
        ),
        "median delay": statistics.median(delays) if delays else None,
        "recoveries cleared": (
            f"{sum(s.cleared for s in scores)} of {sum(s.recoveries for s in scores)}"
        ),
    }


def by_family(scores: Sequence[TraceScore]) -> list[tuple[str, str, str, str]]:
    groups: dict[str, list[TraceScore]] = defaultdict(list)
    for s in scores:
        groups[s.family].append(s)
    rows = []
    for family, group in sorted(groups.items()):
        calls = sum(s.healthy_calls for s in group)
        false = sum(s.false_alerts for s in group)
        caught = f"{sum(s.caught for s in group)}/{sum(s.changes for s in group)}"
        delays = [d for s in group for d in s.delays]
        median = f"{statistics.median(delays):.0f}" if delays else "-"
        rows.append((family, f"{10_000 * false / calls:.2f}" if calls else "-", caught, median))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", default=[DEFAULT_DATA])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--markdown", action="store_true", help="tables for benchmarks.md")
    parser.add_argument("--per-trace", action="store_true", help="one line a trace")
    parser.add_argument("--episodes", action="store_true", help="one line an alert episode")
    parser.add_argument("--settings", default="{}", help="DetectorSettings fields, as JSON")
    args = parser.parse_args()
    SETTINGS.update(json.loads(args.settings))
    pooled: list[TraceScore] = []
    folders = [folder for folder in args.data if (folder / "labels.json").exists()]
    for folder in sorted(set(args.data) - set(folders)):
        print(f"no traces at {folder}: nothing measured", file=sys.stderr)
    for folder in folders:
        scores = report(folder, args.jobs, args.per_trace, args.episodes)
        pooled += scores
    if len(folders) > 1:
        print(f"\nall {len(folders)} folders pooled: {len(pooled)} traces")
        for key, value in summary(pooled).items():
            print(f"- {key}: {value}")


def report(folder: Path, jobs: int, per_trace: bool, episodes: bool) -> list[TraceScore]:
    """Score one folder of traces and print its figures."""
    traces = load(folder)
    with ProcessPoolExecutor(
        max_workers=jobs, initializer=SETTINGS.update, initargs=(dict(SETTINGS),)
    ) as pool:
        scores = list(pool.map(score, traces))
    where = "realtrace development set" if folder == DEFAULT_DATA else f"traces at {folder}"
    print(f"{where}: {len(traces)} traces, {sum(len(t.values) for t in traces):,} calls")
    for key, value in summary(scores).items():
        print(f"- {key}: {value}")
    print("\n| family | false per 10k | caught within 500 | median delay |")
    print("|---|---:|---:|---:|")
    for row in by_family(scores):
        print("| " + " | ".join(row) + " |")
    if per_trace:
        print()
        for s in scores:
            print(
                f"{s.name:34s} {s.family:9s} stable={s.stable!s:5s} false={s.false_alerts} "
                f"caught={s.caught}/{s.changes} delays={list(s.delays)} "
                f"cleared={s.cleared}/{s.recoveries}"
            )
    if episodes:
        print("\n| trace | began at | false | signals | effect | calls judged | lasted |")
        print("|---|---:|---|---|---:|---:|---:|")
        for s in scores:
            for began, false, signals, effect, judged, lasted in s.episodes:
                print(
                    f"| {s.name} | {began} | {'yes' if false else 'no'} | {signals} | "
                    f"{effect:g} | {judged} | {'open' if lasted is None else lasted} |"
                )
    return scores


if __name__ == "__main__":
    main()
