"""JsonFileStore: atomic saves, round trips, corrupt files set aside, newer schemas refused."""

from __future__ import annotations

import errno
import gzip
import json
import logging
import os
import random
from pathlib import Path

import pytest

from perfguard import (
    Baseline,
    IncompatibleStorageError,
    JsonFileStore,
    PerformanceTracker,
    StorageError,
)
from perfguard._stores.formats import SCHEMA_NAME, SCHEMA_VERSION


def _reject_constant(token: str) -> float:
    raise AssertionError(f"non-standard JSON constant {token} in the file")


def _baselines() -> dict[str, Baseline]:
    return {
        "db.query": Baseline.from_samples([0.008, 0.009, 0.0075, 0.02, 0.011], 1, now=1000.25),
        "café/запрос": Baseline.from_samples([1.5, 2.25, 1.75], 0, now=2000.0, established_at=5.0),
        "cache.get": Baseline.from_samples([0.0, 0.0004, 0.0003], 2, now=3000.0),
    }


def _document(operations: object, *, version: object = SCHEMA_VERSION) -> bytes:
    payload = {"schema": SCHEMA_NAME, "version": version, "operations": operations}
    return json.dumps(payload).encode()


def _perfguard_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "perfguard" and r.levelno == logging.WARNING]


# -- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["baselines.json", "baselines.json.gz"])
def test_save_load_round_trip(tmp_path: Path, name: str) -> None:
    store = JsonFileStore(tmp_path / name)
    baselines = _baselines()
    store.save(baselines)
    assert JsonFileStore(tmp_path / name).load() == baselines


def test_saved_plain_file_is_strict_json(tmp_path: Path) -> None:
    path = tmp_path / "baselines.json"
    JsonFileStore(path).save(_baselines())
    document = json.loads(path.read_text("utf-8"), parse_constant=_reject_constant)
    assert document["schema"] == SCHEMA_NAME
    assert document["version"] == SCHEMA_VERSION
    assert list(document["operations"]) == sorted(_baselines())
    assert document["operations"]["db.query"] == _baselines()["db.query"].to_dict()


def test_saved_gz_file_is_gzip_of_strict_json(tmp_path: Path) -> None:
    path = tmp_path / "baselines.json.gz"
    store = JsonFileStore(path)
    assert store.compressed
    store.save(_baselines())
    raw = path.read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    document = json.loads(gzip.decompress(raw), parse_constant=_reject_constant)
    assert set(document["operations"]) == set(_baselines())


def test_save_of_nothing_round_trips_to_empty(tmp_path: Path) -> None:
    store = JsonFileStore(tmp_path / "b.json")
    store.save({})
    assert store.load() == {}


def test_load_of_missing_file_is_empty(tmp_path: Path) -> None:
    assert JsonFileStore(tmp_path / "absent.json").load() == {}
    assert JsonFileStore(tmp_path / "no-folder" / "absent.json").load() == {}


def test_store_properties(tmp_path: Path) -> None:
    store = JsonFileStore(tmp_path / "b.json")
    assert store.path == tmp_path / "b.json"
    assert store.location == str(tmp_path / "b.json")
    assert not store.compressed


# -- temporary files ----------------------------------------------------------------------


def test_save_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = JsonFileStore(tmp_path / "baselines.json")
    store.save(_baselines())
    store.save(_baselines())  # replacing an existing file too (the old one is the backup)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baselines.json", "baselines.json.bak"]


def test_load_removes_stray_temp_files_of_dead_writers_only(tmp_path: Path) -> None:
    store = JsonFileStore(tmp_path / "baselines.json")
    store.save(_baselines())
    dead = tmp_path / ".baselines.json.tmp-999999999.abcd"
    garbled = tmp_path / ".baselines.json.tmp-notapid.abcd"
    ours = tmp_path / f".baselines.json.tmp-{os.getpid()}.beef"
    other_store = tmp_path / ".other.json.tmp-999999999.abcd"
    for path in (dead, garbled, ours, other_store):
        path.write_bytes(b"{partial")
    assert store.load() == _baselines()
    assert not dead.exists()
    assert not garbled.exists()
    assert ours.exists()  # a live writer (this process) may still be writing it
    assert other_store.exists()  # another file's temp is none of this store's business


# -- failed saves -------------------------------------------------------------------------


def test_save_into_missing_folder_raises_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "baselines.json"
    with pytest.raises(StorageError) as info:
        JsonFileStore(path).save(_baselines())
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    assert not path.parent.exists()


def test_save_under_a_regular_file_raises_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("I am a file")
    path = blocker / "baselines.json"
    with pytest.raises(StorageError) as info:
        JsonFileStore(path).save(_baselines())
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    assert blocker.read_text() == "I am a file"


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores folder permissions"
)
def test_save_into_read_only_folder_leaves_existing_file(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "baselines.json"
    store = JsonFileStore(path)
    store.save({"old": _baselines()["db.query"]})
    before = path.read_bytes()
    folder.chmod(0o555)
    try:
        with pytest.raises(StorageError) as info:
            store.save(_baselines())
    finally:
        folder.chmod(0o755)
    assert str(path) in str(info.value)
    assert path.read_bytes() == before
    assert [p.name for p in folder.iterdir()] == ["baselines.json"]


def test_failed_write_leaves_existing_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk (forced: root ignores permissions) fails the save, not the old file."""
    path = tmp_path / "baselines.json"
    store = JsonFileStore(path)
    store.save({"old": _baselines()["db.query"]})
    before = path.read_bytes()

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(StorageError) as info:
        store.save(_baselines())
    monkeypatch.undo()
    assert str(path) in str(info.value)
    assert os.strerror(errno.ENOSPC) in str(info.value)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["baselines.json"]


# -- corrupt files ------------------------------------------------------------------------


def _valid_document() -> bytes:
    return _document({n: b.to_dict() for n, b in _baselines().items()})


def _bad_baseline_document() -> bytes:
    raw = _baselines()["db.query"].to_dict()
    raw["p95"] = -1.0
    return _document({"db.query": raw})


CORRUPT_PLAIN = {
    "truncated JSON": _valid_document()[: len(_valid_document()) // 2],
    "random bytes": random.Random(20261127).randbytes(300),
    "empty file": b"",
    "JSON list": b"[1, 2, 3]",
    "JSON string": b'"perfguard.baselines"',
    "wrong schema": b'{"schema": "other.tool", "version": 1, "operations": {}}',
    "no schema": b'{"version": 1, "operations": {}}',
    "version zero": _document({}, version=0),
    "version as string": _document({}, version="1"),
    "version as bool": _document({}, version=True),
    "operations not an object": _document([]),
    "invalid baseline values": _bad_baseline_document(),
    "baseline not an object": _document({"db.query": [0.1, 0.2]}),
    "empty operation name": _document({"": _baselines()["db.query"].to_dict()}),
    "NaN constant": _valid_document().replace(b'"std": ', b'"std": NaN, "x": ', 1),
    "not UTF-8": b'{"schema": "\xff\xfe"}',
}


@pytest.mark.parametrize("content", CORRUPT_PLAIN.values(), ids=CORRUPT_PLAIN.keys())
def test_corrupt_file_is_moved_aside_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    path = tmp_path / "baselines.json"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        assert JsonFileStore(path).load() == {}
    assert not path.exists()
    aside = list(tmp_path.iterdir())
    assert len(aside) == 1
    assert aside[0].name.startswith("baselines.json.corrupt-")
    assert aside[0].read_bytes() == content  # moved, never rewritten
    warnings = _perfguard_warnings(caplog)
    assert len(warnings) == 1
    assert str(path) in warnings[0].getMessage()
    assert aside[0].name in warnings[0].getMessage()


CORRUPT_GZ = {
    "random bytes": b"PK\x03\x04" + random.Random(7).randbytes(200),
    "truncated gzip": gzip.compress(_valid_document())[:40],
    "gzip of truncated JSON": gzip.compress(_valid_document()[:100]),
    "gzip of a JSON list": gzip.compress(b"[]"),
}


@pytest.mark.parametrize("content", CORRUPT_GZ.values(), ids=CORRUPT_GZ.keys())
def test_corrupt_gz_file_is_moved_aside_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    path = tmp_path / "baselines.json.gz"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        assert JsonFileStore(path).load() == {}
    assert not path.exists()
    (aside,) = tmp_path.iterdir()
    assert aside.name.startswith("baselines.json.gz.corrupt-")
    warnings = _perfguard_warnings(caplog)
    assert len(warnings) == 1
    assert str(path) in warnings[0].getMessage()


def test_gz_file_with_damaged_deflate_stream_is_moved_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "baselines.json.gz"
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    path.write_bytes(header + bytes(range(50)))
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        assert JsonFileStore(path).load() == {}
    assert not path.exists()
    assert len(_perfguard_warnings(caplog)) == 1


def test_deeply_nested_json_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "baselines.json"
    path.write_bytes(b"[" * 100_000)
    assert JsonFileStore(path).load() == {}
    assert not path.exists()


def test_integer_too_large_for_a_float_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "baselines.json"
    raw = _baselines()["db.query"].to_dict()
    text = json.dumps({"schema": SCHEMA_NAME, "version": 1, "operations": {"db.query": raw}})
    path.write_text(text.replace('"std": ', '"std": 1' + "0" * 400 + ', "was": ', 1))
    assert JsonFileStore(path).load() == {}
    assert not path.exists()


def test_tracker_starts_fresh_on_a_corrupt_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, clock
) -> None:
    path = tmp_path / "baselines.json"
    path.write_bytes(b"{not json")
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        tracker = PerformanceTracker(storage=path, clock=clock, autosave_interval=None)
    try:
        assert tracker.operations() == []
    finally:
        tracker.close()
    assert len(_perfguard_warnings(caplog)) == 1
    assert len(list(tmp_path.glob("baselines.json.corrupt-*"))) == 1


# -- newer schema -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["baselines.json", "baselines.json.gz"])
def test_newer_schema_is_refused_and_left_untouched(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    path = tmp_path / name
    content = _document({"anything": {"in": "a future format"}}, version=SCHEMA_VERSION + 1)
    if name.endswith(".gz"):
        content = gzip.compress(content)
    path.write_bytes(content)
    with (
        caplog.at_level(logging.WARNING, logger="perfguard"),
        pytest.raises(IncompatibleStorageError) as info,
    ):
        JsonFileStore(path).load()
    assert isinstance(info.value, StorageError)
    assert info.value.path == str(path)
    assert f"schema version {SCHEMA_VERSION + 1}" in str(info.value)
    assert path.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == [name]
    assert _perfguard_warnings(caplog) == []


def test_tracker_refuses_newer_schema_and_leaves_file(tmp_path: Path, clock) -> None:
    path = tmp_path / "baselines.json"
    content = _document({}, version=SCHEMA_VERSION + 5)
    path.write_bytes(content)
    with pytest.raises(IncompatibleStorageError):
        PerformanceTracker(storage=path, clock=clock, autosave_interval=None)
    assert path.read_bytes() == content
