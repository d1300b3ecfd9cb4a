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
import fcntl
import json
import logging
import math
import os
import secrets
import socket
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._baseline import Baseline
from ._errors import IncompatibleStorageError, StorageError
from ._json_store import check_schema, checksum_of, json_object, write_atomically
from ._outbox import Outbox
from ._sketch import LogSketch, SketchDelta, SketchError

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

    def __init__(self, folder: str | os.PathLike[str], scale: int = 6) -> None:
        self.folder = Path(folder)
        self.scale = scale
        self._identity = new_identity()
        self._outbox = Outbox()
        _register_for_fork(self)

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

    def save(self, baselines: Mapping[str, Baseline]) -> None:
        """Baselines are not stored here: a shard store is fed deltas (save_deltas)."""

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
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}-{secrets.token_hex(3)}")
        os.replace(path, aside)
        backup = path.with_name(path.name + ".bak")
        try:
            combined = _Combined.parse(backup.read_bytes(), str(backup))
        except (OSError, ValueError):
            logger.warning("perfguard combined file %s %s; moved to %s", path, reason, aside)
            return _Combined()
        logger.warning(
            "perfguard combined file %s %s; moved to %s, using %s", path, reason, aside, backup
        )
        return combined

    # -- writing a shard -----------------------------------------------------------------

    def save_deltas(self, deltas: Mapping[str, SketchDelta]) -> int:
        """Write this process's next shard(s): a shard that could not be written before
        is written first, under its own sequence. Returns how many were written."""
        self._outbox.add(deltas)
        return self._outbox.send(self._write_shard)

    def _write_shard(self, sequence: int, deltas: Mapping[str, SketchDelta]) -> Path:
        operations = {name: _entry_dict(delta) for name, delta in deltas.items()}
        body = {
            "schema": SHARD_SCHEMA,
            "version": SCHEMA_VERSION,
            "identity": self._identity,
            "sequence": sequence,
            "written_at": time.time(),
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

    # -- combining -----------------------------------------------------------------------

    def combine(self, progress: Callable[[int, int], None] | None = None) -> CombineReport:
        """Merge every shard into the combined file, once, under the folder's lock.
        `progress(done, total)` is called as shards are read (for long combines)."""
        report = CombineReport()
        self.folder.mkdir(parents=True, exist_ok=True)
        with _locked(self.folder / "combine.lock"):
            combined = self._read_combined()
            shards = sorted((self.folder / "shards").glob("*.json"))
            merged_paths: list[Path] = []
            for done, path in enumerate(shards, 1):
                if progress is not None:
                    progress(done, len(shards))
                try:
                    shard = _Shard.parse(path.read_bytes(), str(path))
                except (OSError, ValueError) as exc:
                    self._quarantine(path, str(exc))
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

    def _quarantine(self, path: Path, reason: str) -> None:
        target_folder = self.folder / "quarantine"
        target_folder.mkdir(parents=True, exist_ok=True)
        target = target_folder / path.name
        os.replace(path, target)
        logger.warning("perfguard shard %s %s; moved to %s", path, reason, target)


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
        operations = document.get("operations")
        if not isinstance(operations, dict):
            raise ValueError("has no 'operations' object")
        if document.get("checksum") != checksum_of(operations):
            raise ValueError("fails its checksum (edited or damaged)")
        parsed = {name: _delta_of(name, raw_entry) for name, raw_entry in operations.items()}
        return cls(identity, sequence, parsed)


@dataclass
class _Combined:
    operations: dict[str, _Entry] = field(default_factory=dict)
    merged: dict[str, int] = field(default_factory=dict)

    def absorb(self, shard: _Shard) -> None:
        now = time.time()
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
                **_entry_dict(SketchDelta(e.sketch, e.failures, e.last_seen_at)),
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
        operations = document.get("operations")
        if not isinstance(merged, dict) or not all(
            type(v) is int and v >= 0 for v in merged.values()
        ):
            raise ValueError("has an invalid 'merged' record")
        if not isinstance(operations, dict):
            raise ValueError("has no 'operations' object")
        if document.get("checksum") != checksum_of(operations):
            raise ValueError("fails its checksum (edited by hand or damaged)")
        result = cls(merged=dict(merged))
        for name, raw_entry in operations.items():
            delta = _delta_of(name, raw_entry)
            result.operations[name] = _Entry(
                delta.sketch,
                delta.failures,
                _time_field(raw_entry, "established_at"),
                _time_field(raw_entry, "updated_at"),
                delta.last_seen_at,
            )
        return result


def combined_baselines(raw: bytes, source: str) -> dict[str, Baseline]:
    """The baselines a combined file holds (ValueError says what is wrong with it)."""
    combined = _Combined.parse(raw, source)
    return {n: e.to_baseline() for n, e in combined.operations.items() if e.sketch.count}


def baseline_from_sketch(
    sketch: LogSketch,
    failures: int,
    *,
    established_at: float,
    updated_at: float,
    last_seen_at: float,
) -> Baseline:
    """A baseline from merged sketches: percentiles within the sketch's relative error,
    mean and std exact (Chan's formula), error rate exact."""
    p25, p50, p75 = (sketch.quantile(q) for q in (0.25, 0.5, 0.75))
    log_scale = (math.log(p75) - math.log(p25)) / 1.349 if p25 > 0 else 0.0
    return Baseline(
        p50=p50,
        p75=p75,
        p95=sketch.quantile(0.95),
        p99=sketch.quantile(0.99),
        mean=sketch.mean,
        std=math.sqrt(sketch.variance),
        sample_count=sketch.count,
        error_rate=failures / (sketch.count + failures),
        log_scale=log_scale,
        established_at=established_at,
        updated_at=updated_at,
        last_seen_at=last_seen_at,
    )


def _entry_dict(delta: SketchDelta) -> dict[str, Any]:
    return {
        "sketch": delta.sketch.to_dict(),
        "failures": delta.failures,
        "last_seen_at": delta.last_seen_at,
    }


def _delta_of(name: object, raw: object) -> SketchDelta:
    if not isinstance(name, str) or not name:
        raise ValueError(f"has an invalid operation name {name!r}")
    if not isinstance(raw, dict):
        raise ValueError(f"has an invalid entry for {name!r}")
    failures = raw.get("failures")
    if type(failures) is not int or failures < 0:
        raise ValueError(f"has an invalid failure count for {name!r}: {failures!r}")
    try:
        sketch = LogSketch.from_dict(raw.get("sketch"))  # type: ignore[arg-type]
    except SketchError as exc:
        raise ValueError(f"has an invalid sketch for {name!r}: {exc}") from exc
    return SketchDelta(sketch, failures, _time_field(raw, "last_seen_at"))


def _time_field(raw: Mapping[str, Any], name: str) -> float:
    value = raw.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"has an invalid {name!r}: {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"has an invalid {name!r}: {value!r}")
    return number


def new_identity() -> str:
    host = "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname())[:40]
    return f"{host or 'host'}-{os.getpid()}-{int(time.time())}-{secrets.token_hex(4)}"


_stores_to_renew: weakref.WeakSet[ShardStore] = weakref.WeakSet()
_fork_hook_registered = False


def _register_for_fork(store: ShardStore) -> None:
    """One fork hook for all stores (held weakly), not one per store: a child process
    gives every store a new identity."""
    global _fork_hook_registered
    _stores_to_renew.add(store)
    if not _fork_hook_registered:
        os.register_at_fork(after_in_child=_renew_after_fork)
        _fork_hook_registered = True


def _renew_after_fork() -> None:
    for store in list(_stores_to_renew):
        store._forked()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)
