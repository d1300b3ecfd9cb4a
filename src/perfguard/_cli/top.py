"""`perfguard top TARGET`: a live table of a store (or report), redrawn every second.

Per operation: calls per second (over the latest minute its status records hold), p50
and p95 of that minute against the baseline's (x ratio), the error rate, the state and
a sparkline of p95 over the last 20 minutes. The figures are as fresh as the status
records: a shared store's processes write theirs every 10 s, a baseline file's every
minute and at each baseline or state change. `--once` prints one frame (scripts, tests).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from .tables import format_seconds, format_time, render_table
from .targets import TargetError, View, open_target

SPARKS = "▁▂▃▄▅▆▇█"
SPARK_MINUTES = 20
_CLEAR = "\x1b[H\x1b[2J"


def top(
    target: str,
    *,
    once: bool,
    interval: float = 1.0,
    as_json: bool = False,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    frames: int | None = None,
) -> int:
    """Draw frames until interrupted (or `frames` of them); 2 when the target cannot be
    read at the first frame, 0 otherwise."""
    out = sys.stdout if out is None else out
    try:
        view = open_target(target)
    except TargetError as exc:
        print(f"perfguard top: {exc}", file=sys.stderr)
        return 2
    if once or as_json:
        text = json.dumps(frame_rows(view), indent=2) if as_json else frame(view)
        print(text, file=out)
        return 0
    drawn = 0
    try:
        while frames is None or drawn < frames:
            if drawn:
                try:
                    view = open_target(target)
                    problem = ""
                except TargetError as exc:  # a file being replaced: said, and retried
                    problem = f"\n(cannot read now: {exc})"
            else:
                problem = ""
            out.write(_CLEAR + frame(view, live_every=interval) + problem + "\n")
            out.flush()
            drawn += 1
            if frames is None or drawn < frames:
                sleep(max(0.1, interval))
    except KeyboardInterrupt:
        pass
    return 0


def frame_rows(view: View) -> list[dict[str, Any]]:
    """One frame's figures, per operation (what the table shows, as numbers)."""
    rows = []
    for name in sorted(view.operations):
        stats = view.operations[name]
        baseline = stats.get("baseline") or {}
        minute = _latest_minute(stats, view.generated_at)
        rows.append(
            {
                "operation": name,
                "state": stats.get("state"),
                "calls_per_second": minute["rate"],
                "p50": minute["p50"],
                "p95": minute["p95"],
                "baseline_p50": _number(baseline.get("p50")),
                "baseline_p95": _number(baseline.get("p95")),
                "error_rate": minute["error_rate"],
                "p95_per_minute": _p95_series(stats),
            }
        )
    return rows


def frame(view: View, live_every: float | None = None) -> str:
    """The table as text, under a line naming the target and the time."""
    table_rows = []
    for row in frame_rows(view):
        table_rows.append(
            [
                row["operation"],
                str(row["state"]),
                _rate(row["calls_per_second"]),
                _against(row["p50"], row["baseline_p50"]),
                _against(row["p95"], row["baseline_p95"]),
                "-" if row["error_rate"] is None else f"{row['error_rate']:.1%}",
                sparkline(row["p95_per_minute"]),
            ]
        )
    headers = ["operation", "state", "calls/s", "p50 (x base)", "p95 (x base)", "errors",
               f"p95, last {SPARK_MINUTES} min"]  # fmt: skip
    processes = f", {view.processes} process(es)" if view.processes else ""
    refresh = f"; every {live_every:g}s, Ctrl-C quits" if live_every else ""
    title = (
        f"perfguard top: {view.source} ({view.kind}{processes}); "
        f"figures of {format_time(view.generated_at)}{refresh}"
    )
    if not table_rows:
        return f"{title}\n\nno operations yet"
    return f"{title}\n\n{render_table(headers, table_rows)}"


def sparkline(values: Sequence[float | None]) -> str:
    """One block character per value, scaled between the smallest and the largest."""
    present = [v for v in values if v is not None]
    if not present:
        return ""
    low, high = min(present), max(present)
    span = high - low
    marks = []
    for value in values:
        if value is None:
            marks.append(" ")
        else:
            level = 0 if span <= 0 else round((value - low) / span * (len(SPARKS) - 1))
            marks.append(SPARKS[level])
    return "".join(marks)


def _latest_minute(stats: Mapping[str, Any], now: float) -> dict[str, float | None]:
    """The latest minute with calls: its rate (the minute's calls over the seconds it
    covers up to `now`), percentiles and error rate; the report's window without one."""
    rows = [r for r in stats.get("timeline") or [] if isinstance(r, list) and len(r) == 6]
    if not rows:
        return {"rate": None, "p50": _number(stats.get("recent_p50")),
                "p95": _number(stats.get("recent_p95")),
                "error_rate": _number(stats.get("recent_error_rate"))}  # fmt: skip
    start, calls, failures, p50, p95, _ = rows[-1]
    if now - float(start) > 120.0:  # no call for over a minute: its last figures, no rate
        calls_rate = 0.0
        return {"rate": calls_rate, "p50": _number(p50), "p95": _number(p95),
                "error_rate": float(failures) / float(calls) if calls else None}  # fmt: skip
    covered = min(60.0, max(1.0, now - float(start)))
    if covered < 10.0 and len(rows) > 1 and float(start) - float(rows[-2][0]) <= 60.0:
        start, calls, failures, p50, p95, _ = rows[-2]  # a minute just begun says little
        covered = 60.0
    return {
        "rate": float(calls) / covered,
        "p50": _number(p50),
        "p95": _number(p95),
        "error_rate": float(failures) / float(calls) if calls else None,
    }


def _p95_series(stats: Mapping[str, Any]) -> list[float | None]:
    rows = [r for r in stats.get("timeline") or [] if isinstance(r, list) and len(r) == 6]
    if not rows:
        return []
    last = float(rows[-1][0])
    by_minute = {float(r[0]): _number(r[4]) for r in rows}
    return [by_minute.get(last - 60.0 * k) for k in range(SPARK_MINUTES - 1, -1, -1)]


def _against(value: float | None, baseline: float | None) -> str:
    if value is None:
        return "-"
    if not baseline:
        return format_seconds(value)
    return f"{format_seconds(value)} x{value / baseline:.2f}"


def _rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
