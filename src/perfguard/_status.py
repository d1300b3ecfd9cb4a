"""What a process tells a store besides its baselines, so a command line reading the
store sees the operations' state (`perfguard check|show|report|top` on the store, no
report file needed): a status record, bounded.

One record per process, replaced at each write (a JSON object, schema perfguard.status):
per operation its state and degraded signals, its counters, its baseline's figures, its
last `EVENTS_KEPT` transitions and its latency per minute (_timeline.py) for at most the
last hour, fewer minutes when the process has many operations (`ROWS_BUDGET` rows in
all, at least 3 each), so a record of 1,000 operations is about 390 kB.

Where the stores keep it: the JSON file in each process's contribution (contributions.py;
dropped when the process is folded after it exited); a shard folder in
`status/<identity>.json`; Redis under `<prefix>:status:<identity>`, expiring after an hour
without a write. `combine_statuses` reads the records of every process into one view.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._baseline import Baseline
from ._events import DegradationEvent
from ._registry import OperationRegistry
from ._timeline import KEPT_BUCKETS, Row

if TYPE_CHECKING:
    from ._operation import Operation

STATUS_SCHEMA = "perfguard.status"
STATUS_VERSION = 1
EVENTS_KEPT = 5
ROWS_BUDGET = 4_000
FRESH_SECONDS = 120.0  # records this much older than an operation's newest are history
STATES = ("degraded", "ok", "learning", "idle")  # in the order a combined state prefers


def build_status(
    registry: OperationRegistry,
    events_of: Callable[[str], list[DegradationEvent]],
    now: float,
) -> dict[str, Any]:
    """This process's status record at wall time `now`."""
    rows_each = max(3, min(KEPT_BUCKETS, ROWS_BUDGET // max(1, len(registry.operations))))
    operations: dict[str, Any] = {}
    for name, entry in registry.each_absorbed(lambda op: _entry_of(op, now, rows_each)):
        events = events_of(name)[-EVENTS_KEPT:]
        if events:
            entry["events"] = [compact_event(e) for e in events]
        operations[name] = entry
    return {
        "schema": STATUS_SCHEMA,
        "version": STATUS_VERSION,
        "written_at": now,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "operations": operations,
    }


def _entry_of(op: Operation, now: float, rows_each: int) -> dict[str, Any]:
    detector = op.detector
    baseline: Baseline | None = op.baseline
    entry: dict[str, Any] = {
        "state": op.state_at(now),
        "calls": op.sample_count,
        "failures": op.failure_count,
        "slow_calls": op.degradation_count,
        "episodes": op.episodes,
    }
    if detector is not None and detector.degraded_signals:
        entry["signals"] = list(detector.degraded_signals)
    if baseline is not None:
        entry["baseline"] = {
            "p50": baseline.p50,
            "p95": baseline.p95,
            "p99": baseline.p99,
            "error_rate": baseline.error_rate,
            "sample_count": baseline.sample_count,
        }
    rows = op.timeline.rows(rows_each)
    if rows:
        entry["timeline"] = [
            [int(start), calls, failures, _short(p50), _short(p95), _short(p99)]
            for start, calls, failures, p50, p95, p99 in rows
        ]
    return entry


def timeline_rows(op: Operation) -> list[Row]:
    return op.timeline.rows()


def _short(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.4g}")


def compact_event(event: DegradationEvent) -> dict[str, Any]:
    ratio = event.effect_ratio
    return {
        "kind": event.kind,
        "signals": list(event.signals),
        "time": event.time,
        "started_at_time": event.started_at_time,
        "effect_ratio": ratio if ratio == ratio and abs(ratio) != float("inf") else None,
        "summary": event.describe(),
    }


# -- reading the records of many processes ------------------------------------------------


def checked_status(raw: object, source: str) -> dict[str, Any]:
    """A status record, validated in shape; ValueError says what is wrong."""
    if not isinstance(raw, dict) or raw.get("schema") != STATUS_SCHEMA:
        raise ValueError(f"{source} holds a status record that is not a {STATUS_SCHEMA} object")
    version = raw.get("version")
    if type(version) is not int or not 1 <= version <= STATUS_VERSION:
        raise ValueError(f"{source} holds a status record of version {version!r}")
    written = raw.get("written_at")
    if isinstance(written, bool) or not isinstance(written, (int, float)):
        raise ValueError(f"{source} holds a status record without a valid 'written_at'")
    operations = raw.get("operations")
    if not isinstance(operations, dict):
        raise ValueError(f"{source} holds a status record without operations")
    for name, entry in operations.items():
        if not isinstance(entry, dict) or entry.get("state") not in STATES:
            raise ValueError(f"{source} holds an invalid status for operation {name!r}")
        for key in ("calls", "failures", "slow_calls"):
            if type(entry.get(key, 0)) is not int:
                raise ValueError(f"{source} holds an invalid {key!r} for operation {name!r}")
        for key in ("timeline", "events", "signals"):
            if not isinstance(entry.get(key, []), list):
                raise ValueError(f"{source} holds an invalid {key!r} for operation {name!r}")
    return raw


def combine_statuses(
    records: Sequence[Mapping[str, Any]], baselines: Mapping[str, Baseline]
) -> dict[str, dict[str, Any]]:
    """Per operation, what every process's record says, as the operations of a report
    (the keys `perfguard report` and `check` read). State: the most telling state among
    the records at most FRESH_SECONDS older than the operation's newest (a process that
    exited long ago is history); counters summed; minutes merged (calls added,
    percentiles weighted by calls: an approximation across processes)."""
    by_name: dict[str, list[tuple[float, Mapping[str, Any]]]] = {}
    for record in records:
        for name, entry in record["operations"].items():
            by_name.setdefault(name, []).append((float(record["written_at"]), entry))
    result: dict[str, dict[str, Any]] = {}
    for name in sorted(set(by_name) | set(baselines)):
        result[name] = _combined_entry(name, by_name.get(name, []), baselines.get(name))
    return result


def _combined_entry(
    name: str, entries: list[tuple[float, Mapping[str, Any]]], stored: Baseline | None
) -> dict[str, Any]:
    newest = max((written for written, _ in entries), default=0.0)
    fresh = [entry for written, entry in entries if written >= newest - FRESH_SECONDS]
    states = {str(entry["state"]) for entry in fresh}
    state = next((s for s in STATES if s in states), "unknown")
    signals = sorted({str(s) for entry in fresh for s in entry.get("signals", [])})
    calls = sum(int(entry.get("calls", 0)) for _, entry in entries)
    failures = sum(int(entry.get("failures", 0)) for _, entry in entries)
    events = sorted(
        (e for _, entry in entries for e in entry.get("events", []) if isinstance(e, dict)),
        key=lambda e: float(e["time"]) if isinstance(e.get("time"), (int, float)) else 0.0,
    )
    timeline = merge_timelines([entry.get("timeline", []) for _, entry in entries])
    baseline = stored.public_dict() if stored is not None else _reported_baseline(fresh)
    last = timeline[-1] if timeline else None
    return {
        "operation": name,
        "state": state,
        "sample_count": calls,
        "failure_count": failures,
        "error_rate": failures / calls if calls else None,
        "degradation_count": sum(int(entry.get("slow_calls", 0)) for _, entry in entries),
        "baseline": baseline,
        "recent_p50": last[3] if last else None,
        "recent_p95": last[4] if last else None,
        "recent_p99": last[5] if last else None,
        "recent_error_rate": last[2] / last[1] if last and last[1] else None,
        "degraded_signals": signals,
        "events": events[-2 * EVENTS_KEPT :],
        "timeline": timeline,
        "processes": len(entries),
        "updated_at": newest or None,
    }


def _reported_baseline(entries: list[Mapping[str, Any]]) -> dict[str, Any] | None:
    for entry in entries:
        if isinstance(entry.get("baseline"), dict):
            return dict(entry["baseline"])
    return None


def merge_timelines(timelines: Sequence[object]) -> list[list[Any]]:
    """Rows [start, calls, failures, p50, p95, p99] of several processes, one per minute."""
    minutes: dict[float, list[Any]] = {}
    weights: dict[float, list[float]] = {}
    for rows in timelines:
        for row in rows if isinstance(rows, list) else []:
            if not _valid_row(row):
                continue
            start, calls, failures = float(row[0]), int(row[1]), int(row[2])
            merged = minutes.setdefault(start, [start, 0, 0, None, None, None])
            sums = weights.setdefault(start, [0.0, 0.0, 0.0, 0.0])
            merged[1] += calls
            merged[2] += failures
            weight = float(max(calls - failures, 0))
            if row[3] is not None and weight:
                sums[0] += weight
                for index in (3, 4, 5):
                    sums[index - 2] += weight * float(row[index])
    result = []
    for start in sorted(minutes):
        merged, sums = minutes[start], weights[start]
        if sums[0]:
            merged[3:6] = [sums[1] / sums[0], sums[2] / sums[0], sums[3] / sums[0]]
        result.append(merged)
    return result


def _valid_row(row: object) -> bool:
    if not isinstance(row, list) or len(row) != 6:
        return False
    numbers = [v for v in row if v is not None]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
        return False
    if any(v is None for v in row[:3]):
        return False
    return all(v is not None for v in row[3:]) or all(v is None for v in row[3:])
