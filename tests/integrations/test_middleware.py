"""ASGI and WSGI middleware against real apps: Starlette (httpx's ASGI transport) and
Flask (its test client)."""

from __future__ import annotations

import asyncio

import pytest

from perfguard import PerformanceTracker
from perfguard.testing import FakeClock


def tracker_with_clock() -> tuple[PerformanceTracker, FakeClock]:
    clock = FakeClock()
    return PerformanceTracker(autosave_interval=None, clock=clock), clock


def test_asgi_one_operation_per_route_template() -> None:
    pytest.importorskip("starlette")
    httpx = pytest.importorskip("httpx")
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from perfguard.asgi import PerfguardMiddleware

    tracker, clock = tracker_with_clock()

    async def user(request):  # type: ignore[no-untyped-def]
        clock.advance(0.02)
        return PlainTextResponse(request.path_params["id"])

    async def broken(request):  # type: ignore[no-untyped-def]
        return PlainTextResponse("no", status_code=503)

    async def crash(request):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    app = Starlette(
        routes=[
            Route("/users/{id}", user),
            Route("/broken", broken),
            Route("/crash", crash),
        ]
    )
    app.add_middleware(PerfguardMiddleware, tracker=tracker)

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for user_id in range(5):
                assert (await client.get(f"/users/{user_id}")).status_code == 200
            assert (await client.get("/broken")).status_code == 503
            assert (await client.get("/crash")).status_code == 500
            assert (await client.get("/nowhere/123")).status_code == 404

    asyncio.run(scenario())
    assert tracker.operations() == [
        "GET /broken",
        "GET /crash",
        "GET /users/{id}",
        "GET unmatched",
    ]
    users = tracker.stats("GET /users/{id}")
    assert users["sample_count"] == 5
    assert users["recent_p50"] == pytest.approx(0.02)
    assert tracker.stats("GET /broken")["failure_count"] == 1
    crash_stats = tracker.stats("GET /crash")
    assert crash_stats["failure_count"] == 1
    assert crash_stats["recent_errors"][0]["metadata"] == {"error": "RuntimeError"}
    assert tracker.stats("GET unmatched")["failure_count"] == 0  # a 404 is not a failure


def test_wsgi_flask_one_operation_per_route_template() -> None:
    flask = pytest.importorskip("flask")
    from perfguard.wsgi import instrument_flask

    tracker, clock = tracker_with_clock()
    app = flask.Flask("demo")

    @app.get("/users/<int:user_id>")
    def user(user_id: int) -> str:
        clock.advance(0.03)
        return str(user_id)

    @app.get("/stream")
    def stream() -> flask.Response:
        def chunks():  # type: ignore[no-untyped-def]
            for _ in range(3):
                clock.advance(0.01)  # time spent while the body is sent counts
                yield b"x"

        return flask.Response(chunks())

    @app.get("/crash")
    def crash() -> str:
        raise RuntimeError("boom")

    instrument_flask(app, tracker)
    client = app.test_client()

    def get(path: str) -> tuple[int, bytes]:
        response = client.get(path)
        body = response.data
        response.close()  # as every WSGI server does (PEP 3333): the request ends here
        return response.status_code, body

    for user_id in range(4):
        assert get(f"/users/{user_id}")[0] == 200
    assert get("/stream") == (200, b"xxx")
    assert get("/crash")[0] == 500
    assert get("/nowhere")[0] == 404
    assert tracker.operations() == [
        "GET /crash",
        "GET /stream",
        "GET /users/<int:user_id>",
        "GET unmatched",
    ]
    assert tracker.stats("GET /users/<int:user_id>")["recent_p50"] == pytest.approx(0.03)
    assert tracker.stats("GET /stream")["recent_p50"] == pytest.approx(0.03)
    assert tracker.stats("GET /crash")["failure_count"] == 1


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
