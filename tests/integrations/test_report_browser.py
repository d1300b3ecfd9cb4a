"""The HTML report in a real headless browser (Debian's chromium): it loads with no
console error, the screenshot shows the charts (their colours are on screen), and no two
text labels overlap (their boxes measured in the page by a script the test injects)."""

from __future__ import annotations

import html
import json
import os
import random
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from perfguard import PerformanceTracker
from perfguard._cli import main
from perfguard.testing import FakeClock

BAR_BLUE = (0x5C, 0x8F, 0xD6)
DEGRADED_RED = (0xC6, 0x28, 0x28)
P95_ORANGE = (0xE0, 0x7B, 0x00)


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


def degraded_report(path: Path) -> None:
    """A tracker's report: 40 minutes of healthy calls, then a slowdown, on a fake clock
    (latency over 45 minutes of wall time), and a second, healthy operation."""
    clock = FakeClock()
    tracker = PerformanceTracker(clock=clock, autosave_interval=None)
    rng = random.Random(5)
    for index in range(2900):
        factor = 4.5 if index >= 2500 else 1.0
        tracker.record("checkout", factor * rng.lognormvariate(-4.0, 0.4))
        tracker.record("cache.get", rng.lognormvariate(-7.5, 0.3))
        clock.advance(1.0)
    assert tracker.state("checkout") == "degraded"
    tracker.write_report(path)


# Run by the test in the page (never by the report itself): every text label's box as
# laid out, the pairs that overlap, written into the DOM that --dump-dom prints.
MEASURE = """
<script>
window.addEventListener('load', () => {
  const boxes = [...document.querySelectorAll('svg text')].map(t => {
    const r = t.getBoundingClientRect();
    return {text: t.textContent, l: r.left, r: r.right, t: r.top, b: r.bottom};
  });
  const overlaps = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], b = boxes[j];
    const w = Math.min(a.r, b.r) - Math.max(a.l, b.l), h = Math.min(a.b, b.b) - Math.max(a.t, b.t);
    if (w > 0.5 && h > 0.5) overlaps.push([a.text, b.text]);
  }
  const out = document.createElement('pre');
  out.id = 'measured';
  out.textContent = JSON.stringify({labels: boxes.length, overlaps: overlaps,
    width: document.documentElement.scrollWidth, viewport: window.innerWidth});
  document.body.appendChild(out);
});
</script>
"""


def measured(executable: str, tmp_path: Path, page: Path, width: int) -> dict[str, object]:
    probe = tmp_path / f"probe-{width}.html"
    probe.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    completed = run_headless(
        executable,
        tmp_path,
        f"--window-size={width},900",
        "--virtual-time-budget=5000",
        "--dump-dom",
        probe.as_uri(),
    )
    found = re.search(r"<pre id=\"measured\">(.*?)</pre>", completed.stdout, re.S)
    assert found, completed.stderr[-2000:]
    return dict(json.loads(html.unescape(found.group(1))))


def test_report_renders_in_a_headless_browser(tmp_path: Path) -> None:
    executable = browser()
    degraded_report(tmp_path / "report.json")
    page = tmp_path / "report.html"
    assert main(["report", str(tmp_path / "report.json"), "-o", str(page)]) == 0
    shot = tmp_path / "shot.png"
    completed = run_headless(
        executable,
        tmp_path,
        "--hide-scrollbars",
        "--window-size=1400,900",
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
    assert DEGRADED_RED in colours  # the degraded badge
    assert P95_ORANGE in colours  # p95 over time


@pytest.mark.parametrize("width", [1400, 800])
def test_no_two_labels_of_the_report_overlap(tmp_path: Path, width: int) -> None:
    """Issue 13: every text label of every chart, measured as the browser lays it out,
    touches no other; the page uses the window's width and no more."""
    executable = browser()
    degraded_report(tmp_path / "report.json")
    page = tmp_path / "report.html"
    assert main(["report", str(tmp_path / "report.json"), "-o", str(page)]) == 0
    result = measured(executable, tmp_path, page, width)
    assert result["overlaps"] == []
    assert int(str(result["labels"])) > 30  # axes, ticks and percentile labels were drawn
    assert int(str(result["width"])) <= int(str(result["viewport"]))


def test_the_trend_of_several_runs_has_no_overlapping_label(tmp_path: Path) -> None:
    executable = browser()
    for run in range(3):
        degraded_report(tmp_path / f"run{run}.json")
    page = tmp_path / "trend.html"
    runs = [str(tmp_path / f"run{run}.json") for run in range(3)]
    assert main(["report", *runs, "-o", str(page)]) == 0
    assert "trend across runs" in page.read_text()
    result = measured(executable, tmp_path, page, 1200)
    assert result["overlaps"] == []


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
    stats["timeline"] = [[HOSTILE, 1, 0, HOSTILE, 0.1, 0.2], [1e300, 2, 0, 0.1, 0.2, 0.3], 5]
    stats["recent_p95"] = HOSTILE
    stats["baseline"]["sample_count"] = HOSTILE
    stats["baseline"]["p95"] = HOSTILE
    stats["events"] = [{"kind": "degraded", "sample_index": HOSTILE, "summary": HOSTILE}]
    (tmp_path / "hostile.json").write_text(json.dumps(report))
    page = tmp_path / "hostile.html"
    assert main(["report", str(tmp_path / "hostile.json"), "-o", str(page)]) == 0
    stats["state"] = HOSTILE  # refused outright: a state is one of four words
    (tmp_path / "bad-state.json").write_text(json.dumps(report))
    assert main(["report", str(tmp_path / "bad-state.json"), "-o", str(tmp_path / "x")]) == 2
    assert "<img" not in page.read_text()
    completed = run_headless(executable, tmp_path, "--dump-dom", page.as_uri())
    dom = completed.stdout
    assert "<body" in dom, completed.stderr[-2000:]
    assert "PWNED" not in dom.split("<body", 1)[0]  # the title was not rewritten
    assert "<img" not in dom
    assert "&lt;img" in dom  # shown as text
