"""gunicorn with 4 uvicorn workers and one JSON path, the way a user deploys: a scrape of
/metrics answered by any worker sums every worker's calls (within the publish lag), and
after a graceful stop (SIGTERM to the master) the stored calls equal the requests
served, with and without --preload. uvicorn's worker dies by a re-sent SIGTERM after its graceful
shutdown, so the save happens at the ASGI lifespan shutdown the middleware sees."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("gunicorn")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")
pytest.importorskip("prometheus_client")

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from perfguard import JsonFileStore  # noqa: E402

REQUESTS = 400
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_serving(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "gunicorn exited before serving"
        try:
            httpx.get(f"{base}/ready-probe", timeout=1.0)  # an unmatched route: not timed
            return
        except httpx.TransportError:
            time.sleep(0.1)  # readiness polling, not timing
    raise AssertionError("gunicorn did not start serving within 60 s")


def _scraped_calls(base: str) -> float:
    """perfguard_calls_total of GET /hello from one scrape on a fresh connection (so
    any worker may answer), parsed with prometheus_client's parser."""
    text = httpx.get(f"{base}/metrics", timeout=10.0).text
    for family in text_string_to_metric_families(text):
        if family.name == "perfguard_calls":
            for sample in family.samples:
                if sample.labels.get("operation") == "GET /hello":
                    return sample.value
    return 0.0


def _scrape_until(base: str, served: int) -> float:
    """Scrapes until six in a row (answered by whichever workers) report the calls
    served: each worker publishes once a second, so the sums agree within about a
    second of the last request; at most 10 s. Returns the smallest of the last six."""
    deadline = time.monotonic() + 10
    while True:
        recent = [_scraped_calls(base) for _ in range(6)]
        if all(value == served for value in recent) or time.monotonic() > deadline:
            return min(recent)
        time.sleep(0.2)  # waiting out the stated lag, not timing anything


@pytest.mark.skipif(sys.platform != "linux", reason="gunicorn needs a POSIX system")
@pytest.mark.parametrize("preload", [False, True], ids=["workers-import", "preload"])
def test_four_workers_on_one_path_store_every_request(tmp_path: Path, preload: bool) -> None:
    path = tmp_path / "baselines.json"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "gunicorn", "-w", "4", "-k", "uvicorn.workers.UvicornWorker",
        "-b", f"127.0.0.1:{port}", "--graceful-timeout", "20",
        *(["--preload"] if preload else []),
        "tests.integrations.gunicorn_app:app",
    ]  # fmt: skip
    env = {**os.environ, "PERFGUARD_TEST_STORAGE": str(path), "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE)
    pids: set[str] = set()
    served = 0
    try:
        _wait_until_serving(base, server)
        # a new connection per request, so the kernel spreads them over the workers
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=base, limits=limits, timeout=10.0) as client:
            for _ in range(REQUESTS):
                response = client.get("/hello")
                assert response.status_code == 200
                pids.add(response.text)
                served += 1
        scraped = _scrape_until(base, served)
        assert scraped == served, f"host-wide scrape: {scraped} of {served} calls"
    finally:
        server.send_signal(signal.SIGTERM)  # gunicorn's graceful stop
        try:
            _, errors = server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            _, errors = server.communicate()
    assert server.returncode == 0, errors.decode(errors="replace")[-2000:]
    assert len(pids) >= 2, "the requests all went to one worker"
    store = JsonFileStore(path)
    assert store.calls()["GET /hello"] == served
    assert store.load()["GET /hello"].sample_count >= 10
