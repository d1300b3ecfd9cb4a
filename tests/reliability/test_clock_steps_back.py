"""Issue 11, item 11: a clock that steps backwards (an injected one, or a wall clock
used by mistake) makes perfguard measure negative durations: they are recorded as 0 s
and counted (`tracker.negative_durations`), never stored as negative (which the window
would read as failures), and a shard with them combines."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from perfguard import PerformanceTracker, ShardStore


class SteppingBackClock:
    """perf() goes forward 1 ms a read, except every 10th read, 5 ms back."""

    def __init__(self) -> None:
        self.now = 100.0
        self.reads = 0

    def perf(self) -> float:
        self.reads += 1
        self.now += -0.005 if self.reads % 10 == 0 else 0.001
        return self.now

    def wall(self) -> float:
        return time.time()


def test_negative_measured_durations_are_zero_and_counted(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    tracker = PerformanceTracker(
        storage=ShardStore(folder, fold_every=None),
        autosave_interval=None,
        clock=SteppingBackClock(),
    )

    @tracker.time_operation("sync")
    def work() -> None:
        return None

    @tracker.time_operation("async")
    async def async_work() -> None:
        return None

    async def run_async() -> None:
        for _ in range(300):
            await async_work()

    for _ in range(300):
        work()
        with tracker.measure("measured"):
            pass
    asyncio.run(run_async())
    assert tracker.negative_durations > 0
    for name in ("sync", "async", "measured"):
        durations, _, _ = tracker.durations_since(name, 0)
        assert min(durations) >= 0.0
        stats = tracker.stats(name)
        assert stats["failure_count"] == 0 and stats["recent_error_rate"] == 0.0
    tracker.close()
    report = ShardStore(folder).combine()
    assert report.quarantined == []
    assert ShardStore(folder).load()["sync"].sample_count == 300
