"""perfguard.aiohttp against a real aiohttp server on a loopback port, called by aiohttp's
client: one operation per canonical route template, sub-app routes with their prefix,
unmatched requests bounded, 5xx responses, exceptions and 5xx HTTPExceptions failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientSession, web

import perfguard.aiohttp
from perfguard import ConfigurationError, PerformanceTracker
from perfguard.testing import FakeClock


def tracker_with_clock() -> tuple[PerformanceTracker, FakeClock]:
    clock = FakeClock()
    return PerformanceTracker(autosave_interval=None, clock=clock), clock


async def serve(app: web.Application, requests: Callable[[str], Awaitable[Any]]) -> Any:
    """Runs `app` on a free loopback port, calls `requests(base_url)`, always stops."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        return await requests(f"http://{host}:{port}")
    finally:
        await runner.cleanup()


def build_app(tracker: PerformanceTracker, clock: FakeClock, **options: Any) -> web.Application:
    async def user(request: web.Request) -> web.Response:
        clock.advance(0.02)
        return web.Response(text=request.match_info["id"])

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=503, text="down")

    async def crash(request: web.Request) -> web.Response:
        raise RuntimeError("boom")

    async def unavailable(request: web.Request) -> web.Response:
        raise web.HTTPServiceUnavailable()

    async def gone(request: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    async def item(request: web.Request) -> web.Response:
        clock.advance(0.01)
        return web.Response(text="item")

    app = web.Application(middlewares=[perfguard.aiohttp.middleware(tracker, **options)])
    app.router.add_get("/users/{id}", user)
    app.router.add_get("/broken", broken)
    app.router.add_get("/crash", crash)
    app.router.add_get("/unavailable", unavailable)
    app.router.add_get("/gone", gone)
    api = web.Application()
    api.router.add_get("/items/{item}", item)
    app.add_subapp("/api", api)
    return app


def test_aiohttp_one_operation_per_route_template() -> None:
    tracker, clock = tracker_with_clock()

    async def requests(base: str) -> list[int]:
        statuses = []
        async with ClientSession() as client:
            paths = [*(f"/users/{n}" for n in range(5)), "/broken", "/crash", "/unavailable"]
            paths += ["/gone", "/api/items/7", "/api/items/8", "/nowhere/123", "/nowhere/456"]
            for path in paths:
                async with client.get(base + path) as response:
                    await response.read()
                    statuses.append(response.status)
        return statuses

    statuses = asyncio.run(serve(build_app(tracker, clock), requests))
    assert statuses == [200] * 5 + [503, 500, 503, 404, 200, 200, 404, 404]
    assert tracker.operations() == [
        "GET /api/items/{item}",
        "GET /broken",
        "GET /crash",
        "GET /gone",
        "GET /unavailable",
        "GET /users/{id}",
        "GET unmatched",
    ]
    users = tracker.stats("GET /users/{id}")
    assert users["sample_count"] == 5
    assert users["recent_p50"] == pytest.approx(0.02)
    assert tracker.stats("GET /api/items/{item}")["recent_p50"] == pytest.approx(0.01)
    assert tracker.stats("GET /broken")["failure_count"] == 1
    crash = tracker.stats("GET /crash")
    assert crash["failure_count"] == 1
    assert crash["recent_errors"][0]["metadata"] == {"error": "RuntimeError"}
    unavailable = tracker.stats("GET /unavailable")
    assert unavailable["failure_count"] == 1
    assert unavailable["recent_errors"][0]["metadata"] == {"error": "HTTPServiceUnavailable"}
    assert tracker.stats("GET /gone")["failure_count"] == 0  # a raised 404 is no failure
    unmatched = tracker.stats("GET unmatched")
    assert (unmatched["sample_count"], unmatched["failure_count"]) == (2, 0)


def test_aiohttp_name_override_and_a_broken_one(caplog: pytest.LogCaptureFixture) -> None:
    tracker, clock = tracker_with_clock()

    def name(request: web.Request) -> str | None:
        if request.path.startswith("/api/"):
            return "api"
        if request.path == "/broken":
            return ""  # unusable: the default name, logged once
        return None

    async def requests(base: str) -> list[int]:
        async with ClientSession() as client:
            statuses = []
            for path in ("/api/items/1", "/users/1", "/broken", "/broken"):
                async with client.get(base + path) as response:
                    statuses.append(response.status)
            return statuses

    with caplog.at_level(logging.ERROR, logger="perfguard"):
        statuses = asyncio.run(serve(build_app(tracker, clock, name=name), requests))
    assert statuses == [200, 200, 503, 503]
    assert tracker.operations() == ["GET /broken", "GET /users/{id}", "api"]
    assert sum("returned ''" in r.getMessage() for r in caplog.records) == 1


def test_aiohttp_bad_arguments_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="tracker"):
        perfguard.aiohttp.middleware(None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="name"):
        perfguard.aiohttp.middleware(PerformanceTracker(autosave_interval=None), name="x")  # type: ignore[arg-type]
