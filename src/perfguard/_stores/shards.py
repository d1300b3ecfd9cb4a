"""One host, many processes: per-process shard files, combined into one baseline file.

Layout of a store folder:

    baselines.json        the combined sketches (schema perfguard.combined)
    baselines.json.bak    the previous combined file, kept by every combine
    shards/<id>.<seq>.json  one file per flush of one process: the samples it recorded
                          since its previous flush (schema perfguard.shard, checksummed)
    quarantine/           shards that could not be read, set aside with a warning
    combine.lock          taken (flock) by whoever combines

Why deltas with sequence numbers: a process only ever writes its own files (atomically),
so writers never contend. The combined file records, per shard identity, the highest
sequence merged; a combine that crashes after writing the combined file but before
deleting the shards finds them already merged on the rerun and only deletes them, so
nothing is counted twice. An identity is host, pid, start time and a random part, so a
reused pid cannot collide, and a forked child takes a new identity (its parent's unsent
samples stay the parent's to send).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import _hooks
from .._baseline import Baseline
from .._clock import SYSTEM_CLOCK
from .._errors import IncompatibleStorageError, StorageError
from .._sketch import LogSketch, SketchDelta
from .files import (
    locked,
    locked_if_free,
    pid_alive,
    remove_abandoned_temp_files,
    set_aside,
    write_atomically,
)
from .formats import (
    baseline_from_sketch,
    check_schema,
    checked_operations,
    checksum_of,
    delta_of,
    entry_dict,
    json_object,
    time_field,
)
from .identity import new_identity
from .outbox import Outbox

logger = logging.getLogger("perfguard")

SHARD_SCHEMA = "perfguard.shard"
COMBINED_SCHEMA = "perfguard.combined"
SCHEMA_VERSION = 1


@dataclass
class CombineReport:
    """What a combine did, for the CLI and for tests."""

    merged: list[str] = field(default_factory=list)
    already_merged: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    operations: int = 0


class ShardStore:
    """A folder shared by the processes of one host. Pass it as `storage=`."""

    mergeable = True
    keeps_unsent = True  # a failed flush is kept and replayed first (_outbox)

    def __init__(
        self, folder: str | os.PathLike[str], scale: int = 6, *, fold_every: float | None = 30.0
    ) -> None:
        self.folder = Path(folder)
        self.scale = scale
        # shards fold themselves: a process that flushed combines every pending shard
        # (its own, other live ones', dead ones') at most every `fold_every` seconds,
        # when no other process is combining; None leaves it to `perfguard combine`
        self.fold_every = fold_every
        self._last_fold = SYSTEM_CLOCK.perf()
        self._identity = new_identity()
        self._outbox = Outbox()
        _hooks.after_fork_in_child.register(self, ShardStore._forked)

    @property
    def location(self) -> str:
        return str(self.folder)

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def combined_path(self) -> Path:
        return self.folder / "baselines.json"

    def _forked(self) -> None:
        self._identity = new_identity()
        self._outbox.reset()

    # -- reading -------------------------------------------------------------------------

    def load(self) -> dict[str, Baseline]:
        """Baselines from the combined file ({} when there is none yet)."""
        combined = self._read_combined()
        return {n: e.to_baseline() for n, e in combined.operations.items() if e.sketch.count}

    def _read_combined(self) -> _Combined:
        path = self.combined_path
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return _Combined()
        except OSError as exc:
            raise StorageError(str(path), f"cannot be read ({exc.strerror or exc})") from exc
        try:
            return _Combined.parse(raw, str(path))
        except IncompatibleStorageError:
            raise
        except ValueError as exc:
            return self._recover_combined(path, str(exc))

    def _recover_combined(self, path: Path, reason: str) -> _Combined:
        """Set a damaged combined file aside (never overwrite it) and fall back on the
        previous version. Shards merged since that version are merged again only if
        they are still there; the merged-sequence record of the backup decides."""
        if set_aside(path, reason, what="combined file") is None:
            raise StorageError(str(path), f"{reason}, and it could not be moved aside")
        backup = path.with_name(path.name + ".bak")
        try:
            combined = _Combined.parse(backup.read_bytes(), str(backup))
        except (OSError, ValueError):
            return _Combined()
        logger.warning("perfguard combined file %s: using the previous version %s", path, backup)
        return combined

    # -- writing a shard -----------------------------------------------------------------

    def save_deltas(self, deltas: Mapping[str, SketchDelta]) -> int:
        """Write this process's next shard(s): a shard that could not be written before
        is written first, under its own sequence. Returns how many were written."""
        self._outbox.add(deltas)
        written = self._outbox.send(self._write_shard)
        if self.fold_every is not None:
            now = SYSTEM_CLOCK.perf()
            if now - self._last_fold >= self.fold_every:
                self._last_fold = now
                try:
                    self.combine(wait=False)
                except (OSError, StorageError) as exc:  # the shard is written: a later try
                    logger.warning("perfguard could not fold %s: %s", self.folder, exc)
        return written

    def _write_shard(self, sequence: int, deltas: Mapping[str, SketchDelta]) -> Path:
        operations = {name: entry_dict(delta) for name, delta in deltas.items()}
        body = {
            "schema": SHARD_SCHEMA,
            "version": SCHEMA_VERSION,
            "identity": self._identity,
            "sequence": sequence,
            "written_at": SYSTEM_CLOCK.wall(),
            "operations": operations,
        }
        body["checksum"] = checksum_of(operations)
        folder = self.folder / "shards"
        path = folder / f"{self._identity}.{sequence:09d}.json"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_atomically(path, json.dumps(body, allow_nan=False).encode("utf-8"))
        except (OSError, StorageError) as exc:
            raise StorageError(str(path), f"cannot be written ({exc})") from exc
        return path

    # -- the status record (_status.py) ---------------------------------------------------

    def save_status(self, status: Mapping[str, Any]) -> None:
        """Replace this process's status record, `status/<identity>.json`; records of
        processes of this host that exited over STATUS_KEPT seconds ago are removed."""
        folder = self.folder / "status"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            payload = json.dumps(status, allow_nan=False, separators=(",", ":"))
            write_atomically(folder / f"{self._identity}.json", payload.encode("utf-8"))
        except (OSError, ValueError, StorageError) as exc:
            raise StorageError(str(folder), f"status cannot be written ({exc})") from exc
        remove_exited_statuses(folder, self._identity)

    # -- combining -----------------------------------------------------------------------

    def combine(
        self, progress: Callable[[int, int], None] | None = None, *, wait: bool = True
    ) -> CombineReport:
        """Merge every shard into the combined file, once, under the folder's lock.
        `progress(done, total)` is called as shards are read (for long combines).
        wait=False: do nothing (an empty report) when another process is combining."""
        self.folder.mkdir(parents=True, exist_ok=True)
        lock = self.folder / "combine.lock"
        if wait:
            with locked(lock):
                return self._combine_locked(progress)
        with locked_if_free(lock) as held:
            return self._combine_locked(progress) if held else CombineReport()

    def _combine_locked(self, progress: Callable[[int, int], None] | None) -> CombineReport:
        report = CombineReport()
        remove_abandoned_temp_files(self.folder / "shards")
        combined = self._read_combined()
        shards = sorted((self.folder / "shards").glob("*.json"))
        merged_paths: list[Path] = []
        for done, path in enumerate(shards, 1):
            if progress is not None:
                progress(done, len(shards))
            try:
                shard = _Shard.parse(path.read_bytes(), str(path))
            except (OSError, ValueError) as exc:
                set_aside(path, str(exc), what="shard", into=self.folder / "quarantine")
                report.quarantined.append(path.name)
                continue
            if shard.sequence <= combined.merged.get(shard.identity, 0):
                report.already_merged.append(path.name)
                merged_paths.append(path)
                continue
            combined.absorb(shard)
            report.merged.append(path.name)
            merged_paths.append(path)
        if report.merged:
            if self.combined_path.exists():
                previous = self.combined_path.read_bytes()
                write_atomically(self.folder / "baselines.json.bak", previous)
            write_atomically(self.combined_path, combined.render())
        for path in merged_paths:  # only once the combined file holds them
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        report.operations = len(combined.operations)
        return report


@dataclass
class _Entry:
    sketch: LogSketch
    failures: int
    established_at: float
    updated_at: float
    last_seen_at: float

    def to_baseline(self) -> Baseline:
        return baseline_from_sketch(
            self.sketch,
            self.failures,
            established_at=self.established_at,
            updated_at=self.updated_at,
            last_seen_at=self.last_seen_at,
        )


@dataclass
class _Shard:
    identity: str
    sequence: int
    operations: dict[str, SketchDelta]

    @classmethod
    def parse(cls, raw: bytes, source: str) -> _Shard:
        document = json_object(raw)
        check_schema(document, SHARD_SCHEMA, SCHEMA_VERSION, source)
        identity = document.get("identity")
        sequence = document.get("sequence")
        if not isinstance(identity, str) or not identity:
            raise ValueError("has no identity")
        if type(sequence) is not int or sequence < 1:
            raise ValueError(f"has an invalid sequence {sequence!r}")
        operations = checked_operations(document)
        parsed = {name: delta_of(name, raw_entry) for name, raw_entry in operations.items()}
        return cls(identity, sequence, parsed)


@dataclass
class _Combined:
    operations: dict[str, _Entry] = field(default_factory=dict)
    merged: dict[str, int] = field(default_factory=dict)

    def absorb(self, shard: _Shard) -> None:
        now = SYSTEM_CLOCK.wall()
        for name, delta in shard.operations.items():
            entry = self.operations.get(name)
            if entry is None:
                entry = _Entry(LogSketch(delta.sketch.scale), 0, now, now, 0.0)
                self.operations[name] = entry
            if delta.sketch.scale >= entry.sketch.scale:
                entry.sketch.merge_in(delta.sketch)  # in place, no copy
            else:
                entry.sketch = entry.sketch.merged(delta.sketch)
            entry.failures += delta.failures
            entry.updated_at = now
            entry.last_seen_at = max(entry.last_seen_at, delta.last_seen_at)
        self.merged[shard.identity] = shard.sequence

    def render(self) -> bytes:
        operations = {
            name: {
                **entry_dict(SketchDelta(e.sketch, e.failures, e.last_seen_at)),
                "established_at": e.established_at,
                "updated_at": e.updated_at,
            }
            for name, e in sorted(self.operations.items())
        }
        body = {
            "schema": COMBINED_SCHEMA,
            "version": SCHEMA_VERSION,
            "merged": dict(sorted(self.merged.items())),
            "operations": operations,
            "checksum": checksum_of(operations),
        }
        return json.dumps(body, allow_nan=False).encode("utf-8")

    @classmethod
    def parse(cls, raw: bytes, source: str) -> _Combined:
        document = json_object(raw)
        check_schema(document, COMBINED_SCHEMA, SCHEMA_VERSION, source)
        merged = document.get("merged")
        if not isinstance(merged, dict) or not all(
            type(v) is int and v >= 0 for v in merged.values()
        ):
            raise ValueError("has an invalid 'merged' record")
        operations = checked_operations(document)
        result = cls(merged=dict(merged))
        for name, raw_entry in operations.items():
            delta = delta_of(name, raw_entry)
            result.operations[name] = _Entry(
                delta.sketch,
                delta.failures,
                time_field(raw_entry, "established_at"),
                time_field(raw_entry, "updated_at"),
                delta.last_seen_at,
            )
        return result


STATUS_KEPT = 3600.0  # seconds a status record outlives its process (same host)


def remove_exited_statuses(folder: Path, mine: str) -> None:
    """Status records of exited processes of this host, older than STATUS_KEPT."""
    host = new_identity().rsplit("-", 3)[0]
    now = SYSTEM_CLOCK.wall()
    for path in folder.glob("*.json"):
        parts = path.stem.rsplit("-", 3)
        if path.stem == mine or len(parts) != 4 or parts[0] != host or not parts[1].isdigit():
            continue
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > STATUS_KEPT and not pid_alive(int(parts[1])):
                path.unlink()


def read_statuses(folder: Path) -> list[tuple[str, bytes]]:
    """(path, bytes) of every status record in a store folder."""
    found = []
    for path in sorted((folder / "status").glob("*.json")):
        with contextlib.suppress(FileNotFoundError):
            found.append((str(path), path.read_bytes()))
    return found


def combined_baselines(raw: bytes, source: str) -> dict[str, Baseline]:
    """The baselines a combined file holds (ValueError says what is wrong with it)."""
    combined = _Combined.parse(raw, source)
    return {n: e.to_baseline() for n, e in combined.operations.items() if e.sketch.count}
