"""Issue 11, item 8: `storage=` naming an existing directory is a clear StorageError at
construction, and the directory is left exactly as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfguard import PerformanceTracker, StorageError


def test_a_directory_as_storage_is_refused_and_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / ".perfguard"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    with pytest.raises(StorageError) as info:
        PerformanceTracker(storage=folder, autosave_interval=None)
    assert "is a directory" in str(info.value) and str(folder) in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".perfguard"]
    assert (folder / "keep.txt").read_text() == "mine"
