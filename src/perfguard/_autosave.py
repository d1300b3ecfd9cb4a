"""Saving off the hot path: the debounced background saver.

The saver holds its tracker weakly (a forgotten tracker is collected, its thread ends).
The save at interpreter exit is the tracker's own hook (_hooks.at_exit).
"""

from __future__ import annotations

import logging
import math
import threading
import weakref
from typing import Protocol

from ._clock import SYSTEM_CLOCK
from ._errors import PerfguardError

logger = logging.getLogger("perfguard")


class Saveable(Protocol):
    def save(self) -> None: ...

    def refresh_baselines(self) -> int: ...


class AutoSaver:
    """Debounced background saves: a changed baseline waits `interval` seconds, so bursts
    of changes cost one write, and no caller of record() ever waits on the disk.

    For a shared store (periodic): a flush every interval, the fleet's baselines read back
    at most every REFRESH_EVERY seconds, and after a failure the next attempts back off
    (doubling, up to MAX_BACKOFF seconds) so an unreachable store is not hammered.
    """

    REFRESH_EVERY = 30.0
    MAX_BACKOFF = 60.0
    STATUS_EVERY = 60.0  # a file of baselines is also saved this often while calls come

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
        self._finalizer = weakref.finalize(tracker, _wake, self._stopping, self._dirty)

    def renewed_in_child(self, tracker: Saveable) -> AutoSaver:
        """After fork(): the child has no saver thread (threads do not survive a fork);
        a new saver with the same settings, and this one forgotten."""
        self.forget()
        return AutoSaver(tracker, self._interval, periodic=self._periodic)

    def forget(self) -> None:
        """In a forked child: this saver's thread is the parent's; drop its finalizer."""
        self._finalizer.detach()

    def mark_dirty(self) -> None:
        self._dirty.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            woken = self._dirty.wait(None if self._periodic else self.STATUS_EVERY)
            if self._stopping.is_set():
                return
            if not woken and not self._status_stale():
                continue
            backoff = self._interval * (2.0 ** min(self._failures, 16))
            self._stopping.wait(min(backoff, max(self._interval, self.MAX_BACKOFF)))
            if self._stopping.is_set():
                return  # stopping: close() saves (or was told not to), not this thread
            if not self._periodic:
                self._dirty.clear()
            tracker = self._tracker_ref()
            if tracker is None:
                return
            try:
                getattr(tracker, "background_save", tracker.save)()
                self._failures = 0
                now = SYSTEM_CLOCK.perf()
                if self._periodic and now - self._last_refresh >= self.REFRESH_EVERY:
                    self._last_refresh = now
                    tracker.refresh_baselines()
                self._failure_reported = None
                self.saves += 1
            except Exception as exc:  # any failure: logged once, retried with backoff
                self._failures += 1
                if str(exc) != self._failure_reported:
                    self._failure_reported = str(exc)
                    if isinstance(exc, PerfguardError):
                        logger.warning("perfguard autosave failed: %s (will retry)", exc)
                    else:  # a defect, not a full disk: the traceback helps whoever reports it
                        logger.exception("perfguard autosave failed (will retry)")
                self._dirty.set()
            del tracker

    def _status_stale(self) -> bool:
        """Whether the tracker's status record lags its calls (a minute passed with no
        baseline change): then it is saved for its status."""
        tracker = self._tracker_ref()
        stale = getattr(tracker, "status_stale", None)
        return bool(stale()) if stale is not None else False

    def stop(self) -> None:
        self._stopping.set()
        self._dirty.set()
        self._thread.join(timeout=5.0)


def _wake(stopping: threading.Event, dirty: threading.Event) -> None:
    stopping.set()
    dirty.set()
