"""Record a real FastAPI service's calls, route by route, as replayable traces.

Run: python bench/record_fastapi.py --out DIR [--steady 120] [--slowed 40] [--clients 2]
Then: python bench/realtrace.py --data DIR

It runs `examples/fastapi_service.py`'s service (uvicorn on loopback, four routes doing
SQLite and JSON work, client processes driving it, then POST /orders slowed 2x for real)
and saves every call the middleware recorded, in the format of the shared realtrace set
(`<route>.csv` with value, success, start_s; `labels.json`): POST /orders is a step at
the call its fault began, the other routes are healthy throughout. A run of the example
that surprised (an alert during the steady phase, a slow catch) can then be replayed
call for call, under any detector settings, instead of waited for again.

The live tracker's alerts are printed as the example prints them; the replay through a
fresh tracker per route (bench/realtrace.py) sees each route alone, as the scoring
rules ask, so its family budget is one operation rather than the service's four.
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

from perfguard import DegradationEvent, PerformanceTracker
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steady", type=float, default=120.0)
    parser.add_argument("--slowed", type=float, default=40.0)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args(argv)
    logging.getLogger("perfguard").setLevel(logging.ERROR)
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
