"""bench/record_traces.py writes traces the real-trace scorer reads (the shared set's
format), so a user can score perfguard on recordings of their own machine."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

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


def _write_trace(folder: Path, name: str, values: list[float], label: dict[str, object]) -> None:
    with (folder / f"{name}.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["value", "success", "start_s"])
        writer.writerows([f"{v:.9f}", 1, f"{i * 0.001:.3f}"] for i, v in enumerate(values))
    labels_path = folder / "labels.json"
    labels = json.loads(labels_path.read_text()) if labels_path.exists() else {"streams": {}}
    labels["streams"][name] = label
    labels_path.write_text(json.dumps(labels))


def test_information_floor_tells_a_step_sooner_than_a_tail_only_change(tmp_path: Path) -> None:
    """bench/information_floor.py: a 2x step carries far more evidence per call than a
    p99 that doubles, so its expected delay is a few calls and the tail's hundreds."""
    rng = random.Random(20261202)
    n, at = 3000, 1500

    def change(kind: str) -> dict[str, object]:
        point = {"index": at, "kind": kind, "end": None, "ramp": None}
        return {"kind": "cpu", "family": kind, "change_points": [point], "check": {"ok": True}}

    step = [rng.lognormvariate(0.0, 0.1) * (2.0 if i >= at else 1.0) * 1e-3 for i in range(n)]
    # tail only: from the change on, 2 % of calls take 3x as long, the median stays
    tail = [
        rng.lognormvariate(0.0, 0.1) * (3.0 if i >= at and rng.random() < 0.02 else 1.0) * 1e-3
        for i in range(n)
    ]
    _write_trace(tmp_path, "step", step, change("step"))
    _write_trace(tmp_path, "tail", tail, change("tail"))
    out = subprocess.run(
        [sys.executable, str(BENCH / "information_floor.py"), "--data", str(tmp_path),
         "--per-fault"],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    floors = {
        line.split()[0]: float(line.split("floor=")[1].split()[0])
        for line in out.splitlines()
        if "floor=" in line
    }
    assert floors["step"] < 10 < 100 < floors["tail"]
    assert "| all | 2 |" in subprocess.run(
        [sys.executable, str(BENCH / "information_floor.py"), "--data", str(tmp_path),
         "--markdown"],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip


def test_a_real_fastapi_service_is_recorded_route_by_route_and_replayed(tmp_path: Path) -> None:
    """bench/record_fastapi.py: the example's service under load, every call saved."""
    for module in ("fastapi", "uvicorn", "httpx"):
        pytest.importorskip(module)
    run = subprocess.run(
        [sys.executable, str(BENCH / "record_fastapi.py"), "--out", str(tmp_path),
         "--steady", "2", "--slowed", "2", "--clients", "1"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert run.returncode in (0, 1), run.stderr  # 1: seconds of load catch no fault
    labels = json.loads((tmp_path / "labels.json").read_text())["streams"]
    assert "fastapi_post_orders" in labels and "fastapi_get_users_user_id" in labels
    slowed = labels["fastapi_post_orders"]
    (change,) = slowed["change_points"]
    assert slowed["family"] == "step" and 0 < change["index"] < slowed["n"]
    assert all(labels[name]["change_points"] == [] for name in labels if "post" not in name)
    for name, label in labels.items():
        with (tmp_path / f"{name}.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == label["n"] and all(float(r["value"]) > 0 for r in rows)
        assert all(float(r["start_s"]) >= 0 for r in rows)  # since the tracker was made
    scored = subprocess.run(
        [sys.executable, str(BENCH / "realtrace.py"), "--data", str(tmp_path), "--jobs", "1"],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert f"{len(labels)} traces" in scored.stdout


def test_a_saved_service_run_is_replayed_through_one_tracker(tmp_path: Path) -> None:
    """record_fastapi.py --replay: every route's calls through one tracker, in the order
    they completed; an alert is named with its route and how long after the fault."""
    rng = random.Random(4)
    healthy = [rng.lognormvariate(-6.2, 0.2) for _ in range(3000)]
    slowed = [rng.lognormvariate(-6.2, 0.2) * (3.0 if i >= 2000 else 1.0) for i in range(3000)]
    step = {"index": 2000, "kind": "step", "end": None, "ramp": None}
    route = {"kind": "fastapi", "family": "healthy", "change_points": []}
    _write_trace(tmp_path, "fastapi_get_users", healthy, route)
    _write_trace(tmp_path, "fastapi_post_orders", slowed, {**route, "change_points": [step]})
    run = subprocess.run(
        [sys.executable, str(BENCH / "record_fastapi.py"), "--replay", str(tmp_path)],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    (line,) = run.stdout.splitlines()
    assert line.startswith("fastapi_post_orders degraded (latency) at call ")
    after = int(line.split(", ")[1].split()[0])
    assert 0 <= after < 200
