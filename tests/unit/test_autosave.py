"""AutoSaver (_autosave.py): debounced background saves, backoff after failures, stop(),
and the thread of a forgotten tracker ending by itself."""

from __future__ import annotations

import gc
import logging
import threading
import time
from pathlib import Path

import pytest

from perfguard import PerformanceTracker, StorageError
from perfguard._autosave import AutoSaver

WAIT = 10.0  # seconds: an upper bound for the saver thread to act, never a delay


def autosave_threads() -> int:
    return sum(t.name == "perfguard-autosave" and t.is_alive() for t in threading.enumerate())


class FakeTracker:
    """What the saver needs of a tracker; `failures` first saves raise a StorageError."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.attempts: list[float] = []  # monotonic time of every save() call
        self.saved = 0
        self.refreshes = 0
        self.changed = threading.Condition()

    def save(self) -> None:
        with self.changed:
            self.attempts.append(time.monotonic())
            self.changed.notify_all()
            if len(self.attempts) <= self.failures:
                raise StorageError("fake.json", "disk full")
            self.saved += 1

    def refresh_baselines(self) -> int:
        self.refreshes += 1
        return 0

    def wait_for(self, attempts: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.attempts) >= attempts, WAIT)


def test_a_burst_of_changes_costs_one_save() -> None:
    tracker = FakeTracker()
    saver = AutoSaver(tracker, 0.2)
    for _ in range(100):
        saver.mark_dirty()
    tracker.wait_for(1)
    for _ in range(100):
        saver.mark_dirty()
    tracker.wait_for(2)
    saver.stop()
    assert tracker.saved == 2 and saver.saves == 2
    assert tracker.refreshes == 0  # a file of baselines is never read back


def test_nothing_is_saved_until_a_baseline_changes() -> None:
    tracker = FakeTracker()
    before = autosave_threads()
    saver = AutoSaver(tracker, 0.01)
    assert autosave_threads() == before + 1
    saver.stop()
    assert autosave_threads() == before  # stop() joined the thread
    saver.mark_dirty()  # after stop(): nobody left to save
    assert tracker.attempts == [] and saver.saves == 0


def test_failures_are_retried_with_a_doubling_delay_and_warned_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    interval = 0.05
    tracker = FakeTracker(failures=2)
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        saver = AutoSaver(tracker, interval)
        saver.mark_dirty()  # once: the retries need no new change
        tracker.wait_for(3)
        saver.stop()
    first, second, third = tracker.attempts[:3]
    # Event.wait never returns early, so these lower bounds hold however slow the host
    assert second - first >= 2 * interval * 0.99  # after one failure: twice the interval
    assert third - second >= 4 * interval * 0.99  # after two: four times
    assert tracker.saved == 1 and saver.saves == 1
    warnings = [r for r in caplog.records if "autosave failed" in r.getMessage()]
    assert len(warnings) == 1  # the same failure twice is one warning
    assert "disk full" in warnings[0].getMessage()


def test_a_shared_store_is_flushed_every_interval_and_read_back_once() -> None:
    tracker = FakeTracker()
    saver = AutoSaver(tracker, 0.01, periodic=True)  # no mark_dirty(): always due
    tracker.wait_for(3)
    saver.stop()
    assert tracker.saved >= 3
    assert tracker.refreshes == 1  # read back at most every REFRESH_EVERY (30 s)


def test_a_forgotten_tracker_ends_its_autosave_thread(tmp_path: Path) -> None:
    def alive() -> int:
        return sum(t.name == "perfguard-autosave" and t.is_alive() for t in threading.enumerate())

    before = alive()
    trackers = [PerformanceTracker(storage=tmp_path / f"{i}.json") for i in range(3)]
    assert alive() == before + 3
    del trackers  # dropped without close()
    gc.collect()
    for thread in threading.enumerate():
        if thread.name == "perfguard-autosave":
            thread.join(timeout=5)
    assert alive() == before


def test_stop_during_the_debounce_wait_saves_nothing() -> None:
    """A change marked just before stop() is close()'s to save, not the thread's: the
    saver must not write after stop() (close(save=False) writes nothing at all)."""

    class WaitSeen(threading.Event):
        """Tells the test when the saver thread has entered its debounce wait."""

        def __init__(self) -> None:
            super().__init__()
            self.entered = threading.Event()

        def wait(self, timeout: float | None = None) -> bool:
            self.entered.set()
            return super().wait(timeout)

    tracker = FakeTracker()
    saver = AutoSaver(tracker, 60.0)  # a long debounce
    stopping = saver._stopping = WaitSeen()  # no public way to see the thread's wait
    saver.mark_dirty()
    assert stopping.entered.wait(WAIT)  # the thread is inside the debounce wait
    saver.stop()
    assert tracker.attempts == [] and saver.saves == 0


class BuggyTracker(FakeTracker):
    """A save that fails with something perfguard did not foresee (a defect, a
    third-party store's own exception), then works."""

    def save(self) -> None:
        with self.changed:
            self.attempts.append(time.monotonic())
            self.changed.notify_all()
            if len(self.attempts) <= self.failures:
                raise KeyError("scale")  # e.g. a malformed entry of a shared store
            self.saved += 1


def test_the_saver_survives_any_exception_and_retries(caplog: pytest.LogCaptureFixture) -> None:
    """Issue 11, item 2: the background saver never dies."""
    tracker = BuggyTracker(failures=2)
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        saver = AutoSaver(tracker, 0.01)
        saver.mark_dirty()
        tracker.wait_for(3)
        saver.stop()
    assert tracker.saved == 1
    logged = [r for r in caplog.records if "autosave failed" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None  # once, with the traceback
