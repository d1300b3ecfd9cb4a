"""The HTML report in a real headless browser (Debian's chromium): it loads with no
console error, and the screenshot shows the charts (their colours are on screen)."""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from perfguard import PerformanceTracker
from perfguard._cli import main

BAR_BLUE = (0x5C, 0x8F, 0xD6)
DEGRADED_RED = (0xC6, 0x28, 0x28)


def browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI") == "true":
        pytest.fail("CI must run the browser test: chromium is not installed")
    pytest.skip("no chromium on this machine")


def run_headless(
    executable: str, tmp_path: Path, *arguments: str
) -> subprocess.CompletedProcess[str]:
    """Headless chromium, offline and with a throwaway profile, on these arguments."""
    return subprocess.run(
        [
            executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'p'}",
            *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def png_colours(data: bytes) -> set[tuple[int, int, int]]:
    """The distinct RGB colours of an 8-bit RGB/RGBA, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour_type in (2, 6)
    channels = 3 if colour_type == 2 else 4
    stride = width * channels
    raw = zlib.decompress(idat)
    previous = bytearray(stride)
    colours: set[tuple[int, int, int]] = set()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (
                    line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)
                ) & 0xFF
        for i in range(0, stride, channels):
            colours.add((line[i], line[i + 1], line[i + 2]))
        previous = line
    return colours


def test_report_renders_in_a_headless_browser(tmp_path: Path) -> None:
    executable = browser()
    tracker = PerformanceTracker(autosave_interval=None)
    rng = random.Random(5)
    for _ in range(2500):
        tracker.record("checkout", rng.lognormvariate(-4.0, 0.4))
    for _ in range(400):
        tracker.record("checkout", rng.lognormvariate(-2.5, 0.4))
    assert tracker.state("checkout") == "degraded"
    tracker.write_report(tmp_path / "report.json")
    page = tmp_path / "report.html"
    assert main(["report", str(tmp_path / "report.json"), "-o", str(page)]) == 0
    shot = tmp_path / "shot.png"
    completed = run_headless(
        executable,
        tmp_path,
        "--hide-scrollbars",
        "--window-size=1200,700",
        "--enable-logging=stderr",
        "--log-level=0",
        f"--screenshot={shot}",
        page.as_uri(),
    )
    assert shot.exists(), completed.stderr[-2000:]
    console = [line for line in completed.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "rror" in line], console
    colours = png_colours(shot.read_bytes())
    assert BAR_BLUE in colours  # the latency histogram was drawn
    assert DEGRADED_RED in colours  # the degraded episode on the timeline


HOSTILE = "<img src=x onerror=\"document.title='PWNED'\">"


def test_a_hostile_report_runs_no_script_in_a_browser(tmp_path: Path) -> None:
    """Issue 11, item 14: a report file is anybody's; markup in any field, numbers
    included, reaches the page as text and runs nothing."""
    executable = browser()
    tracker = PerformanceTracker(autosave_interval=None)
    for index in range(200):
        tracker.record("checkout", 0.01 * (1 + index % 5))
    tracker.write_report(tmp_path / "report.json")
    report = json.loads((tmp_path / "report.json").read_text())
    stats = report["operations"]["checkout"]
    stats["sample_count"] = HOSTILE
    stats["recent_p95"] = HOSTILE
    stats["baseline"]["sample_count"] = HOSTILE
    stats["baseline"]["p95"] = HOSTILE
    stats["events"] = [{"kind": "degraded", "sample_index": HOSTILE, "summary": HOSTILE}]
    (tmp_path / "hostile.json").write_text(json.dumps(report))
    page = tmp_path / "hostile.html"
    stats["state"] = HOSTILE  # not a state at all: a damaged report, refused (item 18)
    (tmp_path / "no_state.json").write_text(json.dumps(report))
    assert main(["report", str(tmp_path / "no_state.json"), "-o", str(page)]) == 2
    assert main(["report", str(tmp_path / "hostile.json"), "-o", str(page)]) == 0
    assert "<img" not in page.read_text()
    completed = run_headless(executable, tmp_path, "--dump-dom", page.as_uri())
    dom = completed.stdout
    assert "<body" in dom, completed.stderr[-2000:]
    assert "PWNED" not in dom.split("<body", 1)[0]  # the title was not rewritten
    assert "<img" not in dom
    assert "&lt;img" in dom  # shown as text
