"""Issue 13: `perfguard top` — one frame with --once, and the live mode in a real
pseudo-terminal, redrawn until Ctrl-C."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perfguard import ShardStore
from perfguard._cli import main
from perfguard._cli.top import sparkline, top
from perfguard.testing import FakeClock
from tests.unit.cli.test_cli import _subprocess_env
from tests.unit.cli.test_targets import run_service


def test_sparkline_scales_between_the_smallest_and_the_largest() -> None:
    assert sparkline([1.0, 2.0, None, 8.0]) == "▁▂ █"
    assert sparkline([3.0, 3.0]) == "▁▁"
    assert sparkline([None, None]) == ""


def test_top_once_draws_a_sparkline_of_p95(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_service(tmp_path / "b.json", FakeClock(), slow=True)
    assert main(["top", str(tmp_path / "b.json"), "--once"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("operation"))
    assert header.split()[:3] == ["operation", "state", "calls/s"]
    db = next(line for line in out.splitlines() if line.startswith("db "))
    spark = db.split()[-1]
    assert spark[-1] in "▆▇█" and min(spark) in "▁▂"  # the slow minutes are the last ones


def test_live_frames_are_redrawn_with_fresh_figures(tmp_path: Path) -> None:
    """In-process: frames read the store again each time (a second frame sees a state
    the first did not)."""
    folder = tmp_path / "store"
    clock = FakeClock()
    run_service(ShardStore(folder), clock, slow=False)
    frames: list[str] = []

    class Screen:
        def write(self, text: str) -> None:
            frames.append(text)

        def flush(self) -> None:
            return None

    def between_frames(_: float) -> None:
        run_service(ShardStore(folder), clock, slow=True)

    assert top(str(folder), once=False, out=Screen(), sleep=between_frames, frames=2) == 0  # type: ignore[arg-type]
    assert len(frames) == 2 and all(f.startswith("\x1b[H\x1b[2J") for f in frames)
    assert "degraded" not in frames[0] and "degraded" in frames[1]


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_top_in_a_pseudo_terminal_until_ctrl_c(tmp_path: Path) -> None:
    run_service(tmp_path / "b.json", FakeClock(), slow=True)
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "perfguard", "top", str(tmp_path / "b.json"), "--interval", "0.2"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=_subprocess_env(),
        close_fds=True,
        # a job started in the background (nohup ... &) ignores SIGINT, and so would the
        # child: Ctrl-C at a real terminal reaches a process that has the default handler
        preexec_fn=_default_sigint,
    )
    os.close(terminal)
    seen = b""
    try:
        deadline = time.monotonic() + 60.0
        while seen.count(b"perfguard top:") < 3 and time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 1.0)
            if ready:
                try:
                    seen += os.read(controller, 65536)
                except OSError:  # the terminal closed: the process ended
                    break
        assert seen.count(b"perfguard top:") >= 3, seen[-2000:]
        process.send_signal(signal.SIGINT)
        # keep reading as a terminal does: a full pty buffer would block its last write
        deadline = time.monotonic() + 30.0
        while process.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(controller, 65536)
                except OSError:
                    break
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)
    text = seen.decode("utf-8", "replace")
    assert text.count("\x1b[H\x1b[2J") >= 3  # the screen is redrawn, not scrolled
    assert "degraded" in text and "Ctrl-C quits" in text
    assert "Traceback" not in text
