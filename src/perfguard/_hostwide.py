"""Host-wide figures for exporters: a background publisher per tracker whose storage is
a path, and the sums a scrape reports (_stores/host_metrics.py has the files).

Why a thread and files, not shared memory: the workers of gunicorn, uvicorn or a pool
share nothing but the storage path their code already names; a small file per process,
rewritten every second off the recording path, needs no setup, survives any worker's
death and is folded when it is gone (no PROMETHEUS_MULTIPROC_DIR, no cleanup job).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from pathlib import Path

from . import _hooks
from ._stores.host_metrics import Figures, HostMetrics
from ._tracker import PerformanceTracker
from ._views import OperationSnapshot

logger = logging.getLogger("perfguard")
PUBLISH_INTERVAL = 1.0  # seconds: the lag of a host-wide scrape
_publishers: weakref.WeakKeyDictionary[PerformanceTracker, HostPublisher] = (
    weakref.WeakKeyDictionary()
)
_registry_lock = threading.Lock()


def metrics_folder(tracker: PerformanceTracker) -> Path | None:
    """`<path>.metrics` beside a file or folder store; None in memory or for Redis
    (a fleet's figures are the fleet's store to sum, not one host's)."""
    location = tracker.storage_location
    if location is None or "://" in location:
        return None
    return Path(os.fspath(location) + ".metrics")


def publisher_for(tracker: PerformanceTracker) -> HostPublisher | None:
    """The tracker's publisher, started on first use; None when it has no path."""
    folder = metrics_folder(tracker)
    if folder is None:
        return None
    with _registry_lock:
        publisher = _publishers.get(tracker)
        if publisher is None:
            publisher = _publishers[tracker] = HostPublisher(tracker, folder)
        return publisher


def publish_now(tracker: PerformanceTracker) -> None:
    """A last publication (server shutdown, exit), when the tracker has a publisher."""
    publisher = _publishers.get(tracker)
    if publisher is not None:
        publisher.publish()


class HostPublisher:
    """Publishes one tracker's figures every PUBLISH_INTERVAL, at exit, and after a
    fork in the child (counting from the fork)."""

    def __init__(self, tracker: PerformanceTracker, folder: Path) -> None:
        self._tracker = weakref.ref(tracker)
        self.metrics = HostMetrics(folder)
        self._failed = False
        self._start()
        _hooks.after_fork_in_child.register(self, HostPublisher._forked)
        _hooks.at_exit.register(self, HostPublisher.publish)

    def _start(self) -> None:
        self._stop = threading.Event()
        thread = threading.Thread(target=self._run, name="perfguard-host-metrics", daemon=True)
        thread.start()

    def _forked(self) -> None:
        tracker = self._tracker()
        if tracker is None:
            return
        self.metrics.rebase(_snapshots(tracker))
        self._start()  # the parent's thread did not survive the fork

    def _run(self) -> None:
        stop = self._stop
        while not stop.wait(PUBLISH_INTERVAL):
            tracker = self._tracker()
            if tracker is None or tracker._closed:
                return  # closed: its last figures are published at exit
            del tracker
            self.publish()

    def publish(self) -> None:
        tracker = self._tracker()
        if tracker is None:
            return
        try:
            self.metrics.publish(_snapshots(tracker))
            self._failed = False
        except Exception:
            if not self._failed:  # once per failure streak: the scrape still answers
                logger.exception("perfguard could not publish host-wide figures")
            self._failed = True

    def host_figures(self) -> dict[str, Figures]:
        tracker = self._tracker()
        snapshots = _snapshots(tracker) if tracker is not None else []
        return self.metrics.host_figures(snapshots)


def _snapshots(tracker: PerformanceTracker) -> list[OperationSnapshot]:
    return tracker.snapshots()
