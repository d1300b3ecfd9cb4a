"""What the commands read: any TARGET, as one view (the operations of a report).

A TARGET is a baseline file (`.json`, `.json.gz`, shared by several processes or not),
a shard folder (or its `baselines.json`), a Redis URL (`redis://`, `rediss://`,
`unix://`; shown redacted, as the store shows it) or a report file
(`tracker.write_report`). The stores' status records (_status.py) give each operation
its state, events and latency per minute; a store written before them gives baselines
only (state "unknown"). Reading never changes a store: nothing is set aside or combined.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._baseline import Baseline
from .._clock import SYSTEM_CLOCK
from .._errors import PerfguardError
from .._status import checked_status, combine_statuses
from .._stores import REDIS_SCHEMES
from .._stores.formats import SCHEMA_NAME, CorruptFileError, json_object, parse_shared_document
from .._stores.shards import COMBINED_SCHEMA, combined_baselines, read_statuses

REPORT_SCHEMA = "perfguard.report"
_REPORT_STATES = ("learning", "ok", "degraded", "idle")


class TargetError(Exception):
    """A target that cannot be read: one line for stderr."""


@dataclass
class View:
    """What one target holds, as a report's operations."""

    source: str
    kind: str  # "report", "baseline file", "shard folder", "redis fleet"
    generated_at: float
    operations: dict[str, dict[str, Any]]
    baselines: dict[str, Baseline] | None = None  # None for a report
    processes: int = 0  # status records read
    document: dict[str, Any] = field(default_factory=dict)

    def as_report(self) -> dict[str, Any]:
        return {
            "schema": REPORT_SCHEMA,
            "version": 1,
            "generated_at": self.generated_at,
            "source": self.source,
            "kind": self.kind,
            "operations": self.operations,
        }

    def degraded(self) -> list[str]:
        """Degraded operations; one idle in the middle of an episode is still degraded."""
        return sorted(
            name
            for name, s in self.operations.items()
            if s.get("state") == "degraded"
            or (s.get("state") == "idle" and s.get("degraded_signals"))
        )


def open_target(text: str) -> View:
    """The view of one target; TargetError (one line) when it cannot be read."""
    if text.startswith(REDIS_SCHEMES):
        return _redis_view(text)
    path = Path(text)
    if path.is_dir():
        return _folder_view(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TargetError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return _file_view(path, raw)
    except (CorruptFileError, ValueError) as exc:
        raise TargetError(f"{path} {exc}") from None
    except PerfguardError as exc:
        raise TargetError(str(exc)) from None


def _file_view(path: Path, raw: bytes) -> View:
    schema = _schema_of(raw)
    if schema == REPORT_SCHEMA:
        return _report_view(path, raw)
    if schema == COMBINED_SCHEMA:
        folder = path.parent
        return _store_view(str(path), "shard folder", combined_baselines(raw, str(path)),
                           _folder_statuses(folder))  # fmt: skip
    if schema != SCHEMA_NAME and raw[:2] != b"\x1f\x8b":
        raise TargetError(
            f"{path} is not a perfguard report, baseline file or shard folder "
            "(write a report with tracker.write_report(path))"
        )
    baselines, parts = parse_shared_document(
        raw, compressed=path.name.endswith(".gz"), source=str(path)
    )
    records = []
    for identity, part in sorted(parts.items()):
        status = part.get("status") if isinstance(part, dict) else None
        if status is not None:
            records.append(checked_status(status, f"{path} (contribution {identity})"))
    return _store_view(str(path), "baseline file", baselines, records)


def _schema_of(raw: bytes) -> object:
    try:
        return json_object(raw).get("schema")
    except ValueError:
        return None


def _folder_view(folder: Path) -> View:
    combined = folder / "baselines.json"
    known = [p for p in (combined, folder / "shards", folder / "status") if p.exists()]
    if not known:
        raise TargetError(f"{folder} is not a perfguard store folder (no baselines.json, "
                          "shards/ or status/ in it)")  # fmt: skip
    baselines: dict[str, Baseline] = {}
    if combined.exists():
        try:
            baselines = combined_baselines(combined.read_bytes(), str(combined))
        except (OSError, ValueError) as exc:
            raise TargetError(f"{combined} {exc}") from None
        except PerfguardError as exc:
            raise TargetError(str(exc)) from None
    return _store_view(str(folder), "shard folder", baselines, _folder_statuses(folder))


def _folder_statuses(folder: Path) -> list[dict[str, Any]]:
    records = []
    for source, raw in read_statuses(folder):
        try:
            records.append(checked_status(json_object(raw), source))
        except ValueError as exc:
            raise TargetError(str(exc) if source in str(exc) else f"{source} {exc}") from None
    return records


def _redis_view(url: str) -> View:
    try:
        from .._stores.redis_fleet import RedisStore
    except ImportError as exc:
        raise TargetError(str(exc)) from None
    try:
        store = RedisStore(url)
        baselines = store.load()
        texts = store.statuses()
    except PerfguardError as exc:  # the store's messages show the redacted URL
        raise TargetError(str(exc)) from None
    records = []
    for identity, text in texts:
        try:
            records.append(checked_status(json_object(text.encode("utf-8")), identity))
        except ValueError as exc:
            raise TargetError(f"{store.url}: {exc}") from None
    return _store_view(store.url, "redis fleet", baselines, records)


def _store_view(
    source: str, kind: str, baselines: dict[str, Baseline], records: list[dict[str, Any]]
) -> View:
    operations = combine_statuses(records, baselines)
    newest = max((float(r["written_at"]) for r in records), default=0.0)
    return View(
        source=source,
        kind=kind,
        generated_at=newest or SYSTEM_CLOCK.wall(),
        operations=operations,
        baselines=baselines,
        processes=len(records),
    )


def _report_view(path: Path, raw: bytes) -> View:
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise TargetError(f"cannot read report {path}: {exc}") from None
    problem = report_problem(document)
    if problem is not None:
        raise TargetError(f"{path} is a damaged report: {problem}")
    generated = document.get("generated_at")
    return View(
        source=str(path),
        kind="report",
        generated_at=float(generated) if isinstance(generated, (int, float)) else 0.0,
        operations=document["operations"],
        document=document,
    )


def report_problem(document: Mapping[str, Any]) -> str | None:
    """What makes a report unusable (None: nothing): the fields check and report read."""
    operations = document.get("operations")
    if not isinstance(operations, dict):
        return "'operations' is not an object"
    for name, stats in operations.items():
        if not isinstance(stats, dict):
            return f"operation {name!r} is not an object"
        if stats.get("state") not in _REPORT_STATES:
            return f"operation {name!r} has the state {stats.get('state')!r}"
        events = stats.get("events", [])
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            return f"operation {name!r} has events that are not a list of objects"
        if not isinstance(stats.get("degraded_signals", []), list):
            return f"operation {name!r} has degraded_signals that are not a list"
        if not isinstance(stats.get("timeline", []), list):
            return f"operation {name!r} has a timeline that is not a list"
    return None
