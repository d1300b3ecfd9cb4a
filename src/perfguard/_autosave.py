"""Saving off the hot path: the debounced background saver and the save at exit.

The saver holds its tracker weakly (a forgotten tracker is collected, its thread ends);
at interpreter exit every live tracker with storage is closed, which saves it.
"""

from __future__ import annotations

import atexit
import logging
import math
import threading
import time
import weakref
from typing import Protocol

from ._errors import PerfguardError

logger = logging.getLogger("perfguard")


class Saveable(Protocol):
    def save(self) -> None: ...

    def refresh_baselines(self) -> int: ...

    def close(self) -> None: ...


class AutoSaver:
    """Debounced background saves: a changed baseline waits `interval` seconds, so bursts
    of changes cost one write, and no caller of record() ever waits on the disk.

    For a shared store (periodic): a flush every interval, the fleet's baselines read back
    at most every REFRESH_EVERY seconds, and after a failure the next attempts back off
    (doubling, up to MAX_BACKOFF seconds) so an unreachable store is not hammered.
    """

    REFRESH_EVERY = 30.0
    MAX_BACKOFF = 60.0

    def __init__(self, tracker: Saveable, interval: float, *, periodic: bool = False) -> None:
        self._tracker_ref = weakref.ref(tracker)
        self._interval = interval
        self._dirty = threading.Event()
        if periodic:
            self._dirty.set()  # always due: save every interval
        self._stopping = threading.Event()
        self._failure_reported: str | None = None
        self._periodic = periodic
        self._failures = 0
        self._last_refresh = -math.inf
        self.saves = 0
        self._thread = threading.Thread(target=self._run, name="perfguard-autosave", daemon=True)
        self._thread.start()
        # a forgotten tracker wakes its saver on collection, so the thread ends
        weakref.finalize(tracker, _wake, self._stopping, self._dirty)

    def mark_dirty(self) -> None:
        self._dirty.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._dirty.wait()
            if self._stopping.is_set():
                return
            backoff = self._interval * (2.0 ** min(self._failures, 16))
            self._stopping.wait(min(backoff, max(self._interval, self.MAX_BACKOFF)))
            if not self._periodic:
                self._dirty.clear()
            tracker = self._tracker_ref()
            if tracker is None:
                return
            try:
                tracker.save()
                self._failures = 0
                now = time.monotonic()
                if self._periodic and now - self._last_refresh >= self.REFRESH_EVERY:
                    self._last_refresh = now
                    tracker.refresh_baselines()
                self._failure_reported = None
                self.saves += 1
            except PerfguardError as exc:
                self._failures += 1
                if str(exc) != self._failure_reported:
                    self._failure_reported = str(exc)
                    logger.warning("perfguard autosave failed: %s (will retry)", exc)
                self._dirty.set()
            del tracker

    def stop(self) -> None:
        self._stopping.set()
        self._dirty.set()
        self._thread.join(timeout=5.0)


def _wake(stopping: threading.Event, dirty: threading.Event) -> None:
    stopping.set()
    dirty.set()


_live_trackers: weakref.WeakSet[Saveable] = weakref.WeakSet()
_exit_hook_registered = False
_exit_hook_lock = threading.Lock()


def register_for_exit(tracker: Saveable) -> None:
    global _exit_hook_registered
    with _exit_hook_lock:
        _live_trackers.add(tracker)
        if not _exit_hook_registered:
            atexit.register(_close_all_at_exit)
            _exit_hook_registered = True


def _close_all_at_exit() -> None:
    for tracker in list(_live_trackers):
        try:
            tracker.close()
        except PerfguardError as exc:
            logger.warning("perfguard could not save at exit: %s", exc)
