"""The Alertmanager sink against a real Alertmanager (Debian's prometheus-alertmanager,
started here on a loopback port and always stopped): a tracker driven into degradation
fires an alert with perfguard's labels and figures, its recovery resolves it. The
delivery rules (bounded queue, retries, re-sends, close) against a local stub server."""

from __future__ import annotations

import dataclasses
import http.server
import json
import logging
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfguard import ConfigurationError, DegradationEvent, PerformanceTracker
from perfguard.alertmanager import AlertmanagerSink, Outbox
from perfguard.testing import FakeClock
from tests.conftest import lognormal_stream

BINARY = "prometheus-alertmanager"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "alertmanager_sink.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(predicate: Any, what: str, deadline: float = 20.0) -> Any:
    """Poll until predicate() is truthy (a server's answer, not a timing)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Alertmanager:
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = folder / "alertmanager.yml"
        config.write_text("route:\n  receiver: default\nreceivers:\n  - name: default\n")
        self.log = (folder / "alertmanager.log").open("wb")
        self.process = subprocess.Popen(
            [
                BINARY,
                f"--config.file={config}",
                f"--storage.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"{BINARY} exited with {self.process.returncode}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def alerts(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=5) as response:
            alerts: list[dict[str, Any]] = json.loads(response.read())
            return alerts

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.log.close()


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    if shutil.which(BINARY) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the Alertmanager tests: {BINARY} is missing")
        pytest.skip(f"{BINARY} is not installed (apt-get install prometheus-alertmanager)")
    server = Alertmanager(tmp_path)
    try:
        wait_for(server.ready, "Alertmanager to be ready")
        yield server
    finally:
        server.stop()


def degrade_then_recover(
    tracker: PerformanceTracker, clock: FakeClock, rng: random.Random, phase: str
) -> None:
    median = 0.1 if phase == "slow" else 0.05
    count = {"learn": 3000, "slow": 600, "recover": 3000}[phase]
    for value in lognormal_stream(rng, count, median=median):
        clock.advance(0.01)
        tracker.record("GET /checkout", value)


def test_a_degradation_fires_and_its_recovery_resolves_it(alertmanager: Alertmanager) -> None:
    clock = FakeClock(start=time.time() - 3600)  # an hour ago: startsAt in the past
    tracker = PerformanceTracker(autosave_interval=None, clock=clock)
    sink = AlertmanagerSink(alertmanager.url, labels={"service": "shop", "env": "test"})
    tracker.on_alert(sink)
    rng = random.Random(7)
    try:
        degrade_then_recover(tracker, clock, rng, "learn")
        degrade_then_recover(tracker, clock, rng, "slow")
        assert tracker.state("GET /checkout") == "degraded"

        def firing() -> list[dict[str, Any]]:
            return [a for a in alertmanager.alerts() if a["labels"].get("alertname")]

        (alert,) = wait_for(firing, "the alert to be listed")
        labels = alert["labels"]
        assert labels["alertname"] == "PerfguardDegraded"
        assert labels["operation"] == "GET /checkout"
        assert labels["kind"] in {"latency", "tail"}
        assert labels["service"] == "shop" and labels["env"] == "test"
        assert alert["status"]["state"] == "active"
        notes = alert["annotations"]
        assert "degraded" in notes["summary"]
        assert float(notes["current_p50"].rstrip("s")) > float(notes["baseline_p50"].rstrip("s"))
        assert notes["effect"].startswith("x") and notes["since"].endswith("+00:00")
        assert {"baseline_p95", "baseline_p99", "current_p95", "current_p99"} <= set(notes)

        degrade_then_recover(tracker, clock, rng, "recover")
        assert tracker.state("GET /checkout") == "ok"
        # a resolved alert (endsAt in the past) is no longer listed by the v2 API
        wait_for(lambda: not firing(), "the alert to be resolved")
        # the sender counts a batch once its POST returned: Alertmanager may show the
        # effect a moment before the sink's thread has counted it
        wait_for(lambda: sink.delivered >= 2, "the resolution to be counted")
        assert sink.dropped == 0
    finally:
        sink.close()
    assert not sink._thread.is_alive()


def test_the_example_posts_to_a_real_alertmanager(alertmanager: Alertmanager) -> None:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLE), alertmanager.url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "firing in Alertmanager: PerfguardDegraded GET /search" in completed.stdout
    assert "resolved in Alertmanager" in completed.stdout


# -- delivery rules, against a stub -------------------------------------------------------


class Stub(http.server.BaseHTTPRequestHandler):
    statuses: list[int]
    bodies: list[list[dict[str, Any]]]
    hold: threading.Event
    received: threading.Event

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.bodies.append(body)
        self.received.set()
        self.hold.wait(10)
        status = self.statuses.pop(0) if self.statuses else 200
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[type[Stub]]:
    handler = type("Handler", (Stub,), {})
    handler.statuses, handler.bodies = [], []
    handler.hold, handler.received = threading.Event(), threading.Event()
    handler.hold.set()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler
    finally:
        handler.hold.set()
        server.shutdown()
        server.server_close()


def event(operation: str = "op", kind: str = "degraded", signal: str = "latency") -> Any:
    return DegradationEvent(
        operation=operation,
        kind=kind,  # type: ignore[arg-type]
        signals=(signal,),  # type: ignore[arg-type]
        baseline={"p50": 0.01, "p95": 0.03, "p99": 0.05},
        current={"p50": 0.02, "p95": 0.06, "p99": 0.09},
        effect_ratio=2.0,
        evidence={},
        sample_index=100,
        time=1_700_000_100.0,
        started_at_sample=50,
        started_at_time=1_700_000_000.0,
    )


def test_failures_are_retried_with_backoff_until_accepted(stub: type[Stub]) -> None:
    stub.statuses = [503, 500]
    sink = AlertmanagerSink(stub.url, max_backoff=0.2)  # type: ignore[attr-defined]
    try:
        sink(event())
        wait_for(lambda: sink.delivered == 1, "the third post to be accepted")
    finally:
        sink.close()
    assert sink.failed_posts == 2
    assert len(stub.bodies) == 3 and stub.bodies[0] == stub.bodies[2]
    assert stub.bodies[0][0]["labels"] == {
        "alertname": "PerfguardDegraded",
        "operation": "op",
        "kind": "latency",
    }


def test_a_bad_request_is_dropped_not_retried(stub: type[Stub], caplog: Any) -> None:
    stub.statuses = [400]
    sink = AlertmanagerSink(stub.url)  # type: ignore[attr-defined]
    with caplog.at_level(logging.ERROR, logger="perfguard"):
        sink(event())
        wait_for(lambda: sink.failed_posts == 1, "the refused post")
        sink.close()
    assert len(stub.bodies) == 1 and sink.delivered == 0
    assert "refused 1 alerts" in caplog.text


def test_a_full_queue_drops_and_counts_without_blocking(stub: type[Stub], caplog: Any) -> None:
    stub.hold.clear()  # the first post hangs: the worker is busy
    sink = AlertmanagerSink(stub.url, queue_size=2)  # type: ignore[attr-defined]
    try:
        sink(event("a"))
        assert stub.received.wait(10)
        with caplog.at_level(logging.WARNING, logger="perfguard"):
            for name in ("b", "c", "d", "e"):
                sink(event(name))  # two fit the queue, two are dropped
        assert sink.dropped == 2
        assert "dropped the degraded event of d: its queue is full (1 dropped)" in caplog.text
        stub.hold.set()
        wait_for(lambda: sink.delivered == 3, "the queued alerts")
    finally:
        stub.hold.set()
        sink.close()
    assert {a["labels"]["operation"] for body in stub.bodies for a in body} == {"a", "b", "c"}


def test_close_gives_up_at_its_deadline(caplog: Any) -> None:
    sink = AlertmanagerSink(f"http://127.0.0.1:{free_port()}", max_backoff=0.1)  # nobody
    sink(event())
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        started = time.monotonic()
        sink.close(timeout=0.5)
    assert time.monotonic() - started < 5.0
    assert not sink._thread.is_alive()
    assert "closed with 1 alerts not delivered" in caplog.text
    sink(event("late"))
    assert sink.dropped == 1


def test_outbox_resends_firing_alerts_and_resolves_with_ends_at() -> None:
    outbox = Outbox({"team": "a"}, "PerfguardDegraded", 60.0, None)
    now = 1_700_000_200.0
    outbox.apply(event("x"), now)
    (firing,) = outbox.batch()
    assert firing["endsAt"] == "2023-11-14T22:20:40.000+00:00"  # now + 4 x 60 s
    assert firing["startsAt"] == "2023-11-14T22:13:20.000+00:00"  # the episode's start
    outbox.delivered(outbox.batch())
    assert outbox.batch() == []
    outbox.resend(now + 60)
    (again,) = outbox.batch()
    assert again["endsAt"] == "2023-11-14T22:21:40.000+00:00"
    outbox.delivered(outbox.batch())
    outbox.apply(event("x", kind="recovered"), now + 90)
    (resolved,) = outbox.batch()
    assert resolved["labels"] == firing["labels"]
    assert resolved["endsAt"] == "2023-11-14T22:18:10.000+00:00"  # the recovery
    assert "recovered" in resolved["annotations"]
    outbox.delivered(outbox.batch())
    outbox.resend(now + 120)
    assert outbox.batch() == []  # nothing fires any more


def test_a_new_main_signal_ends_the_old_alert() -> None:
    outbox = Outbox({}, "PerfguardDegraded", 60.0, None)
    outbox.apply(event("x", signal="tail"), 1_700_000_200.0)
    outbox.delivered(outbox.batch())
    outbox.apply(event("x", signal="latency"), 1_700_000_260.0)
    ended, started = outbox.batch()
    assert ended["labels"]["kind"] == "tail" and ended["endsAt"].startswith("2023-11-14T22:17:40")
    assert started["labels"]["kind"] == "latency"


def test_a_worsening_updates_the_alert_and_keeps_its_start() -> None:
    """A worsened episode (a signal added, or 2x slower again) is the same alert: its
    annotations are the new figures, its startsAt still the episode's start."""
    outbox = Outbox({}, "PerfguardDegraded", 60.0, None)
    outbox.apply(event("x"), 1_700_000_200.0)
    (first,) = outbox.batch()
    outbox.delivered([first])
    worse = dataclasses.replace(
        event("x"),
        current={"p50": 0.2, "p95": 0.6, "p99": 0.9},
        started_at_time=1_700_000_150.0,
        evidence={"worsened": True, "escalated": True, "episode_began_at_sample": 50,
                  "added_signals": [], "episode_p50": 0.02, "times_episode_p50": 10.0},
    )  # fmt: skip
    outbox.apply(worse, 1_700_000_260.0)
    (updated,) = outbox.batch()
    assert updated["labels"] == first["labels"]
    assert updated["startsAt"] == first["startsAt"]
    assert "10.0x slower" in updated["annotations"]["summary"]


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"url": "alertmanager:9093"}, "url"),
        ({"url": "http://a", "labels": {"operation": "x"}}, "labels"),
        ({"url": "http://a", "labels": {"bad-name": "x"}}, "labels"),
        ({"url": "http://a", "labels": {"team": ""}}, "labels['team']"),
        ({"url": "http://a", "queue_size": 0}, "queue_size"),
        ({"url": "http://a", "resend_interval": 0}, "resend_interval"),
    ],
)
def test_bad_settings_are_configuration_errors(kwargs: dict[str, Any], setting: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        AlertmanagerSink(**kwargs)
    assert caught.value.setting == setting
