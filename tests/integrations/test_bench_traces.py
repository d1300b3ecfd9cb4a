"""bench/record_traces.py writes traces the real-trace scorer reads (the shared set's
format), so a user can score perfguard on recordings of their own machine."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_recorded_traces_are_labelled_and_scored(tmp_path: Path) -> None:
    names = "sqlite_step_noindex,cpu_healthy"
    subprocess.run(
        [sys.executable, str(BENCH / "record_traces.py"), "--out", str(tmp_path),
         "--calls", "300", "--seed", "3", "--only", names],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    labels = json.loads((tmp_path / "labels.json").read_text())["streams"]
    assert sorted(labels) == ["cpu_healthy", "sqlite_step_noindex"]
    step = labels["sqlite_step_noindex"]
    (change,) = step["change_points"]
    assert step["family"] == "step" and 100 <= change["index"] < 200
    # the index really was dropped: point queries became table scans
    assert change["after"]["p50"] > 5 * change["before"]["p50"]
    assert step["check"]["ok"] is True
    assert labels["cpu_healthy"]["change_points"] == []
    with (tmp_path / "cpu_healthy.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 300 and all(float(r["value"]) > 0 for r in rows)
    scored = subprocess.run(
        [sys.executable, str(BENCH / "realtrace.py"), "--data", str(tmp_path), "--jobs", "1"],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "2 traces, 600 calls" in scored.stdout
    assert "- caught within 500: " in scored.stdout and " of 1" in scored.stdout
    # several folders are scored each and pooled; --episodes lists the alert episodes
    pooled = subprocess.run(
        [sys.executable, str(BENCH / "realtrace.py"), "--data", str(tmp_path), str(tmp_path),
         "--jobs", "1", "--episodes"],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert pooled.stdout.count("2 traces, 600 calls") == 2
    assert "all 2 folders pooled: 4 traces" in pooled.stdout
    header = "| trace | began at | false | signals | effect | calls judged | lasted |"
    assert header in pooled.stdout
