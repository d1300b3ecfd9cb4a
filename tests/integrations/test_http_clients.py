"""perfguard.httpx and perfguard.requests against a real HTTP server on loopback: names
by method and host (with the port), 5xx and transport errors are failures, errors are
re-raised unchanged, the body's time counts, and perfguard never breaks a request."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
import requests

import perfguard.httpx
import perfguard.requests
from perfguard import ConfigurationError, PerformanceTracker
from perfguard.testing import FakeClock

from .loopback_http import loopback_server, refusing_port


def tracker_with_clock() -> tuple[PerformanceTracker, FakeClock]:
    clock = FakeClock()
    return PerformanceTracker(autosave_interval=None, clock=clock), clock


# -- httpx ---------------------------------------------------------------------------------


def test_httpx_client_names_by_method_and_host_and_times_the_request() -> None:
    tracker, clock = tracker_with_clock()
    with loopback_server(clock, server_seconds=0.02) as server:
        with perfguard.httpx.instrument(httpx.Client(base_url=server.base), tracker) as client:
            for user in range(5):
                assert client.get(f"/users/{user}").status_code == 200
            assert client.post("/ok").status_code == 200
            assert client.get("/fail").status_code == 500
            assert client.get("/missing").status_code == 404
        host = server.operation_host
    assert tracker.operations() == [f"GET {host}", f"POST {host}"]  # never the path
    gets = tracker.stats(f"GET {host}")
    assert gets["sample_count"] == 7  # 5 users + /fail + /missing
    assert gets["failure_count"] == 1  # the 500; a 404 is the server's fine answer
    assert gets["recent_p50"] == pytest.approx(0.02)


def test_httpx_streamed_body_counts_until_the_response_is_closed() -> None:
    tracker, clock = tracker_with_clock()
    with loopback_server(clock, server_seconds=0.01) as server:
        client = perfguard.httpx.instrument(httpx.Client(), tracker)
        with client.stream("GET", f"{server.base}/ok") as response:
            clock.advance(0.04)  # reading the body takes time too
            assert response.read() == b"hello /ok"
        client.close()
    stats = tracker.stats(f"GET {server.operation_host}")
    assert stats["sample_count"] == 1
    assert stats["recent_p50"] == pytest.approx(0.05)


def test_httpx_refused_connection_is_a_failure_and_reraised_unchanged() -> None:
    tracker, _ = tracker_with_clock()
    client = perfguard.httpx.instrument(httpx.Client(), tracker)
    with refusing_port() as port, client, pytest.raises(httpx.ConnectError):
        client.get(f"http://127.0.0.1:{port}/anything")
    stats = tracker.stats(f"GET 127.0.0.1:{port}")
    assert stats["failure_count"] == 1
    assert stats["recent_errors"][0]["metadata"] == {"error": "ConnectError"}


def test_httpx_async_client() -> None:
    tracker, clock = tracker_with_clock()

    async def scenario(base: str, port: int) -> None:
        client = perfguard.httpx.instrument(httpx.AsyncClient(base_url=base), tracker)
        async with client:
            for user in range(3):
                assert (await client.get(f"/users/{user}")).status_code == 200
            assert (await client.get("/fail")).status_code == 500
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{port}/")

    with loopback_server(clock, server_seconds=0.03) as server, refusing_port() as port:
        asyncio.run(scenario(server.base, port))
    stats = tracker.stats(f"GET {server.operation_host}")
    assert (stats["sample_count"], stats["failure_count"]) == (4, 1)
    assert stats["recent_p50"] == pytest.approx(0.03)
    assert tracker.stats(f"GET 127.0.0.1:{port}")["failure_count"] == 1


def test_httpx_default_ports_and_ipv6_names() -> None:
    def name(url: str) -> str:
        return perfguard.httpx.default_name(httpx.Request("GET", url))

    assert name("https://API.example.com/v1/users/7?x=1") == "GET api.example.com"
    assert name("http://api.example.com:80/") == "GET api.example.com"
    assert name("https://api.example.com:8443/") == "GET api.example.com:8443"
    assert name("http://[::1]:8080/") == "GET [::1]:8080"
    assert perfguard.httpx.default_name(httpx.Request("BREW", "http://h/")) == "OTHER h"


def test_httpx_name_override_instrument_twice_and_a_failing_name_callable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracker, clock = tracker_with_clock()

    def by_first_segment(request: httpx.Request) -> str | None:
        if request.url.path.startswith("/users/"):
            return "users-api"
        if request.url.path == "/ok":
            raise RuntimeError("a bug in the application's name callable")
        return None  # the default name

    with loopback_server(clock) as server:
        client = httpx.Client(base_url=server.base)
        perfguard.httpx.instrument(client, tracker, name=by_first_segment)
        perfguard.httpx.instrument(client, tracker, name=by_first_segment)  # no double timing
        with caplog.at_level(logging.ERROR, logger="perfguard"), client:
            client.get("/users/1")
            client.get("/missing")
            assert client.get("/ok").status_code == 200  # the request is unharmed
            assert client.get("/ok").status_code == 200
    assert tracker.stats("users-api")["sample_count"] == 1
    assert tracker.stats(f"GET {server.operation_host}")["sample_count"] == 3
    assert sum("name= callable raised" in r.getMessage() for r in caplog.records) == 1  # once


def test_httpx_bad_arguments_are_configuration_errors() -> None:
    tracker, _ = tracker_with_clock()
    with pytest.raises(ConfigurationError, match="client"):
        perfguard.httpx.instrument(object(), tracker)  # type: ignore[type-var]
    with pytest.raises(ConfigurationError, match="tracker"):
        perfguard.httpx.instrument(httpx.Client(), "tracker")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="name"):
        perfguard.httpx.instrument(httpx.Client(), tracker, name="GET x")  # type: ignore[arg-type]


# -- requests ------------------------------------------------------------------------------


def test_requests_session_names_by_method_and_host() -> None:
    tracker, clock = tracker_with_clock()
    with loopback_server(clock, server_seconds=0.02) as server:
        session = perfguard.requests.instrument(requests.Session(), tracker)
        with session:
            for user in range(5):
                assert session.get(f"{server.base}/users/{user}").status_code == 200
            assert session.post(f"{server.base}/ok").status_code == 200
            assert session.get(f"{server.base}/fail").status_code == 500
            assert session.get(f"{server.base}/missing").status_code == 404
    host = server.operation_host
    assert tracker.operations() == [f"GET {host}", f"POST {host}"]
    gets = tracker.stats(f"GET {host}")
    assert (gets["sample_count"], gets["failure_count"]) == (7, 1)
    assert gets["recent_p50"] == pytest.approx(0.02)


def test_requests_followed_redirect_is_one_call() -> None:
    tracker, clock = tracker_with_clock()
    with loopback_server(clock, server_seconds=0.02) as server:
        session = perfguard.requests.instrument(requests.Session(), tracker)
        response = session.get(f"{server.base}/hop")
        assert (response.status_code, len(response.history)) == (200, 1)
        assert server.paths == ["/hop", "/ok"]
        perfguard.requests.instrument(session, tracker)  # a second time: still one timing
        session.get(f"{server.base}/hop")
        session.close()
    stats = tracker.stats(f"GET {server.operation_host}")
    assert stats["sample_count"] == 2  # two calls, not four hops
    assert stats["recent_p50"] == pytest.approx(0.04)  # both hops in the call


def test_requests_refused_connection_is_a_failure_and_reraised_unchanged() -> None:
    tracker, _ = tracker_with_clock()
    session = perfguard.requests.instrument(requests.Session(), tracker)
    with refusing_port() as port, pytest.raises(requests.ConnectionError):
        session.get(f"http://127.0.0.1:{port}/x")
    session.close()
    stats = tracker.stats(f"GET 127.0.0.1:{port}")
    assert stats["failure_count"] == 1
    assert stats["recent_errors"][0]["metadata"] == {"error": "ConnectionError"}


def test_requests_name_override_and_bad_arguments() -> None:
    tracker, clock = tracker_with_clock()
    with loopback_server(clock) as server:
        session = perfguard.requests.instrument(
            requests.Session(), tracker, name=lambda request: f"{request.method} backend"
        )
        session.get(f"{server.base}/users/3")
        session.close()
    assert tracker.operations() == ["GET backend"]
    with pytest.raises(ConfigurationError, match="session"):
        perfguard.requests.instrument(httpx.Client(), tracker)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="name"):
        perfguard.requests.instrument(requests.Session(), tracker, name=3)  # type: ignore[arg-type]
    prepared = requests.Request("GET", "https://Files.example.org:443/a/b").prepare()
    assert perfguard.requests.default_name(prepared) == "GET files.example.org"


def test_a_failing_tracker_never_reaches_the_request(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    tracker, clock = tracker_with_clock()

    def broken_record(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a store that broke")

    monkeypatch.setattr(tracker, "record", broken_record)
    with loopback_server(clock) as server, caplog.at_level(logging.ERROR, logger="perfguard"):
        client = perfguard.httpx.instrument(httpx.Client(base_url=server.base), tracker)
        session = perfguard.requests.instrument(requests.Session(), tracker)
        for _ in range(3):
            assert client.get("/ok").status_code == 200
            assert session.get(f"{server.base}/ok").status_code == 200
        client.close()
        session.close()
    logged = [r.getMessage() for r in caplog.records if "could not record" in r.getMessage()]
    assert len(logged) == 2  # once for each integration, not once a request
    assert {m.split(":")[0] for m in logged} == {"perfguard.httpx", "perfguard.requests"}
