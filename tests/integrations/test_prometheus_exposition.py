"""Prometheus by the book: a real scrape of perfguard's ASGI metrics app (several
operations, a degraded one, hostile names) passes `promtool check metrics`, parses as
OpenMetrics, carries method/route labels, matches prometheus_client's own exposition,
renders off the event loop, and the middlewares leave /metrics out of the figures."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import threading
from typing import Any

import pytest

pytest.importorskip("prometheus_client")
httpx = pytest.importorskip("httpx")
pytest.importorskip("starlette")

from prometheus_client import CollectorRegistry, Counter, generate_latest  # noqa: E402
from prometheus_client.openmetrics.parser import (  # noqa: E402
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Mount, Route  # noqa: E402

from perfguard import ConfigurationError, PerformanceTracker  # noqa: E402
from perfguard.asgi import PerfguardMiddleware  # noqa: E402
from perfguard.prometheus import PerfguardCollector, make_asgi_app, render  # noqa: E402
from perfguard.testing import FakeClock  # noqa: E402
from tests.conftest import lognormal_stream  # noqa: E402

HOSTILE = ['say "hi"\\now', "line\nbreak", b"caf\xe9".decode("utf-8", "surrogateescape"), "ü ✓"]


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the exposition checks: promtool (apt prometheus) is missing")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return path


def busy_tracker() -> PerformanceTracker:
    tracker = PerformanceTracker(autosave_interval=None, clock=FakeClock())
    rng = random.Random(5)
    for value in lognormal_stream(rng, 3000):
        tracker.record("GET /orders/{id}", value)
    for value in lognormal_stream(rng, 600, median=0.1):
        tracker.record("GET /orders/{id}", value)  # degraded
    for index, name in enumerate(["POST /orders", "db.query", "OTHER /x", *HOSTILE]):
        for value in lognormal_stream(rng, 40):
            tracker.record(name, value, success=index % 2 == 0 or value < 0.08)
    assert tracker.state("GET /orders/{id}") == "degraded"
    return tracker


def app_with_metrics(tracker: PerformanceTracker, registry: CollectorRegistry) -> Starlette:
    async def order(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[Route("/orders/{id}", order), Mount("/metrics", make_asgi_app(registry))]
    )
    app.add_middleware(PerfguardMiddleware, tracker=tracker)
    return app


def get(app: Starlette, *paths: str, headers: dict[str, str] | None = None) -> list[Any]:
    async def scenario() -> list[Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.get(p, headers=headers or {}) for p in paths]

    return asyncio.run(scenario())


@pytest.fixture
def scraped() -> tuple[PerformanceTracker, CollectorRegistry, Starlette]:
    tracker = busy_tracker()
    registry = CollectorRegistry()
    registry.register(PerfguardCollector(tracker, host_wide=False))
    Counter("app_requests", "Requests", registry=registry).inc(3)  # another collector
    return tracker, registry, app_with_metrics(tracker, registry)


def test_a_real_scrape_passes_promtool(scraped: Any, tmp_path: Any) -> None:
    _tracker, _registry, app = scraped
    (response,) = get(app, "/metrics/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    checked = subprocess.run(
        [promtool(), "check", "metrics"], input=response.content, capture_output=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert families["app_requests"].samples[0].value == 3
    degraded = {s.labels["operation"]: s.value for s in families["perfguard_degraded"].samples}
    assert degraded["GET /orders/{id}"] == 1 and degraded["db.query"] == 0
    assert set(degraded) >= {'say "hi"\\now', "line\nbreak", "caf\\udce9", "ü ✓"}
    calls = {s.labels["operation"]: s.labels for s in families["perfguard_calls"].samples}
    assert calls["GET /orders/{id}"] == {
        "operation": "GET /orders/{id}",
        "method": "GET",
        "route": "/orders/{id}",
    }
    assert calls["OTHER /x"]["method"] == "OTHER"
    assert calls["db.query"] == {"operation": "db.query"}  # not HTTP: no method, no route
    percentiles = {
        s.labels["percentile"]
        for s in families["perfguard_baseline_seconds"].samples
        if s.labels["operation"] == "POST /orders"
    }
    assert percentiles == {"p50", "p95", "p99"}


def test_the_fast_exposition_says_what_prometheus_client_says(scraped: Any) -> None:
    _tracker, registry, _app = scraped

    def samples(text: str) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
        return {
            (s.name, tuple(sorted(s.labels.items())), s.value)
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    ours, theirs = render(registry).decode(), generate_latest(registry).decode()
    assert ours != theirs  # written by perfguard, not by prometheus_client
    assert samples(ours) == samples(theirs)
    assert len(samples(ours)) > 200


def test_openmetrics_has_units_and_parses_strictly(scraped: Any) -> None:
    _tracker, _registry, app = scraped
    (response,) = get(app, "/metrics/", headers={"Accept": "application/openmetrics-text"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    text = response.text
    assert "# UNIT perfguard_call_duration_seconds seconds\n" in text
    assert "# UNIT perfguard_baseline_seconds seconds\n" in text
    assert text.endswith("# EOF\n") and text.count("# EOF") == 1
    families = {f.name: f for f in openmetrics_families(text)}  # raises on any violation
    assert families["perfguard_call_duration_seconds"].unit == "seconds"
    assert families["perfguard_calls"].type == "counter"
    assert families["app_requests"].samples[0].value == 3


def test_the_scrape_is_rendered_off_the_event_loop(scraped: Any, monkeypatch: Any) -> None:
    _tracker, _registry, app = scraped
    threads: list[int] = []
    original = PerfguardCollector.text

    def noting(self: PerfguardCollector, **kwargs: Any) -> str:
        threads.append(threading.get_ident())
        return original(self, **kwargs)

    monkeypatch.setattr(PerfguardCollector, "text", noting)
    loop_thread: list[int] = []

    async def scenario() -> int:
        loop_thread.append(threading.get_ident())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return (await client.get("/metrics/")).status_code

    assert asyncio.run(scenario()) == 200
    assert len(threads) == 1 and threads[0] != loop_thread[0]


def test_the_metrics_endpoint_is_not_recorded_however_it_is_reached(scraped: Any) -> None:
    tracker, _registry, app = scraped
    before = set(tracker.operations())
    orders = tracker.stats("GET /orders/{id}")["sample_count"]
    responses = get(app, "/metrics", "/metrics/", "/orders/7", "/nowhere")
    assert [r.status_code for r in responses] == [307, 200, 200, 404]  # Mount redirects
    assert set(tracker.operations()) - before == {"GET unmatched"}
    assert tracker.stats("GET unmatched")["sample_count"] == 1  # the real 404 alone
    assert tracker.stats("GET /orders/{id}")["sample_count"] == orders + 1


def test_exclude_paths_on_the_asgi_middleware() -> None:
    tracker = PerformanceTracker(autosave_interval=None, clock=FakeClock())

    async def ok(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/health", ok), Route("/healthz", ok), Route("/a/{x}", ok)])
    app.add_middleware(PerfguardMiddleware, tracker=tracker, exclude=["/health", "/a/"])
    get(app, "/health", "/health/deep", "/healthz", "/a/1", "/a", "/ab")
    # a path and what lies under it, on segment boundaries (the trailing "/" is ignored)
    assert tracker.operations() == ["GET /healthz", "GET unmatched"]
    assert tracker.stats("GET unmatched")["sample_count"] == 1  # "/ab"
    with pytest.raises(ConfigurationError):
        PerfguardMiddleware(app, tracker=tracker, exclude="/metrics")  # a str, not a list
    with pytest.raises(ConfigurationError):
        PerfguardMiddleware(app, tracker=tracker, exclude=["metrics"])


def test_exclude_and_the_metrics_app_on_the_wsgi_middleware() -> None:
    flask = pytest.importorskip("flask")
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from perfguard.prometheus import make_wsgi_app
    from perfguard.wsgi import PerfguardWSGIMiddleware, instrument_flask

    tracker = PerformanceTracker(autosave_interval=None, clock=FakeClock())
    registry = CollectorRegistry()
    registry.register(PerfguardCollector(tracker, host_wide=False))
    app = flask.Flask("shop")

    @app.route("/ping")
    def ping() -> str:
        return "pong"

    @app.route("/status")
    def status() -> str:
        return "fine"

    instrument_flask(app, tracker, exclude=["/status"])
    inner = app.wsgi_app.app  # type: ignore[attr-defined]
    dispatched = DispatcherMiddleware(inner, {"/metrics": make_wsgi_app(registry)})
    app.wsgi_app = PerfguardWSGIMiddleware(dispatched, tracker, exclude=["/status"])
    client = app.test_client()
    for path in ("/ping", "/status"):
        response = client.get(path)
        assert response.status_code == 200
        response.close()  # the middleware records when the body is closed
    scrape = client.get("/metrics")
    assert scrape.status_code == 200
    scrape.close()
    assert 'perfguard_calls_total{operation="GET /ping",method="GET",route="/ping"} 1' in (
        scrape.get_data(as_text=True)
    )
    assert tracker.operations() == ["GET /ping"]
