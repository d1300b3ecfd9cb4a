"""The default baseline store: one JSON file (gzip-compressed when it ends in ".gz").

Writes are atomic: a temporary file in the same folder, fsync, `os.replace`, fsync of the
folder, so a crash leaves either the old or the new complete file. A file that cannot be
parsed is moved aside (never overwritten before it was read) with one warning naming it.
A file written by a newer schema is refused and left untouched.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import logging
import os
import secrets
import time
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._baseline import Baseline
from ._errors import IncompatibleStorageError, StorageError

SCHEMA_NAME = "perfguard.baselines"
SCHEMA_VERSION = 2  # 2 added the checksum; version 1 files are read and migrated
_TEMP_MARKER = ".tmp-"

logger = logging.getLogger("perfguard")


class CorruptFileError(ValueError):
    """The file's content is not a baseline file of a known schema."""


class JsonFileStore:
    """Baselines in one JSON file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)

    @property
    def location(self) -> str:
        return str(self._path)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def compressed(self) -> bool:
        return self._path.name.endswith(".gz")

    # -- reading -------------------------------------------------------------------------

    def load(self) -> dict[str, Baseline]:
        """The stored baselines; {} when the file is missing or had to be set aside."""
        self._remove_stray_temp_files()
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            self._set_aside(f"cannot be read ({exc.strerror or exc})")
            return {}
        try:
            return parse_document(raw, compressed=self.compressed, source=self.location)
        except CorruptFileError as exc:
            self._set_aside(str(exc))
            return self._load_backup()

    @property
    def backup_path(self) -> Path:
        return self._path.with_name(self._path.name + ".bak")

    def _load_backup(self) -> dict[str, Baseline]:
        """After setting a corrupt file aside: the previous version, when it is sound."""
        try:
            raw = self.backup_path.read_bytes()
            baselines = parse_document(
                raw, compressed=self.compressed, source=str(self.backup_path)
            )
        except (OSError, CorruptFileError, IncompatibleStorageError):
            return {}
        logger.warning(
            "perfguard baseline file %s: using the previous version from %s",
            self.location,
            self.backup_path,
        )
        return baselines

    def _set_aside(self, reason: str) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        aside = self._path.with_name(f"{self._path.name}.corrupt-{stamp}-{secrets.token_hex(3)}")
        try:
            os.replace(self._path, aside)
        except OSError as exc:
            logger.warning(
                "perfguard baseline file %s %s; starting fresh, and it could not be moved "
                "aside (%s)",
                self.location,
                reason,
                exc.strerror or exc,
            )
            return
        logger.warning(
            "perfguard baseline file %s %s; moved aside to %s",
            self.location,
            reason,
            aside,
        )

    def _remove_stray_temp_files(self) -> None:
        """Remove temp files left by a writer that crashed (its pid is gone)."""
        folder = self._path.parent
        prefixes = (
            f".{self._path.name}{_TEMP_MARKER}",
            f".{self.backup_path.name}{_TEMP_MARKER}",
        )
        try:
            candidates = [p for p in folder.iterdir() if p.name.startswith(prefixes)]
        except OSError:
            return
        for candidate in candidates:
            pid_text = candidate.name.rsplit(_TEMP_MARKER, 1)[1].split(".", 1)[0]
            if pid_text.isdigit() and _pid_alive(int(pid_text)):
                continue
            with contextlib.suppress(OSError):
                candidate.unlink()

    # -- writing -------------------------------------------------------------------------

    def save(self, baselines: Mapping[str, Baseline]) -> None:
        """Write every baseline atomically; raises StorageError naming the path."""
        payload = self.render(baselines)
        with contextlib.suppress(OSError):  # no file yet, or an unusable folder (below)
            current = self._path.read_bytes()
            # keep the previous version, but only a sound one: never back up a file we
            # could not read (it was set aside at load, or is being written by hand)
            with contextlib.suppress(CorruptFileError, IncompatibleStorageError, StorageError):
                parse_document(current, compressed=self.compressed, source=self.location)
                # a backup that cannot be written is no reason to fail; the main write
                # below reports a full disk or a read-only folder by the file's own name
                write_atomically(self.backup_path, current)
        write_atomically(self._path, payload)

    def render(self, baselines: Mapping[str, Baseline]) -> bytes:
        return render_document(baselines, compressed=self.compressed)


def write_atomically(path: Path, payload: bytes) -> None:
    """Replace `path` with `payload`: a crash leaves the old or the new file, whole.

    A temporary file in the same folder (named after the writer's pid, so a later start
    can tell a crashed writer's leftovers), fsync, os.replace, fsync of the folder.
    Raises StorageError naming the path; the old file is then untouched.
    """
    folder = path.parent
    temp = folder / f".{path.name}{_TEMP_MARKER}{os.getpid()}.{secrets.token_hex(4)}"
    try:
        descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise StorageError(str(path), f"cannot be written ({exc.strerror or exc})") from exc
    _fsync_folder(folder)


def render_document(baselines: Mapping[str, Baseline], *, compressed: bool = False) -> bytes:
    operations = {name: baselines[name].to_dict() for name in sorted(baselines)}
    document = {
        "schema": SCHEMA_NAME,
        "version": SCHEMA_VERSION,
        "saved_at": time.time(),
        "operations": operations,
        "checksum": checksum_of(operations),
    }
    # ensure_ascii: any operation name, lone surrogates included, becomes valid JSON text
    text = json.dumps(document, allow_nan=False, separators=(",", ":"), ensure_ascii=True)
    data = text.encode("utf-8")
    return gzip.compress(data, compresslevel=6, mtime=0) if compressed else data


def parse_document(raw: bytes, *, compressed: bool, source: str) -> dict[str, Baseline]:
    """Validate a baseline document; CorruptFileError says what is wrong."""
    if compressed or raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise CorruptFileError(f"is not valid gzip ({exc})") from exc
    document = json_object(raw)
    version = check_schema(document, SCHEMA_NAME, SCHEMA_VERSION, source)
    operations = document.get("operations")
    if not isinstance(operations, dict):
        raise CorruptFileError("has no 'operations' object")
    if version >= 2 and document.get("checksum") != checksum_of(operations):
        raise CorruptFileError("fails its checksum (edited by hand or damaged)")
    result: dict[str, Baseline] = {}
    for name, raw_baseline in operations.items():
        if not name:
            raise CorruptFileError("has an operation with an empty name")
        try:
            result[name] = Baseline.from_dict(raw_baseline)
        except ValueError as exc:
            raise CorruptFileError(f"has an invalid baseline for {name!r}: {exc}") from exc
    return result


def checksum_of(operations: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of the operations (key order and spacing fixed)."""
    canonical = json.dumps(operations, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def json_object(raw: bytes) -> dict[str, Any]:
    """Strict JSON (no NaN or Infinity) that must be an object; CorruptFileError (a
    ValueError) says what is wrong. Shared by every perfguard file format."""
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CorruptFileError(f"is not valid JSON ({type(exc).__name__}: {exc})") from exc
    if not isinstance(document, dict):
        raise CorruptFileError("is not a JSON object")
    return document


def check_schema(document: Mapping[str, Any], schema: str, newest: int, source: str) -> int:
    """The document's schema version: CorruptFileError for another schema or an invalid
    version, IncompatibleStorageError (file left untouched) for a newer one."""
    if document.get("schema") != schema:
        raise CorruptFileError(f"is not a {schema} file")
    version = document.get("version")
    if type(version) is not int or version < 1:
        raise CorruptFileError(f"has an invalid schema version {version!r}")
    if version > newest:
        raise IncompatibleStorageError(
            source,
            f"schema version {version} is newer than this perfguard understands "
            f"({newest}); upgrade perfguard. The file was left untouched.",
        )
    return version


def _reject_constant(token: str) -> float:
    raise ValueError(f"non-standard JSON constant {token}")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable; not every platform lets a folder be opened."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
