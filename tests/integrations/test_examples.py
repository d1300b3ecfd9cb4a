"""Every example in examples/ runs as written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("prometheus_export.py", 'perfguard_calls_total{operation="db.query"} 500.0'),
        ("otel_export.py", "perfguard.calls"),
        ("starlette_app.py", "GET /users/{user_id}: 50 calls"),
        ("flask_app.py", "GET /orders/<int:order_id>: 50 calls"),
        ("multiprocess_shards.py", "checkout learned from 4000 calls of 4 processes"),
    ],
)
def test_example_runs(script: str, expected: str, tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert expected in completed.stdout


def test_pytest_plugin_example(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        str(EXAMPLES / "test_perf_example.py"),
        "--rootdir",
        str(tmp_path),
        "-p",
        "no:cacheprovider",
    ]
    for _ in range(2):  # the first run stores the baseline, the second compares with it
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=120, cwd=tmp_path
        )
        assert completed.returncode == 0, completed.stdout[-2000:]
    assert list(tmp_path.glob(".perfguard/*/*.json"))
