"""The JSON report of a tracker (`tracker.report()`), read by `perfguard check` and
`perfguard report`: every operation's figures, recent durations and events."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._events import DegradationEvent
from ._stores.files import write_atomically
from ._views import OperationStats

REPORT_SCHEMA = "perfguard.report"
REPORT_VERSION = 1


def build_report(
    names: list[str],
    stats: Callable[[str], OperationStats],
    durations: Callable[[str], list[float]],
    events: Callable[[str], list[DegradationEvent]],
    generated_at: float,
) -> dict[str, Any]:
    operations: dict[str, dict[str, Any]] = {}
    for name in names:
        entry: dict[str, Any] = dict(stats(name))
        entry["recent_durations"] = [round(d, 9) for d in durations(name)]
        entry["events"] = [event_dict(e) for e in events(name)]
        operations[name] = entry
    return {
        "schema": REPORT_SCHEMA,
        "version": REPORT_VERSION,
        "generated_at": generated_at,
        "operations": operations,
    }


def write_report_file(report: dict[str, Any], path: Path) -> None:
    """Write a report as JSON, atomically."""
    payload = json.dumps(report, allow_nan=False, ensure_ascii=True, default=repr).encode()
    write_atomically(path, payload)


def event_dict(event: DegradationEvent) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "signals": list(event.signals),
        "time": event.time,
        "sample_index": event.sample_index,
        "started_at_sample": event.started_at_sample,
        "started_at_time": event.started_at_time,
        "effect_ratio": event.effect_ratio if math.isfinite(event.effect_ratio) else None,
        "summary": event.describe(),
    }
