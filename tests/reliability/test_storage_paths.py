"""Issue 11, item 8: `storage=` naming an existing directory is a clear StorageError at
construction, and the directory is left exactly as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfguard import JsonFileStore, PerformanceTracker, StorageError


def test_a_directory_as_storage_is_refused_and_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / ".perfguard"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    with pytest.raises(StorageError) as info:
        PerformanceTracker(storage=folder, autosave_interval=None)
    assert "is a directory" in str(info.value) and str(folder) in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".perfguard"]
    assert (folder / "keep.txt").read_text() == "mine"


def _fill(tracker: PerformanceTracker, count: int) -> None:
    for index in range(count):
        tracker.record("checkout", 0.01 + (index % 7) * 0.001)


def test_a_symlinked_storage_file_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    """Item 9: the real file (on a persistent volume) gets every save, atomically in its
    own folder; the link the service was configured with stays a link."""
    volume, app = tmp_path / "volume", tmp_path / "app"
    volume.mkdir()
    app.mkdir()
    real = volume / "baselines.json"
    link = app / "baselines.json"
    link.symlink_to(real)  # dangling until the first save
    with PerformanceTracker(storage=link, autosave_interval=None) as tracker:
        _fill(tracker, 50)
    assert link.is_symlink() and real.is_file()
    with PerformanceTracker(storage=link, autosave_interval=None) as tracker:
        _fill(tracker, 30)
    assert link.is_symlink()
    assert (volume / "baselines.json.bak").is_file()  # the backup beside the real file
    assert sorted(p.name for p in app.iterdir()) == ["baselines.json"]
    assert JsonFileStore(real).calls() == {"checkout": 80}  # both runs' calls, in the file


def test_a_damaged_target_of_a_link_is_set_aside_beside_itself(tmp_path: Path) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    real = volume / "baselines.json"
    real.write_text("{ not json")
    link = tmp_path / "baselines.json"
    link.symlink_to(real)
    with PerformanceTracker(storage=link, autosave_interval=None) as tracker:
        _fill(tracker, 20)
    assert link.is_symlink() and real.is_file()
    assert any(p.name.startswith("baselines.json.corrupt-") for p in volume.iterdir())
