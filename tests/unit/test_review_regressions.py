"""Regressions found in review: each test pins a behaviour that once was wrong."""

from __future__ import annotations

import gc
import json
import random
import threading
from pathlib import Path

import pytest

from perfguard import (
    DegradationEvent,
    InvalidDurationError,
    JsonFileStore,
    PerformanceTracker,
    UnknownTimerError,
)
from perfguard._cli import main
from tests.conftest import fixed_baseline


def degrading_stream(tracker: PerformanceTracker) -> None:
    rng = random.Random(1)
    for _ in range(2000):
        tracker.record("op", rng.lognormvariate(-4.0, 0.4))
    for _ in range(400):
        tracker.record("op", rng.lognormvariate(-2.0, 0.4))


def test_an_alert_decided_while_enabling_histograms_is_still_delivered() -> None:
    events: list[DegradationEvent] = []
    tracker = PerformanceTracker(autosave_interval=None, on_alert=events.append)
    degrading_stream(tracker)  # the last samples are still pending here
    tracker.enable_histogram((0.01, 0.1))
    assert tracker.state("op") == "degraded"
    assert [e.kind for e in events] == ["degraded"]
    assert [e.kind for e in tracker.events("op")] == ["degraded"]


def test_a_forgotten_tracker_ends_its_autosave_thread(tmp_path: Path) -> None:
    def alive() -> int:
        return sum(t.name == "perfguard-autosave" and t.is_alive() for t in threading.enumerate())

    before = alive()
    trackers = [PerformanceTracker(storage=tmp_path / f"{i}.json") for i in range(3)]
    assert alive() == before + 3
    del trackers  # dropped without close()
    gc.collect()
    for thread in threading.enumerate():
        if thread.name == "perfguard-autosave":
            thread.join(timeout=5)
    assert alive() == before


def test_huge_or_infinite_durations_are_refused_and_change_nothing() -> None:
    tracker = PerformanceTracker(autosave_interval=None)
    tracker.record("op", 0.01)
    for bad in (10**400, 1e300, float("inf")):
        with pytest.raises(InvalidDurationError):
            tracker.record("op", bad)
    stats = tracker.stats("op")
    assert stats["sample_count"] == 1 and stats["window_count"] == 1


def test_a_non_ascii_digit_timer_id_is_an_unknown_timer() -> None:
    tracker = PerformanceTracker(autosave_interval=None)
    token = tracker.start("op").split("-")[0]
    with pytest.raises(UnknownTimerError):
        tracker.end(f"{token}-\u00b2")


def test_show_reads_a_baseline_file_whatever_its_operation_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.json"
    JsonFileStore(path).save({"perfguard.combined": fixed_baseline(5)})
    assert main(["show", str(path)]) == 0
    assert "perfguard.combined" in capsys.readouterr().out


def test_report_of_names_with_lone_surrogates(tmp_path: Path) -> None:
    tracker = PerformanceTracker(autosave_interval=None)
    for _ in range(20):
        tracker.record("lone \ud800 surrogate", 0.01)
    tracker.write_report(tmp_path / "r.json")
    assert main(["report", str(tmp_path / "r.json"), "-o", str(tmp_path / "r.html")]) == 0
    assert "lone \ufffd surrogate" in (tmp_path / "r.html").read_text(encoding="utf-8")
    assert json.loads((tmp_path / "r.json").read_text())["operations"]


def test_wsgi_body_that_fails_while_streaming_is_a_failure() -> None:
    from perfguard.wsgi import PerfguardWSGIMiddleware

    def app(environ: dict[str, object], start_response):  # type: ignore[no-untyped-def]
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body():  # type: ignore[no-untyped-def]
            yield b"partial"
            raise ConnectionError("upstream went away")

        return body()

    tracker = PerformanceTracker(autosave_interval=None)
    wrapped = PerfguardWSGIMiddleware(app, tracker)
    environ = {"REQUEST_METHOD": "GET", "perfguard.route": "/stream"}
    response = wrapped(environ, lambda status, headers, exc_info=None: None)
    with pytest.raises(ConnectionError):
        list(response)
    response.close()  # type: ignore[attr-defined]
    stats = tracker.stats("GET /stream")
    assert stats["failure_count"] == 1
    assert stats["recent_errors"][0]["metadata"] == {"error": "ConnectionError"}


def test_invented_http_methods_cannot_mint_operations() -> None:
    import asyncio

    from perfguard.asgi import PerfguardMiddleware

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def noop_send(message):  # type: ignore[no-untyped-def]
        return None

    tracker = PerformanceTracker(autosave_interval=None)
    middleware = PerfguardMiddleware(app, tracker)
    for method in ("GET", "BREW", "X-ATTACK-1", "X-ATTACK-2"):
        asyncio.run(middleware({"type": "http", "method": method}, None, noop_send))  # type: ignore[arg-type]
    assert tracker.operations() == ["GET unmatched", "OTHER unmatched"]
