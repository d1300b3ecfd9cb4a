"""Record a real FastAPI service's calls, route by route, as replayable traces.

Run: python bench/record_fastapi.py --out DIR [--steady 120] [--slowed 40] [--clients 2]
Then: python bench/realtrace.py --data DIR          (each route alone, the set's rules)
  or: python bench/record_fastapi.py --replay DIR [--settings JSON]
                                                    (all routes through one tracker)

It runs `examples/fastapi_service.py`'s service (uvicorn on loopback, four routes doing
SQLite and JSON work, client processes driving it, then POST /orders slowed 2x for real)
and saves every call the middleware recorded, in the format of the shared realtrace set
(`<route>.csv` with value, success, start_s; `labels.json`): POST /orders is a step at
the call its fault began, the other routes are healthy throughout. A run of the example
that surprised (an alert during the steady phase, a slow catch) can then be replayed
call for call, under any detector settings, instead of waited for again.

The live tracker's alerts are printed as the example prints them. bench/realtrace.py
replays each route through a fresh tracker, as the scoring rules ask (a budget of one
operation); `--replay` feeds all routes' calls to one tracker in the order they
completed, as the live service did, and prints its alerts: the same alerts as the live
run (decisions depend only on each operation's sample sequence), under any settings.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from fastapi_service import SLOWED, report, serve_under_load

from perfguard import DegradationEvent, DetectorSettings, PerformanceTracker
from realtrace import Trace, load
from record_traces import Plan, label_of, write_trace


class RecordingTracker(PerformanceTracker):
    """A tracker that also keeps every call it is given: value, success, start."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.calls: dict[str, tuple[list[float], list[bool], list[float]]] = defaultdict(
            lambda: ([], [], [])
        )
        self._origin = time.perf_counter()
        self._calls_lock = threading.Lock()

    def record(
        self,
        name: str,
        duration: float,
        success: bool = True,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        with self._calls_lock:
            values, successes, starts = self.calls[name]
            values.append(duration)
            successes.append(success)
            starts.append(time.perf_counter() - duration - self._origin)
        super().record(name, duration, success, metadata)


def trace_name(route: str) -> str:
    """`POST /orders` -> `fastapi_post_orders`; `GET /users/{user_id}` -> ..._users_user_id."""
    cleaned = "".join(c if c.isalnum() else "_" for c in route.lower())
    return "fastapi_" + "_".join(part for part in cleaned.split("_") if part)


def save(tracker: RecordingTracker, slowed_from: int, out: Path) -> dict[str, Any]:
    """Every route's calls as a trace; the labels, as the realtrace set writes them."""
    out.mkdir(parents=True, exist_ok=True)
    labels: dict[str, Any] = {}
    for route, (values, successes, starts) in sorted(tracker.calls.items()):
        name = trace_name(route)
        slowed = route == SLOWED
        plan = Plan(name, "fastapi", "step" if slowed else "healthy", "slowed" if slowed else None)
        write_trace(out / f"{name}.csv", values, successes, starts)
        labels[name] = label_of(plan, values, successes, slowed_from if slowed else None, None, 0)
    (out / "labels.json").write_text(json.dumps({"streams": labels}, indent=1))
    return labels


def replay(traces: list[Trace], settings: DetectorSettings) -> list[DegradationEvent]:
    """All routes of a saved run through one tracker, calls in the order they completed."""
    calls = sorted(
        (start + value, trace.name, value, success)
        for trace in traces
        for value, success, start in zip(trace.values, trace.successes, trace.starts, strict=True)
    )
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(
        autosave_interval=None, on_alert=events.append, detector_settings=settings
    )
    for _, name, value, success in calls:
        tracker.record(name, value, success=success)
    for trace in traces:
        tracker.state(trace.name)  # the last calls are judged too
    tracker.close()
    return events


def print_replay(folder: Path, settings: DetectorSettings) -> None:
    """One line an alert of the replay, and how long after its route's fault it came."""
    traces = load(folder)
    faults = {
        trace.name: int(trace.changes[0]["index"])  # type: ignore[call-overload]
        for trace in traces
        if trace.changes
    }
    for event in replay(traces, settings):
        fault = faults.get(event.operation)
        after = "" if fault is None else f", {event.sample_index - fault} calls after the fault"
        signals = "+".join(event.signals)
        print(f"{event.operation} {event.kind} ({signals}) at call {event.sample_index}{after}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--replay", type=Path, help="a folder this script saved")
    parser.add_argument("--settings", default="{}", help="DetectorSettings fields, as JSON")
    parser.add_argument("--steady", type=float, default=120.0)
    parser.add_argument("--slowed", type=float, default=40.0)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args(argv)
    logging.getLogger("perfguard").setLevel(logging.ERROR)
    if args.replay is not None:
        print_replay(args.replay, DetectorSettings(**json.loads(args.settings)))
        return 0
    if args.out is None:
        parser.error("--out DIR (or --replay DIR) is needed")
    events: list[DegradationEvent] = []
    tracker = RecordingTracker(autosave_interval=None, on_alert=events.append)
    run = serve_under_load(tracker, events, args.steady, args.slowed, args.clients)
    ok = report(tracker, run, args.steady)
    tracker.close()
    for name, label in save(tracker, run.slowed_from, args.out).items():
        stable = label["stability"]["stable"]
        print(f"{name}: {label['n']} calls, stable {stable}, check {label['check']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
