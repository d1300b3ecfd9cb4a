"""Issue 11, item 10: a read that fails for a reason other than the content (no file
descriptors left, EACCES, EIO) never quarantines a good file nor lets an empty tracker
overwrite it: the tracker starts on no baselines with a warning, and its later save
merges with what the file holds."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import pytest

from perfguard import JsonFileStore, PerformanceTracker, StorageError
from perfguard._baseline import Baseline


@pytest.fixture
def failing_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Paths listed here fail to read with EMFILE until the list is emptied."""
    failing: list[Path] = []
    original = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self in failing:
            raise OSError(errno.EMFILE, "Too many open files")
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    return failing


def test_a_transient_read_error_leaves_the_file_alone(
    tmp_path: Path, failing_reads: list[Path], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "baselines.json"
    stored = Baseline.from_samples([0.01, 0.02, 0.03] * 10, 0, now=100.0)
    JsonFileStore(path).save({"stored": stored})
    failing_reads.append(path)
    with pytest.raises(StorageError, match="cannot be read"):
        JsonFileStore(path).load()
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        tracker = PerformanceTracker(storage=path, autosave_interval=None)
    assert any("without the stored baselines" in r.getMessage() for r in caplog.records)
    for _ in range(50):
        tracker.record("new", 0.01)
    with pytest.raises(StorageError):
        tracker.save()  # cannot read what to merge with: nothing is written
    failing_reads.clear()
    tracker.save()
    tracker.close(save=False)
    assert sorted(p.name for p in tmp_path.iterdir() if ".corrupt" in p.name) == []
    assert set(JsonFileStore(path).load()) == {"stored", "new"}
