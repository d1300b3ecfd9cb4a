"""Operation names that try to escape: paths, control characters, surrogates, huge
lengths, and a million distinct names against the cardinality cap."""

from __future__ import annotations

import gc
import json
import tracemalloc
from pathlib import Path

import pytest

from perfguard import PerformanceTracker, ShardStore

HOSTILE = [
    "../../etc/passwd",
    "/absolute/path",
    "line\nbreak\tand\x00nul\x1b[31m",
    "lone surrogate \ud800 here",
    "emoji 🐢 and ünïcödé",
    "x" * 100_000,
    '"quoted" {json} [ok]',
]


@pytest.mark.parametrize("kind", ["json", "shards"])
def test_hostile_names_round_trip_and_never_touch_paths(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    storage = folder / "baselines.json" if kind == "json" else ShardStore(folder)
    tracker = PerformanceTracker(storage=storage, autosave_interval=None)
    for name in HOSTILE:
        for index in range(20):
            tracker.record(name, 0.01 + index * 0.001)
    tracker.close()
    if kind == "shards":
        ShardStore(folder).combine()
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    for path in written:  # every file stays in the store folder, none named after an op
        assert path.parts[0] == "store"
        assert not any(name[:20] in str(path) for name in HOSTILE[2:])
    for path in folder.rglob("*.json"):
        json.loads(path.read_bytes().decode("ascii"))  # valid, plain-ASCII JSON
    reloaded = PerformanceTracker(
        storage=folder / "baselines.json" if kind == "json" else ShardStore(folder),
        autosave_interval=None,
    )
    assert sorted(reloaded.operations()) == sorted(HOSTILE)
    reloaded.close(save=False)
    reloaded.close()


@pytest.mark.stress_test
def test_a_million_distinct_names_stay_within_the_cap() -> None:
    tracker = PerformanceTracker(autosave_interval=None, max_operations=1000)
    gc.collect()
    tracemalloc.start()
    for index in range(1_000_000):
        tracker.record(f"user-{index}", 0.001)
    gc.collect()
    used, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(tracker.operations()) == 1000
    assert tracker.overflow_count == 999_000
    assert used < 40 * 2**20  # 1,000 operations' worth, not a million
