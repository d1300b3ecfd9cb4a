"""The default baseline store: one JSON file (gzip-compressed when it ends in ".gz").

Writes are atomic (files.write_atomically). A file that cannot be parsed is moved aside
(never overwritten before it was read) and the previous version, kept as `.bak` by every
save, is used when it is sound. A file written by a newer schema is refused and left
untouched.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from .._baseline import Baseline
from .._errors import IncompatibleStorageError, StorageError
from .files import remove_stray_temp_files, set_aside, write_atomically
from .formats import CorruptFileError, parse_document, render_document

logger = logging.getLogger("perfguard")


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

    @property
    def backup_path(self) -> Path:
        return self._path.with_name(self._path.name + ".bak")

    # -- reading -------------------------------------------------------------------------

    def load(self) -> dict[str, Baseline]:
        """The stored baselines; {} when the file is missing or had to be set aside."""
        remove_stray_temp_files(self._path, self.backup_path)
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            set_aside(self._path, f"cannot be read ({exc.strerror or exc})", what="baseline file")
            return {}
        try:
            return parse_document(raw, compressed=self.compressed, source=self.location)
        except CorruptFileError as exc:
            set_aside(self._path, str(exc), what="baseline file")
            return self._load_backup()

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
