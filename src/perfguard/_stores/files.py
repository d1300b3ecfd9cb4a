"""File primitives every file store shares: atomic replace, set-aside, stray temp files,
the folder lock.

A crash never leaves a half-written file (temp file in the same folder, fsync,
`os.replace`, fsync of the folder), and a file perfguard could not read is moved aside,
never overwritten.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

from .._clock import SYSTEM_CLOCK, utc_stamp
from .._errors import StorageError

TEMP_MARKER = ".tmp-"
logger = logging.getLogger("perfguard")


def write_atomically(path: Path, payload: bytes) -> None:
    """Replace `path` with `payload`: a crash leaves the old or the new file, whole.

    The temporary file is named after the writer's pid, so a later start can tell a
    crashed writer's leftovers. Raises StorageError naming the path; the old file is
    then untouched. A symbolic link is written through: its target is replaced (the
    temp file in the target's folder, so the rename stays atomic) and the link stays.
    """
    path = real_file(path)
    folder = path.parent
    temp = folder / f".{path.name}{TEMP_MARKER}{os.getpid()}.{secrets.token_hex(4)}"
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


def real_file(path: Path) -> Path:
    """The file a path names, through symbolic links (also a link whose target does
    not exist yet): where perfguard reads, writes and keeps `.bak` and `.lock`."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def set_aside(path: Path, reason: str, *, what: str, into: Path | None = None) -> Path | None:
    """Move a file that could not be read out of the way, with one warning naming it.

    Beside it as `<name>.corrupt-<UTC stamp>-<random>`, or into the folder `into` under
    its own name (a quarantine folder already says why it is there). Returns where it
    went, None when it could not be moved (then it is left in place and said so). Through
    a symbolic link, the damaged target is moved, beside itself; the link stays.
    """
    path = real_file(path)
    if into is None:
        stamp = utc_stamp(SYSTEM_CLOCK.wall())
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{secrets.token_hex(3)}")
    else:
        target = into / path.name
    try:
        if into is not None:
            into.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    except OSError as exc:
        logger.warning(
            "perfguard %s %s %s; it could not be moved aside (%s)",
            what,
            path,
            reason,
            exc.strerror or exc,
        )
        return None
    logger.warning("perfguard %s %s %s; moved aside to %s", what, path, reason, target)
    return target


def remove_stray_temp_files(*paths: Path) -> None:
    """Remove temp files of these paths left by a writer that crashed (its pid is gone)."""
    if not paths:
        return
    folder = paths[0].parent
    prefixes = tuple(f".{p.name}{TEMP_MARKER}" for p in paths)
    _remove_abandoned(folder, lambda name: name.startswith(prefixes))


def remove_abandoned_temp_files(folder: Path) -> None:
    """Remove every temp file in `folder` whose writer's pid is gone (shard writers
    killed mid-write leave one each)."""
    _remove_abandoned(folder, lambda name: name.startswith(".") and TEMP_MARKER in name)


def _remove_abandoned(folder: Path, matches: Callable[[str], bool]) -> None:
    try:
        candidates = [p for p in folder.iterdir() if matches(p.name)]
    except OSError:
        return
    for candidate in candidates:
        pid_text = candidate.name.rsplit(TEMP_MARKER, 1)[1].split(".", 1)[0]
        if pid_text.isdigit() and pid_alive(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            candidate.unlink()


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock (flock) on `path` (created when missing)."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


@contextlib.contextmanager
def locked_if_free(path: Path) -> Iterator[bool]:
    """Like locked(), without waiting: yields False (holding nothing) when another
    process holds the lock."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def pid_alive(pid: int) -> bool:
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
