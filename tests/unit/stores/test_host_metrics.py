"""Host-wide figures (_stores/host_metrics.py): processes publish, any of them sums,
exited processes fold into one file whose counters stay in the sums."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from perfguard import PerformanceTracker
from perfguard._stores.host_metrics import EXITED, HostMetrics
from perfguard._views import OperationSnapshot


def _snapshots(calls: int, *, failures: int = 0, name: str = "op") -> list[OperationSnapshot]:
    tracker = PerformanceTracker(autosave_interval=None)
    tracker.enable_histogram((0.01, 0.1))
    for index in range(calls):
        tracker.record(name, 0.005 if index % 2 else 0.05, success=index >= failures)
    return [tracker.snapshot(name)]


def _published(folder: Path, pid: int, calls: int, **kwargs: object) -> None:
    """A process `pid` that published its figures."""
    other = HostMetrics(folder)
    other.publish(_snapshots(calls, **kwargs))  # type: ignore[arg-type]
    (path,) = [p for p in folder.glob("*.json") if p.name != EXITED and _pid(p) == os.getpid()]
    document = json.loads(path.read_text())
    document["pid"] = pid
    path.write_text(json.dumps(document))


def _pid(path: Path) -> int:
    return int(json.loads(path.read_text())["pid"])


def test_a_scrape_sums_every_live_process(tmp_path: Path) -> None:
    _published(tmp_path, 101, 30, failures=3)
    _published(tmp_path, 102, 50)
    mine = HostMetrics(tmp_path)
    figures = mine.host_figures(_snapshots(20), alive=lambda pid: True)
    op = figures["op"]
    assert (op.calls, op.failures) == (100, 3)
    assert op.histogram[-1] == 100  # cumulative: +Inf holds every call
    assert op.baseline is not None


def test_exited_processes_fold_and_their_counters_stay(tmp_path: Path) -> None:
    _published(tmp_path, 101, 30)
    _published(tmp_path, 102, 50)
    mine = HostMetrics(tmp_path)
    first = mine.host_figures(_snapshots(20), alive=lambda pid: pid != 101)
    assert first["op"].calls == 100
    assert (tmp_path / EXITED).exists()
    assert len([p for p in tmp_path.glob("*.json") if p.name != EXITED]) == 1  # 102 only
    # 102 exits too, and a restarted worker appears: the sum never goes down
    _published(tmp_path, 103, 5)
    later = mine.host_figures(_snapshots(20), alive=lambda pid: pid == 103)
    assert later["op"].calls == 105
    assert len(list(tmp_path.glob("*.json"))) == 2  # exited.json and 103's


def test_degraded_is_of_live_processes_and_other_hosts_are_not_summed(tmp_path: Path) -> None:
    _published(tmp_path, 101, 30)
    path = next(p for p in tmp_path.glob("*.json") if _pid(p) == 101)
    document = json.loads(path.read_text())
    document["operations"]["op"]["degraded"] = True
    path.write_text(json.dumps(document))
    figures = HostMetrics(tmp_path).host_figures(_snapshots(1), alive=lambda pid: True)
    assert figures["op"].degraded and figures["op"].calls == 31
    document["host"] = socket.gethostname() + "-elsewhere"
    path.write_text(json.dumps(document))
    figures = HostMetrics(tmp_path).host_figures(_snapshots(1), alive=lambda pid: True)
    assert not figures["op"].degraded and figures["op"].calls == 1


def test_an_unreadable_file_is_skipped(tmp_path: Path) -> None:
    _published(tmp_path, 101, 30)
    (tmp_path / "garbage.json").write_text("{not json")
    figures = HostMetrics(tmp_path).host_figures(_snapshots(2), alive=lambda pid: True)
    assert figures["op"].calls == 32


def test_a_forked_child_counts_from_the_fork(tmp_path: Path) -> None:
    metrics = HostMetrics(tmp_path)
    inherited = _snapshots(40)
    metrics.rebase(inherited)  # what the child's operations held when it was forked
    assert metrics.own(_snapshots(45))["op"].calls == 5


def test_no_folder_yet_means_this_process_alone(tmp_path: Path) -> None:
    figures = HostMetrics(tmp_path / "missing").host_figures(_snapshots(3))
    assert figures["op"].calls == 3
