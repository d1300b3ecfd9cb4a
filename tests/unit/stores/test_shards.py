"""One host, many processes: shards, combine, idempotence, quarantine, forks."""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
from pathlib import Path

import pytest

from perfguard import LogSketch, PerformanceTracker, ShardStore, SketchDelta, StorageError
from perfguard._cli import main
from perfguard.testing import FakeClock


def values(seed: int, count: int, median: float = 0.05) -> list[float]:
    rng = random.Random(seed)
    return [rng.lognormvariate(math.log(median), 0.4) for _ in range(count)]


def run_process(folder: Path, seed: int, count: int, failures: int = 0) -> list[float]:
    """What one worker process does: record, then flush its shard at close."""
    recorded = values(seed, count)
    tracker = PerformanceTracker(storage=ShardStore(folder), autosave_interval=None)
    for value in recorded:
        tracker.record("db.query", value)
    for _ in range(failures):
        tracker.record("db.query", 0.5, success=False)
    tracker.close()
    return recorded


def test_two_processes_share_one_baseline(tmp_path: Path) -> None:
    first = run_process(tmp_path, 1, 700)
    second = run_process(tmp_path, 2, 500, failures=12)
    assert len(list((tmp_path / "shards").glob("*.json"))) == 2
    report = ShardStore(tmp_path).combine()
    assert len(report.merged) == 2
    assert list((tmp_path / "shards").glob("*.json")) == []
    reader = PerformanceTracker(storage=ShardStore(tmp_path), autosave_interval=None)
    baseline = reader.baseline("db.query")
    assert baseline is not None
    assert baseline.sample_count == 1200  # every successful call of both processes
    assert baseline.error_rate == pytest.approx(12 / 1212)
    union = sorted(first + second)
    alpha = 0.0055  # the sketch's relative error at scale 6
    for q, figure in ((0.5, baseline.p50), (0.95, baseline.p95), (0.99, baseline.p99)):
        truth = union[math.floor(q * (len(union) - 1))]
        assert abs(figure - truth) <= alpha * truth
    assert baseline.mean == pytest.approx(sum(union) / len(union))
    assert reader.state("db.query") == "ok"  # a mature baseline, detector armed
    reader.close()


def test_combine_is_idempotent_even_after_a_crash_before_cleanup(tmp_path: Path) -> None:
    run_process(tmp_path, 3, 300)
    shards = list((tmp_path / "shards").glob("*.json"))
    kept = tmp_path / "kept"
    kept.mkdir()
    for shard in shards:
        shutil.copy(shard, kept / shard.name)
    store = ShardStore(tmp_path)
    store.combine()
    # a combine that crashed after writing the combined file left the shards behind
    for shard in kept.iterdir():
        shutil.copy(shard, tmp_path / "shards" / shard.name)
    report = store.combine()
    assert report.merged == []
    assert len(report.already_merged) == len(shards)
    assert list((tmp_path / "shards").glob("*.json")) == []
    assert store.load()["db.query"].sample_count == 300
    assert store.combine().merged == []  # and once more: nothing changes


def test_previous_combined_file_is_kept_as_backup(tmp_path: Path) -> None:
    run_process(tmp_path, 4, 100)
    ShardStore(tmp_path).combine()
    first = (tmp_path / "baselines.json").read_bytes()
    run_process(tmp_path, 5, 100)
    ShardStore(tmp_path).combine()
    assert (tmp_path / "baselines.json.bak").read_bytes() == first
    assert ShardStore(tmp_path).load()["db.query"].sample_count == 200


@pytest.mark.parametrize(
    "damage",
    ["truncate", "edit_count", "not_json", "wrong_schema"],
)
def test_a_corrupt_shard_is_quarantined_without_blocking_the_others(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    run_process(tmp_path, 6, 100)
    run_process(tmp_path, 7, 150)
    bad = sorted((tmp_path / "shards").glob("*.json"))[0]
    text = bad.read_text()
    if damage == "truncate":
        bad.write_text(text[: len(text) // 2])
    elif damage == "edit_count":
        document = json.loads(text)
        entry = document["operations"]["db.query"]["sketch"]
        entry["buckets"][0][1] += 1
        entry["count"] += 1  # consistent, but the checksum no longer matches
        bad.write_text(json.dumps(document))
    elif damage == "not_json":
        bad.write_bytes(os.urandom(64))
    else:
        bad.write_text(json.dumps({"schema": "something.else", "version": 1}))
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        report = ShardStore(tmp_path).combine()
    assert report.quarantined == [bad.name]
    assert len(report.merged) == 1
    assert (tmp_path / "quarantine" / bad.name).exists()
    assert any(bad.name in r.getMessage() for r in caplog.records)
    total = ShardStore(tmp_path).load()["db.query"].sample_count
    assert total in (100, 150)  # the good shard only


def test_a_forked_child_takes_a_new_identity(tmp_path: Path) -> None:
    store = ShardStore(tmp_path)
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(reader)
        os.write(writer, store.identity.encode())
        os._exit(0)
    os.close(writer)
    child_identity = os.read(reader, 200).decode()
    os.close(reader)
    os.waitpid(pid, 0)
    assert child_identity and child_identity != store.identity
    assert str(pid) in child_identity


def test_a_failed_flush_keeps_the_samples_for_the_next_one(tmp_path: Path) -> None:
    (tmp_path / "shards").write_text("a file where the shards folder should be")
    tracker = PerformanceTracker(storage=ShardStore(tmp_path), autosave_interval=None)
    for value in values(8, 80):
        tracker.record("op", value)
    with pytest.raises(StorageError):
        tracker.save()
    (tmp_path / "shards").unlink()
    tracker.save()
    ShardStore(tmp_path).combine()
    assert ShardStore(tmp_path).load()["op"].sample_count == 80
    tracker.close(save=False)  # nothing more to flush
    tracker.close()


def test_degraded_periods_are_not_sent_to_the_fleet(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = PerformanceTracker(storage=ShardStore(tmp_path), autosave_interval=None, clock=clock)
    healthy = values(9, 2000)
    for value in healthy:
        tracker.record("op", value)
    tracker.save()
    for value in values(10, 1500, median=0.5):  # 10x slower: degraded
        tracker.record("op", value)
    assert tracker.state("op") == "degraded"
    tracker.save()
    tracker.close(save=False)
    tracker.close()
    ShardStore(tmp_path).combine()
    baseline = ShardStore(tmp_path).load()["op"]
    assert baseline.p50 < 0.07  # the fleet baseline did not learn the slowdown
    assert 2000 <= baseline.sample_count < 2200  # only the samples before detection


def test_cli_combine_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_process(tmp_path, 11, 100)
    assert main(["combine", str(tmp_path)]) == 0
    assert "merged 1 shard(s)" in capsys.readouterr().out
    assert main(["show", str(tmp_path / "baselines.json")]) == 0
    assert "db.query" in capsys.readouterr().out
    assert main(["combine", str(tmp_path / "missing")]) == 2


def test_a_damaged_combined_file_is_set_aside_and_the_backup_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_process(tmp_path, 12, 100)
    ShardStore(tmp_path).combine()
    run_process(tmp_path, 13, 50)
    ShardStore(tmp_path).combine()  # the 100-call version is now the backup
    path = tmp_path / "baselines.json"
    document = json.loads(path.read_text())
    document["operations"]["db.query"]["failures"] = 99  # a hand edit
    damaged = json.dumps(document)
    path.write_text(damaged)
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        baselines = ShardStore(tmp_path).load()
    assert baselines["db.query"].sample_count == 100
    aside = list(tmp_path.glob("baselines.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == damaged
    assert any("checksum" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)


def test_cli_combine_shows_progress_on_long_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for seed in range(220):
        store = ShardStore(tmp_path)
        sketch = LogSketch()
        sketch.add_many(values(seed, 5))
        store.save_deltas({"op": SketchDelta(sketch)})
    assert main(["combine", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "combining shards: 220/220" in captured.err
    assert "merged 220 shard(s)" in captured.out


def test_a_forked_child_does_not_send_its_parents_samples_again(tmp_path: Path) -> None:
    tracker = PerformanceTracker(storage=ShardStore(tmp_path), autosave_interval=None)
    for value in values(20, 100):
        tracker.record("a", value)  # some still pending, all unsent
    pid = os.fork()
    if pid == 0:  # the child: records 7 calls of its own, flushes, exits
        try:
            for value in values(21, 7):
                tracker.record("a", value)
            tracker.close()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    tracker.close()
    ShardStore(tmp_path).combine()
    assert ShardStore(tmp_path).load()["a"].sample_count == 107


def test_a_custom_store_that_fails_keeps_nothing_lost() -> None:
    """A MergeableStore without keeps_unsent: the tracker keeps the failed deltas."""
    received: list[int] = []

    class FlakyStore:
        mergeable = True
        location = "memory"
        calls = 0

        def load(self) -> dict[str, object]:
            return {}

        def save(self, baselines: object) -> None:
            return None

        def save_deltas(self, deltas: dict[str, SketchDelta]) -> None:
            self.calls += 1
            if self.calls == 1:
                raise StorageError("memory", "down")
            received.append(sum(d.sketch.count for d in deltas.values()))

    tracker = PerformanceTracker(storage=FlakyStore(), autosave_interval=None)  # type: ignore[arg-type]
    for value in values(30, 20):
        tracker.record("op", value)
    with pytest.raises(StorageError):
        tracker.save()
    for value in values(31, 5):
        tracker.record("op", value)
    tracker.save()
    assert received == [25]
    tracker.close(save=False)
    tracker.close()


def test_temp_files_of_killed_shard_writers_are_cleaned_at_combine(tmp_path: Path) -> None:
    """Issue 11, item 12: a writer SIGKILLed mid-write leaves `.name.tmp-<pid>.<rand>`;
    once its pid is gone the next combine removes it; a live writer's is kept."""
    import subprocess
    import sys

    from perfguard._stores.files import TEMP_MARKER

    folder = tmp_path / "store"
    (folder / "shards").mkdir(parents=True)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    dead_pid = int(finished.stdout)
    dead = folder / "shards" / f".x.json{TEMP_MARKER}{dead_pid}.abcd1234"
    live = folder / "shards" / f".y.json{TEMP_MARKER}{os.getpid()}.abcd1234"
    for path in (dead, live):
        path.write_bytes(b"half a shard")
    ShardStore(folder).combine()
    assert not dead.exists() and live.exists()
