"""Issue 11, item 16: `max_operations` holds when loading too: a store with more
operations loads the most recently seen ones, says how many it left, and keeps the
rest in the store."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from perfguard import JsonFileStore, PerformanceTracker
from perfguard._baseline import Baseline


def test_a_store_over_the_cap_loads_the_most_recent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "baselines.json"
    base = Baseline.from_samples([0.01, 0.02, 0.03] * 10, 0, now=100.0)
    JsonFileStore(path).save({f"op-{i:02d}": base.seen_at(1000.0 + i) for i in range(50)})
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        tracker = PerformanceTracker(storage=path, max_operations=10, autosave_interval=None)
    assert tracker.operations() == [f"op-{i:02d}" for i in range(40, 50)]
    assert tracker.restore_skipped == 40
    assert any("over max_operations=10" in r.getMessage() for r in caplog.records)
    tracker.record("op-49", 0.02)
    tracker.close()
    assert len(JsonFileStore(path).load()) == 50  # the others stay in the store
