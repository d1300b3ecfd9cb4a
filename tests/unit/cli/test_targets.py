"""Issue 13: `perfguard show|check|report|top` on every kind of store, not only on
report files: the stores keep each process's status record (_status.py)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from perfguard import JsonFileStore, PerformanceTracker, ShardStore
from perfguard._cli import main
from perfguard._status import FRESH_SECONDS
from perfguard.testing import FakeClock
from tests.conftest import RedisServer, fixed_baseline
from tests.unit.cli.test_cli import _subprocess_env


def feed(tracker: PerformanceTracker, clock: FakeClock, name: str, slower: bool) -> None:
    """2,000 healthy calls over 10 minutes of the fake clock, then (slower) 600 calls
    three times slower: a confirmed latency alert."""
    rng = random.Random(4)
    for index in range(2600 if slower else 2000):
        factor = 3.0 if index >= 2000 else 1.0
        tracker.record(name, factor * rng.lognormvariate(-4.0, 0.3))
        clock.advance(0.3)
    tracker.state(name)  # absorbed now, as a live service's batches are


def run_service(storage: object, clock: FakeClock, slow: bool) -> None:
    tracker = PerformanceTracker(storage, clock=clock, autosave_interval=None)  # type: ignore[arg-type]
    feed(tracker, clock, "db", slower=slow)
    feed(tracker, clock, "cache", slower=False)
    assert tracker.state("db") == ("degraded" if slow else "ok")
    tracker.close()


def targets_of(tmp_path: Path, kind: str, redis: RedisServer | None) -> str:
    if kind == "file":
        return str(tmp_path / "baselines.json")
    if kind == "gz":
        return str(tmp_path / "baselines.json.gz")
    if kind == "shards":
        return str(tmp_path / "store")
    assert redis is not None
    return redis.url


def storage_of(target: str) -> object:
    return ShardStore(target) if target.endswith("store") else target


@pytest.fixture(params=["file", "gz", "shards", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def target(request: pytest.FixtureRequest, tmp_path: Path, kind: str) -> str:
    server = request.getfixturevalue("redis_server") if kind == "redis" else None
    return targets_of(tmp_path, kind, server)


def test_check_on_every_store_kind(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    clock = FakeClock()
    run_service(storage_of(target), clock, slow=False)
    assert main(["check", target]) == 0
    assert "all 2 operation(s) ok" in capsys.readouterr().out
    run_service(storage_of(target), clock, slow=True)
    assert main(["check", target]) == 1
    out = capsys.readouterr().out
    assert "1 of 2 operation(s) degraded" in out and "db: Operation db degraded" in out
    assert main(["check", target, "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["degraded"] == ["db"]


def test_show_and_top_once_name_each_operation_state(
    target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run_service(storage_of(target), FakeClock(), slow=True)
    assert main(["show", target]) == 0
    out = capsys.readouterr().out
    rows = {
        line.split()[0]: line.split() for line in out.splitlines() if line[:3] in ("db ", "cac")
    }
    assert rows["db"][1] == "degraded" and rows["cache"][1] == "ok"
    assert main(["show", target, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["db"]["state"] == "degraded" and document["db"]["degraded_signals"]
    assert main(["top", target, "--once"]) == 0
    frame = capsys.readouterr().out
    assert frame.startswith("perfguard top: ")
    line = next(row for row in frame.splitlines() if row.startswith("db "))
    assert "degraded" in line and "x" in line  # p95 against the baseline
    assert main(["top", target, "--json"]) == 0
    rows_json = {row["operation"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows_json["db"]["p95"] > 2 * rows_json["db"]["baseline_p95"]
    assert rows_json["db"]["calls_per_second"] == 0.0  # its calls ended 10 minutes ago
    assert rows_json["cache"]["calls_per_second"] == pytest.approx(1 / 0.3, rel=0.35)


def test_report_from_a_store_has_latency_over_time(
    target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_service(storage_of(target), FakeClock(), slow=True)
    page = tmp_path / "page.html"
    assert main(["report", target, "-o", str(page)]) == 0
    text = page.read_text()
    assert "latency over time" in text and "degraded" in text


def test_two_processes_sharing_a_file_each_keep_their_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.json"
    clock = FakeClock()
    healthy = PerformanceTracker(path, clock=clock, autosave_interval=None)
    feed(healthy, clock, "db", slower=False)
    slow = PerformanceTracker(path, clock=clock, autosave_interval=None)
    feed(slow, clock, "db", slower=True)
    healthy.save()
    slow.save()
    assert main(["check", str(path), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["degraded"] == ["db"]
    assert main(["show", str(path)]) == 0
    assert "2 process(es) reporting" in capsys.readouterr().out
    # an hour later only the healthy process saves again: the other's record is history
    clock.advance(3600.0 + FRESH_SECONDS)
    feed(healthy, clock, "db", slower=False)
    healthy.save()
    assert main(["check", str(path)]) == 0
    healthy.close(save=False)
    slow.close(save=False)


def test_a_file_without_status_records_has_baselines_and_no_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "old.json"
    JsonFileStore(path).save({"db": fixed_baseline(100)})
    assert main(["check", str(path)]) == 0
    assert "1 operation(s) without a recorded state" in capsys.readouterr().out
    assert main(["show", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"db": fixed_baseline(100).to_dict()}


def test_several_targets_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clock = FakeClock()
    run_service(tmp_path / "a.json", clock, slow=False)
    run_service(tmp_path / "b.json", clock, slow=True)
    targets = [str(tmp_path / "a.json"), str(tmp_path / "b.json")]
    assert main(["check", *targets]) == 1
    out = capsys.readouterr().out
    assert f"{targets[0]}: all 2 operation(s) ok" in out
    assert f"{targets[1]}: 1 of 2 operation(s) degraded" in out
    assert main(["check", *targets, str(tmp_path / "missing.json")]) == 2


@pytest.mark.parametrize("command", ["show", "check", "top"])
def test_bad_targets_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "text.txt").write_text("hello")
    for target in (
        str(tmp_path / "empty"),
        str(tmp_path / "text.txt"),
        str(tmp_path / "missing.json"),
        "redis://user:s3cret@127.0.0.1:1/0",
    ):
        assert main([command, target] + (["--once"] if command == "top" else [])) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert "s3cret" not in err


def test_a_redis_fleet_never_shows_its_password(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    run_service(redis_server.url, FakeClock(), slow=True)
    secret_url = redis_server.url.replace("redis://", "redis://default:@")
    assert main(["show", secret_url]) == 0
    assert main(["top", redis_server.url.replace("redis://", "redis://user:pw@"), "--once"]) == 2
    out, err = capsys.readouterr()
    assert "pw@" not in out + err and "degraded" in out


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    path = tmp_path / "many.json"
    JsonFileStore(path).save({f"operation-{i:05d}": fixed_baseline(10) for i in range(3000)})
    process = subprocess.Popen(
        [sys.executable, "-m", "perfguard", "show", str(path), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_subprocess_env(),
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()  # `| head -1`
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0
    assert first.strip() == b"{"
    assert err == "", err
    assert os.path.getsize(path) > 65536  # more than a pipe holds: the write did fail
