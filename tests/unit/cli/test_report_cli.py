"""`perfguard check` and `perfguard report` on reports written by a tracker."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from perfguard import PerformanceTracker, TrackerConfig
from perfguard._cli import main
from perfguard.testing import FakeClock
from tests.streams import healthy_then_slower


def write_report(path: Path, degrade: bool) -> None:
    tracker = PerformanceTracker(autosave_interval=None)
    rng = random.Random(4)
    for _ in range(2500):
        tracker.record("db <query>", rng.lognormvariate(-4.0, 0.4))
        tracker.record("cache", rng.lognormvariate(-7.0, 0.3))
    if degrade:
        for _ in range(500):
            tracker.record("db <query>", rng.lognormvariate(-2.5, 0.4))
    tracker.write_report(path)


def test_check_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    healthy, degraded = tmp_path / "ok.json", tmp_path / "bad.json"
    write_report(healthy, degrade=False)
    write_report(degraded, degrade=True)
    assert main(["check", str(healthy)]) == 0
    assert "all 2 operation(s) ok" in capsys.readouterr().out
    assert main(["check", str(degraded)]) == 1
    out = capsys.readouterr().out
    assert "1 of 2 operation(s) degraded" in out and "db <query>" in out
    assert main(["check", str(degraded), "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == {"degraded": ["db <query>"], "operations": 2}
    assert main(["check", str(tmp_path / "missing.json")]) == 2
    (tmp_path / "other.json").write_text('{"schema": "perfguard.baselines"}')
    assert main(["check", str(tmp_path / "other.json")]) == 2
    assert "invalid schema version" in capsys.readouterr().err
    (tmp_path / "other.json").write_text('{"schema": "something else"}')
    assert main(["check", str(tmp_path / "other.json")]) == 2
    assert "not a perfguard report, baseline file or shard folder" in capsys.readouterr().err


def test_report_is_one_self_contained_page(tmp_path: Path) -> None:
    source, page = tmp_path / "report.json", tmp_path / "report.html"
    write_report(source, degrade=True)
    assert main(["report", str(source), "-o", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("<!doctype html>")
    assert "db &lt;query&gt;" in text and "<query>" not in text  # names are escaped
    assert text.count("<svg") == 4  # a distribution and a timeline per operation
    assert "degraded" in text and "stroke-dasharray" in text  # baseline markers
    for outside in ("http://", "https://", "<script", "src="):
        assert outside not in text.replace("http://www.w3.org/2000/svg", "")


def test_report_of_names_with_lone_surrogates(tmp_path: Path) -> None:
    tracker = PerformanceTracker(autosave_interval=None)
    for _ in range(20):
        tracker.record("lone \ud800 surrogate", 0.01)
    tracker.write_report(tmp_path / "r.json")
    assert main(["report", str(tmp_path / "r.json"), "-o", str(tmp_path / "r.html")]) == 0
    assert "lone \ufffd surrogate" in (tmp_path / "r.html").read_text(encoding="utf-8")
    assert json.loads((tmp_path / "r.json").read_text())["operations"]


def test_check_fails_on_an_operation_idle_in_the_middle_of_an_episode(tmp_path: Path) -> None:
    """A dependency that hangs completes no call: the operation turns "idle", but its
    episode is still open, and a CI check must not pass it."""
    clock = FakeClock()
    tracker = PerformanceTracker(
        clock=clock, config=TrackerConfig(idle_after=60.0, autosave_interval=None)
    )
    healthy_then_slower(tracker, "db", seed=4)
    assert tracker.state("db") == "degraded"
    clock.advance(3600.0)
    assert tracker.state("db") == "idle"
    report = tmp_path / "report.json"
    tracker.write_report(report)
    assert main(["check", str(report)]) == 1


@pytest.mark.parametrize(
    "document",
    [
        {"operations": 5},
        {"operations": [{"name": "a"}]},
        {"operations": {"a": 3}},
        {"operations": {"a": {"state": [1]}}},
        {"operations": {"a": {"state": "degraded", "events": "boom"}}},
        {"operations": {"a": {"state": "idle", "degraded_signals": 7}}},
        {},
    ],
)
@pytest.mark.parametrize("command", ["check", "report"])
def test_a_damaged_report_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], document: dict[str, object], command: str
) -> None:
    """Issue 11, item 18: never exit 1 ("degraded" to CI) nor a traceback on a bad report."""
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"schema": "perfguard.report", "version": 1, **document}))
    arguments = [command, str(path)] + (
        ["-o", str(tmp_path / "r.html")] if command == "report" else []
    )
    assert main(arguments) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "damaged report" in err and "Traceback" not in err
