"""The `perfguard` command (_cli/main.py), the demo (_cli/demo.py) and the tables
(_cli/tables.py)."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import perfguard
from perfguard import Baseline, JsonFileStore
from perfguard._cli import main
from perfguard._cli.demo import run_demo
from perfguard._cli.tables import format_seconds, format_time, render_table, stats_table
from perfguard._stores.formats import SCHEMA_NAME
from tests.conftest import fixed_baseline

NAMES = ("db.query", "cache.get")


def _write_store(path: Path) -> dict[str, Baseline]:
    baselines = {
        "db.query": Baseline.from_samples([0.008, 0.009, 0.012], 1, now=1_700_000_000.0),
        "cache.get": Baseline.from_samples([0.0004, 0.0003, 0.0005], 0, now=1_700_000_100.0),
    }
    JsonFileStore(path).save(baselines)
    return baselines


def _subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(perfguard.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    return env


# -- show ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["b.json", "b.json.gz"])
def test_show_prints_a_table_naming_every_operation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = tmp_path / name
    _write_store(path)
    assert main(["show", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert f"{path}: 2 operation(s)" in out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("operation"))
    assert header.split() == [
        "operation", "p50", "p75", "p95", "p99", "mean", "std", "errors", "samples", "updated"
    ]  # fmt: skip
    split = [line.split() for line in lines]
    rows = {cells[0]: cells for cells in split if cells and cells[0] in NAMES}
    assert set(rows) == set(NAMES)
    assert rows["db.query"][1] == "9.0ms"  # p50
    assert rows["db.query"][7] == "25.0%"  # error rate: 1 failure in 4
    assert rows["cache.get"][1] == "400µs"
    assert "2023-11-14" in out  # updated_at rendered as a UTC date


def test_show_json_prints_valid_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "b.json"
    baselines = _write_store(path)
    assert main(["show", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert sorted(document) == sorted(NAMES)
    assert document == {name: b.to_dict() for name, b in baselines.items()}


def test_show_of_an_empty_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "b.json"
    JsonFileStore(path).save({})
    assert main(["show", str(path)]) == 0
    assert capsys.readouterr().out.strip() == f"{path}: no baselines"


def test_show_of_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "absent.json"
    assert main(["show", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert str(path) in err


@pytest.mark.parametrize(
    "content",
    [
        b"{truncated",
        b"[1, 2]",
        json.dumps({"schema": "other", "version": 1, "operations": {}}).encode(),
        json.dumps({"schema": SCHEMA_NAME, "version": 99, "operations": {}}).encode(),
    ],
    ids=["truncated", "list", "wrong-schema", "newer-schema"],
)
def test_show_of_a_corrupt_file_exits_2_and_leaves_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    assert main(["show", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert str(path) in err
    assert path.read_bytes() == content  # show only reads
    assert [p.name for p in tmp_path.iterdir()] == ["bad.json"]


def test_show_of_a_damaged_gz_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json.gz"
    path.write_bytes(gzip.compress(b'{"schema": "perfguard.baselines"}')[:10] + bytes(range(50)))
    assert main(["show", str(path)]) == 2
    assert str(path) in capsys.readouterr().err


def test_show_reads_a_baseline_file_whatever_its_operation_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.json"
    JsonFileStore(path).save({"perfguard.combined": fixed_baseline(5)})
    assert main(["show", str(path)]) == 0
    assert "perfguard.combined" in capsys.readouterr().out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "usage: perfguard" in capsys.readouterr().err


# -- demo ---------------------------------------------------------------------------------


def _alert_lines(text: str, word: str) -> list[str]:
    return [line for line in text.splitlines() if f"] {word}" in line and "db.query" in line]


def test_demo_returns_0_and_writes_a_file_show_can_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "sub" / "d.json"
    assert main(["demo", "--seconds", "0", "--output", str(output)]) == 0
    assert output.exists()
    capsys.readouterr()
    assert main(["show", str(output), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert sorted(document) == ["cache.get", "db.query", "payments.api", "render.page"]


def test_demo_output_has_alert_then_resolved_for_db_query(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_demo(tmp_path / "d.json", seconds=0.0, seed=7, out=out) == 0
    text = out.getvalue()
    alerts = _alert_lines(text, "ALERT")
    resolved = _alert_lines(text, "RESOLVED")
    assert alerts, text
    assert resolved, text
    lines = text.splitlines()
    assert lines.index(alerts[0]) < lines.index(resolved[0])
    assert "Operation db.query degraded" in alerts[0]
    assert "Operation db.query recovered" in resolved[0]


def test_demo_starts_from_scratch_over_an_existing_file(tmp_path: Path) -> None:
    output = tmp_path / "d.json"
    output.write_bytes(b"left over from an earlier run, not JSON")
    assert run_demo(output, seconds=0.0, out=io.StringIO()) == 0
    assert len(JsonFileStore(output).load()) == 4
    assert list(tmp_path.glob("d.json.corrupt-*")) == []


@pytest.mark.parametrize("seconds", ["-1", "61"])
def test_demo_rejects_seconds_out_of_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], seconds: str
) -> None:
    output = tmp_path / "d.json"
    assert main(["demo", "--seconds", seconds, "--output", str(output)]) == 2
    assert "--seconds" in capsys.readouterr().err
    assert not output.exists()


def test_demo_through_main_prints_to_current_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--seconds", "0", "--output", str(tmp_path / "d.json")]) == 0
    out = capsys.readouterr().out
    assert _alert_lines(out, "ALERT")
    assert _alert_lines(out, "RESOLVED")


# -- python -m perfguard ------------------------------------------------------------------


def test_module_version_and_demo_via_subprocess(tmp_path: Path) -> None:
    version = subprocess.run(
        [sys.executable, "-m", "perfguard", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_subprocess_env(),
        check=False,
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"perfguard {perfguard.__version__}"

    output = tmp_path / "d.json"
    demo = subprocess.run(
        [sys.executable, "-m", "perfguard", "demo", "--seconds", "0", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=60,
        env=_subprocess_env(),
        check=False,
    )
    assert demo.returncode == 0, demo.stderr
    assert _alert_lines(demo.stdout, "ALERT")
    assert _alert_lines(demo.stdout, "RESOLVED")
    assert output.exists()


# -- report tables ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "-"),
        (0.0, "0µs"),
        (0.0004, "400µs"),
        (0.000999, "999µs"),
        (0.001, "1.0ms"),
        (0.0123, "12.3ms"),
        (0.999, "999.0ms"),
        (1.0, "1.00s"),
        (12.345, "12.35s"),
    ],
)
def test_format_seconds(value: float | None, text: str) -> None:
    assert format_seconds(value) == text


def test_format_time_is_utc() -> None:
    assert format_time(0.0) == "1970-01-01 00:00:00Z"
    assert format_time(1_700_000_000.0) == "2023-11-14 22:13:20Z"


def test_render_table_pads_and_right_aligns_all_but_the_first_column() -> None:
    table = render_table(["name", "n"], [["a", "1"], ["longer", "100"]])
    assert table.splitlines() == [
        "name      n",
        "------  ---",
        "a         1",
        "longer  100",
    ]


def test_stats_table_handles_an_operation_still_learning() -> None:
    stats = {
        "operation": "new.op",
        "state": "learning",
        "sample_count": 3,
        "error_rate": None,
        "baseline": None,
        "recent_p50": 0.002,
        "recent_p95": None,
        "degradation_count": 0,
    }
    (row,) = stats_table([stats], {}).splitlines()[2:]
    assert row.split() == ["new.op", "learning", "3", "0.0%", "-", "-", "2.0ms", "-", "0", "0"]


def test_the_demo_says_resolved_only_when_every_figure_is_back() -> None:
    """Issue 13: a recovery whose error rate is still 10x the baseline's is not
    RESOLVED."""
    from perfguard._cli.demo import still_degraded
    from perfguard._events import DegradationEvent

    def recovery(errors: float, p50: float) -> DegradationEvent:
        return DegradationEvent(
            operation="db", kind="recovered", signals=("latency", "errors"),
            baseline={"p50": 0.008, "p95": 0.014, "p99": 0.019, "error_rate": 0.003},
            current={"p50": p50, "p95": 0.015, "p99": 0.019, "error_rate": errors},
            effect_ratio=1.0, evidence={}, sample_index=5000, time=1e9,
            started_at_sample=2992, started_at_time=1e9 - 60,
        )  # fmt: skip

    assert still_degraded(recovery(0.031, 0.008)) == ["errors 3.1% vs baseline 0.3%"]
    assert still_degraded(recovery(0.004, 0.0125)) == ["p50 12.5ms vs baseline 8.0ms"]
    assert still_degraded(recovery(0.004, 0.0085)) == []
