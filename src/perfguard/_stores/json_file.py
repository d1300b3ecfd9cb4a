"""The default baseline store: one JSON file (gzip-compressed when it ends in ".gz").

Writes are atomic (files.write_atomically). A file that cannot be parsed is moved aside
(never overwritten before it was read) and the previous version, kept as `.bak` by every
save, is used when it is sound. A file written by a newer schema is refused and left
untouched.

Several processes may share the path with no setup (gunicorn or uvicorn workers, a
multiprocessing pool): a tracker's save goes through `save_shares`, which merges under
an exclusive lock on `<path>.lock` (contributions.py): each process replaces its own
contribution, exited processes' contributions are folded, and `operations` is
recombined from all, so no process overwrites another.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import _hooks
from .._baseline import Baseline
from .._clock import SYSTEM_CLOCK
from .._errors import IncompatibleStorageError, StorageError
from .contributions import (
    FOLDED,
    Contribution,
    Share,
    absorb_into_folded,
    combined_operations,
    drop_unseen_since,
    fold_exited,
    this_host,
)
from .files import locked, real_file, remove_stray_temp_files, set_aside, write_atomically
from .formats import CorruptFileError, parse_document, parse_shared_document, render_document
from .identity import new_identity

logger = logging.getLogger("perfguard")


class JsonFileStore:
    """Baselines in one JSON file."""

    shares_path = True  # save_shares() merges with the other processes on this path

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._identity = new_identity()
        # other processes' parts as last parsed, by identity with their saved_at: a
        # part unchanged since the last save is not validated again
        self._parsed: dict[str, tuple[float, Contribution]] = {}
        _hooks.after_fork_in_child.register(self, JsonFileStore._forked)

    def _forked(self) -> None:
        self._identity = new_identity()  # the child's contribution is its own

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def target(self) -> Path:
        """The file itself: the path, or a symbolic link's target (written through)."""
        return real_file(self._path)

    @property
    def lock_path(self) -> Path:
        target = self.target
        return target.with_name(target.name + ".lock")

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
        target = self.target
        return target.with_name(target.name + ".bak")

    # -- reading -------------------------------------------------------------------------

    def load(self) -> dict[str, Baseline]:
        """The stored baselines; {} when the file is missing or had to be set aside."""
        remove_stray_temp_files(self.target, self.backup_path)
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            # EMFILE, EACCES, EIO: the file may be sound; it is reported and left alone
            # (only damaged content is ever set aside)
            raise StorageError(self.location, f"cannot be read ({exc.strerror or exc})") from exc
        try:
            return parse_document(raw, compressed=self.compressed, source=self.location)
        except CorruptFileError as exc:
            set_aside(self._path, str(exc), what="baseline file")
            return self._load_backup()

    def calls(self) -> dict[str, int]:
        """Per operation, the calls every process sharing the path has saved (for one
        saved before call counts were kept: the samples its baseline rests on)."""
        with locked(self.lock_path):
            contributions = self._contributions()
        return {name: share.calls for name, share in combined_operations(contributions).items()}

    def contributors(self) -> int:
        """How many contributions the file keeps (live processes, plus one for all the
        processes that have exited)."""
        with locked(self.lock_path):
            return len(self._contributions())

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
        """Write exactly these baselines atomically (one writer: tools, tests); raises
        StorageError naming the path. Trackers use save_shares."""
        self._write(self.render(baselines))

    def save_shares(
        self,
        shares: Mapping[str, Share],
        cutoff: float | None = None,
        status: dict[str, Any] | None = None,
    ) -> None:
        """This process's baselines and call counts, merged under the path's lock with
        what the other processes saved (module docstring); operations not seen since
        `cutoff` are forgotten; `status` is this process's status record (_status.py).
        Raises StorageError naming the path."""
        with locked(self.lock_path):
            contributions, sound = self._read_contributions()
            now = SYSTEM_CLOCK.wall()
            mine = Contribution(this_host(), os.getpid(), now, dict(shares), status)
            contributions[self._identity] = mine
            fold_exited(contributions, now)
            if cutoff is not None:
                drop_unseen_since(contributions, cutoff)
            combined = combined_operations(contributions)
            payload = render_document(
                {name: share.baseline for name, share in combined.items()},
                compressed=self.compressed,
                contributions={i: c.to_dict() for i, c in sorted(contributions.items())},
            )
            if sound is not None:  # parsed just now: it is the backup, as is
                with contextlib.suppress(StorageError):
                    write_atomically(self.backup_path, sound)
            write_atomically(self._path, payload)

    def _contributions(self) -> dict[str, Contribution]:
        return self._read_contributions()[0]

    def _read_contributions(self) -> tuple[dict[str, Contribution], bytes | None]:
        """What the file holds now, as contributions (a file written before several
        processes shared it, or by save(), is taken whole as the folded part), and the
        file's bytes when they were sound."""
        remove_stray_temp_files(self.target, self.backup_path)
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return {}, None
        except OSError as exc:  # not now: the save fails and is retried, the file kept
            raise StorageError(self.location, f"cannot be read ({exc.strerror or exc})") from exc
        sound: bytes | None = raw
        try:
            baselines, raw_parts = parse_shared_document(
                raw, compressed=self.compressed, source=self.location
            )
            contributions = {i: self._parsed_part(i, part) for i, part in raw_parts.items()}
        except (CorruptFileError, ValueError) as exc:
            set_aside(self._path, str(exc), what="baseline file")
            baselines, contributions, sound = self._load_backup(), {}, None
        covered = {name for part in contributions.values() for name in part.operations}
        legacy = {n: Share(b, b.sample_count) for n, b in baselines.items() if n not in covered}
        if legacy:
            absorb_into_folded(contributions, Contribution(FOLDED, 0, 0.0, legacy), 0.0)
        return contributions, sound

    def _parsed_part(self, identity: str, raw: object) -> Contribution:
        saved_at = raw.get("saved_at") if isinstance(raw, dict) else None
        cached = self._parsed.get(identity)
        if identity != FOLDED and cached is not None and cached[0] == saved_at:
            part = cached[1]
            return Contribution(
                part.host, part.pid, part.saved_at, dict(part.operations), part.status
            )
        part = Contribution.from_dict(identity, raw)
        if identity != FOLDED:
            self._parsed[identity] = (part.saved_at, part)
        return part

    def _write(self, payload: bytes) -> None:
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
