"""Damaged baseline files: set aside (never overwritten first), named in one warning, the
previous version used; older schema versions migrated; a full disk loses nothing."""

from __future__ import annotations

import errno
import json
import logging
import os
import random
from pathlib import Path

import pytest

from perfguard import JsonFileStore, PerformanceTracker, StorageError
from perfguard._baseline import Baseline
from tests.conftest import fixed_baseline

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def baseline(count: int) -> Baseline:
    return fixed_baseline(count)


def two_versions(path: Path) -> bytes:
    """Save version 1 then version 2 (so version 1 is the backup); return version 2."""
    store = JsonFileStore(path)
    store.save({"op": baseline(1)})
    store.save({"op": baseline(2)})
    return path.read_bytes()


def load_damaged(
    path: Path, damaged: bytes, caplog: pytest.LogCaptureFixture
) -> dict[str, Baseline]:
    path.write_bytes(damaged)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        loaded = JsonFileStore(path).load()
    aside = list(path.parent.glob(f"{path.name}.corrupt-*"))
    assert len(aside) == 1
    assert aside[0].read_bytes() == damaged  # set aside as it was, never overwritten
    aside[0].unlink()
    assert any(str(path) in r.getMessage() for r in caplog.records)
    return loaded


def test_truncated_at_every_byte_offset(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "baselines.json"
    whole = two_versions(path)
    for offset in range(len(whole)):
        loaded = load_damaged(path, whole[:offset], caplog)
        assert loaded["op"].sample_count == 1  # the backup (previous version) is used


@pytest.mark.parametrize(
    "damage",
    ["empty", "random", "json_list", "negative_count", "hand_edit", "wrong_type"],
)
def test_damaged_content(tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "baselines.json"
    whole = two_versions(path)
    document = json.loads(whole)
    if damage == "empty":
        damaged = b""
    elif damage == "random":
        damaged = random.Random(7).randbytes(500)
    elif damage == "json_list":
        damaged = b"[1, 2, 3]"
    elif damage == "negative_count":
        document["operations"]["op"]["sample_count"] = -5
        damaged = json.dumps(document).encode()
    elif damage == "hand_edit":  # plausible values, but the checksum no longer matches
        document["operations"]["op"]["p99"] = 0.05
        damaged = json.dumps(document).encode()
    else:
        document["operations"]["op"]["p50"] = "fast"
        damaged = json.dumps(document).encode()
    assert load_damaged(path, damaged, caplog)["op"].sample_count == 1


def test_version_1_files_are_read_and_migrated(tmp_path: Path) -> None:
    path = tmp_path / "baselines.json"
    path.write_bytes((GOLDEN / "baselines_v1.json").read_bytes())
    tracker = PerformanceTracker(storage=path, autosave_interval=None)
    loaded = tracker.baseline("db.query")
    assert loaded is not None
    assert (loaded.p50, loaded.p99, loaded.sample_count) == (0.008, 0.02, 1000)
    tracker.close()
    document = json.loads(path.read_text())
    assert document["version"] == 2  # written back in the current schema
    assert "checksum" in document
    assert JsonFileStore(path).load()["db.query"].p95 == 0.015


def test_a_full_disk_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "baselines.json"
    tracker = PerformanceTracker(storage=path, autosave_interval=None)
    for index in range(20):
        tracker.record("first", 0.01 + index * 0.001)
    tracker.save()
    before = path.read_bytes()
    real_fsync = os.fsync

    def disk_full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    for index in range(20):
        tracker.record("second", 0.02 + index * 0.001)  # recording goes on in memory
    with pytest.raises(StorageError) as raised:
        tracker.save()
    assert str(path) in str(raised.value)
    assert "No space left" in str(raised.value)
    assert path.read_bytes() == before  # the old file is unchanged
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    monkeypatch.setattr(os, "fsync", real_fsync)
    tracker.save()  # the next successful save writes everything
    assert set(JsonFileStore(path).load()) == {"first", "second"}
    tracker.close()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("error_rate", 1.0),
        ("error_rate", 1.5),
        ("sample_count", -3),
        ("sample_count", 0),
        ("p50", -0.01),
        ("std", -1.0),
        ("p99", 0.001),  # below p95: percentiles out of order
        ("mean", 1e400),  # parses as inf... refused by the JSON reader or the range check
    ],
)
def test_impossible_values_under_a_valid_checksum_are_damage(
    tmp_path: Path, field: str, value: float, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 11, item 3: the checksum matches (a writer with a bug, not a hand edit), yet
    the values cannot be: the file is set aside and the backup used, with no exception."""
    from perfguard._stores.formats import checksum_of

    path = tmp_path / "baselines.json"
    document = json.loads(two_versions(path))
    document["operations"]["op"][field] = value
    if value != 1e400:
        document["checksum"] = checksum_of(document["operations"])
    damaged = json.dumps(document).replace("Infinity", "1e400").encode()
    assert load_damaged(path, damaged, caplog)["op"].sample_count == 1
    path.write_bytes(damaged)  # and a tracker starting on it: no exception, the backup
    tracker = PerformanceTracker(storage=path, autosave_interval=None)
    loaded = tracker.baseline("op")
    assert loaded is not None and loaded.sample_count == 1
    tracker.close(save=False)


def test_a_baseline_of_mostly_failures_keeps_the_error_test_the_right_way_round(
    tmp_path: Path,
) -> None:
    """A stored error rate of 0.97 (valid, below 1): an operation that now always fails
    is still worse than its baseline, and one that always succeeds is never degraded."""
    path = tmp_path / "baselines.json"
    stored = Baseline(**{**fixed_baseline(2000).to_dict(), "error_rate": 0.97})
    JsonFileStore(path).save({"failing": stored, "healed": stored})
    tracker = PerformanceTracker(storage=path, autosave_interval=None)
    rng = random.Random(3)
    for _ in range(3000):
        tracker.record("failing", rng.uniform(0.009, 0.011), success=False)
        tracker.record("healed", rng.uniform(0.009, 0.011), success=True)
    assert tracker.state("healed") != "degraded"
    assert tracker.stats("failing")["recent_error_rate"] == 1.0
    tracker.close(save=False)
