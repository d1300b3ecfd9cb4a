"""Issue 14: slow calls and failures are counted when a batch is absorbed, not per call
under a lock; the marks the hot path appends before each such sample make that exact
even with many threads recording while others read (and so absorb) concurrently."""

from __future__ import annotations

import threading

from perfguard import PerformanceTracker
from perfguard.testing import FakeClock

THREADS, CALLS = 6, 20_000


def test_counts_are_exact_under_threads_that_record_and_read() -> None:
    tracker = PerformanceTracker(autosave_interval=None, clock=FakeClock())
    for index in range(3000):  # a mature baseline: the threshold no longer moves
        tracker.record("op", 0.010 + 0.001 * (index % 5))
    before = tracker.stats("op")
    stop = threading.Event()

    def record(offset: int) -> None:
        for index in range(offset, offset + CALLS):
            if index % 7 == 0:
                tracker.record("op", 0.012, success=False)
            elif index % 5 == 0:
                tracker.record("op", 1.0)  # far above the slow threshold
            else:
                tracker.record("op", 0.011)

    def read() -> None:
        while not stop.is_set():
            tracker.stats("op")  # absorbs whatever is pending, mid-stream

    readers = [threading.Thread(target=read) for _ in range(2)]
    writers = [threading.Thread(target=record, args=(n * CALLS,)) for n in range(THREADS)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()
    indexes = range(THREADS * CALLS)
    failures = sum(1 for i in indexes if i % 7 == 0)
    slow = sum(1 for i in indexes if i % 7 != 0 and i % 5 == 0)
    stats = tracker.stats("op")
    assert stats["sample_count"] == before["sample_count"] + THREADS * CALLS
    assert stats["failure_count"] == before["failure_count"] + failures
    assert stats["degradation_count"] == before["degradation_count"] + slow


def test_a_run_of_slow_calls_only_is_counted_exactly() -> None:
    """Whole batches of slow calls, and batches that mix slow calls with fast ones and
    failures: every slow call is counted once."""
    tracker = PerformanceTracker(autosave_interval=None, clock=FakeClock())
    for index in range(3000):
        tracker.record("op", 0.010 + 0.001 * (index % 5))
    before = tracker.stats("op")
    for _ in range(64 * 5 + 7):  # five whole batches and a part, every call slow
        tracker.record("op", 1.0)
    mixed = [(1.0, True), (0.011, True), (0.5, False), (2.0, True)] * 40
    for duration, ok in mixed:
        tracker.record("op", duration, success=ok)
    stats = tracker.stats("op")
    slow = 64 * 5 + 7 + sum(1 for duration, ok in mixed if ok and duration > 0.5)
    assert stats["degradation_count"] == before["degradation_count"] + slow
    assert stats["failure_count"] == before["failure_count"] + 40
    assert stats["sample_count"] == before["sample_count"] + 64 * 5 + 7 + len(mixed)
