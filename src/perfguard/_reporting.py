"""The JSON report of a tracker (`tracker.report()`), read by `perfguard check` and
`perfguard report`: every operation's figures, recent durations, events and latency per
minute; and the status record the tracker's store keeps for the same commands."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._alerting import Alerting
from ._config import TrackerConfig
from ._events import DegradationEvent
from ._persistence import Persistence, retention_cutoff
from ._registry import OperationRegistry
from ._status import build_status, timeline_rows
from ._stores.files import write_atomically
from ._timeline import Row
from ._views import OperationStats
from .types import Clock

REPORT_SCHEMA = "perfguard.report"
REPORT_VERSION = 1


class Reporting:
    """Mixed into PerformanceTracker (which owns these parts): reports and the store's
    status record."""

    _registry: OperationRegistry
    _alerting: Alerting
    _persistence: Persistence
    _clock: Clock
    config: TrackerConfig

    def stats(self, name: str) -> OperationStats:
        raise NotImplementedError  # PerformanceTracker's

    def durations_since(self, name: str, since: int) -> tuple[list[float], int, int]:
        raise NotImplementedError  # PerformanceTracker's

    def report(self) -> dict[str, Any]:
        """Everything a report or a CI check needs, JSON-ready (see `perfguard report`)."""
        registry = self._registry
        return build_report(
            registry.names(),
            self.stats,
            lambda name: self.durations_since(name, 0)[0],
            self._alerting.events,
            self._clock.wall(),
            lambda name: registry.absorbed(registry.lookup(name), timeline_rows),
        )

    def write_report(self, path: str | os.PathLike[str]) -> None:
        """Write report() as JSON, atomically."""
        write_report_file(self.report(), Path(path))

    def background_save(self) -> None:
        """The background saver's save: the status record only when it is due."""
        cutoff = retention_cutoff(self.config.retention_seconds, self._clock)
        self._persistence.save(self._registry, cutoff, self._status_record, background=True)

    def status_stale(self) -> bool:
        """Whether calls were recorded since the store's status record was written."""
        return self._persistence.status_stale(self._registry)

    def _status_record(self) -> dict[str, Any]:
        return build_status(self._registry, self._alerting.events, self._clock.wall())


def build_report(
    names: list[str],
    stats: Callable[[str], OperationStats],
    durations: Callable[[str], list[float]],
    events: Callable[[str], list[DegradationEvent]],
    generated_at: float,
    timeline: Callable[[str], list[Row]] | None = None,
) -> dict[str, Any]:
    operations: dict[str, dict[str, Any]] = {}
    for name in names:
        entry: dict[str, Any] = dict(stats(name))
        entry["recent_durations"] = [round(d, 9) for d in durations(name)]
        entry["events"] = [event_dict(e) for e in events(name)]
        if timeline is not None:
            # latency per minute of wall time: [start, calls, failures, p50, p95, p99]
            entry["timeline"] = [list(row) for row in timeline(name)]
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
