"""perfguard.django with real Django: the test Client and a WSGI call for sync views,
the AsyncClient and an ASGI call (httpx's ASGI transport) for async views. Names are the
URL patterns Django resolved (included URLconfs joined), never `GET unmatched` for a
routed request, which is what the generic ASGI/WSGI middlewares would file them under."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from typing import Any
from wsgiref.util import setup_testing_defaults

import httpx
import pytest

django = pytest.importorskip("django")  # in the dev extra: CI has it

from django.conf import settings  # noqa: E402
from django.test import AsyncClient, Client, override_settings  # noqa: E402

import perfguard.django  # noqa: E402
from perfguard import ConfigurationError, PerformanceTracker  # noqa: E402
from perfguard.testing import FakeClock  # noqa: E402

SITE = "tests.integrations.django_site"


@pytest.fixture(scope="module", autouse=True)
def _django_settings() -> None:
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="perfguard-tests",
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF=f"{SITE}.urls",
            MIDDLEWARE=["perfguard.django.PerfguardMiddleware"],
            INSTALLED_APPS=[],
            DATABASES={},
            USE_TZ=True,
            LOGGING_CONFIG=None,  # leave the logging of the test run alone
        )
        django.setup()


@pytest.fixture
def tracker() -> Iterator[PerformanceTracker]:
    tracker = PerformanceTracker(autosave_interval=None, clock=FakeClock())
    with override_settings(PERFGUARD_TRACKER=tracker):
        yield tracker
    tracker.close()


def test_sync_views_through_the_test_client(tracker: PerformanceTracker) -> None:
    from .django_site import views

    client = Client(raise_request_exception=False)
    for user_id in range(5):
        assert client.get(f"/users/{user_id}/").status_code == 200
    assert client.get("/api/users/7/").status_code == 200
    assert client.post("/api/users/8/").status_code == 200
    assert client.get("/").status_code == 200
    assert client.get("/archive/2024/").status_code == 200
    assert client.get("/unavailable/").status_code == 503
    views.RAISED.clear()
    assert client.get("/boom/").status_code == 500  # Django turned it into a 500
    assert len(views.RAISED) == 1
    assert client.get("/nowhere/1/").status_code == 404
    assert client.get("/nowhere/2/").status_code == 404
    assert tracker.operations() == [
        "GET /",
        "GET ^archive/(?P<year>[0-9]{4})/$",
        "GET api/users/<int:user_id>/",
        "GET boom/",
        "GET unavailable/",
        "GET unmatched",
        "GET users/<int:user_id>/",
        "POST api/users/<int:user_id>/",
    ]
    users = tracker.stats("GET users/<int:user_id>/")
    assert users["sample_count"] == 5
    assert users["recent_p50"] == pytest.approx(0.02)
    assert tracker.stats("GET unavailable/")["failure_count"] == 1
    boom = tracker.stats("GET boom/")
    assert boom["failure_count"] == 1
    assert boom["recent_errors"][0]["metadata"] == {"error": "RuntimeError"}
    unmatched = tracker.stats("GET unmatched")
    assert (unmatched["sample_count"], unmatched["failure_count"]) == (2, 0)


def test_an_exception_that_reaches_the_middleware_is_reraised_unchanged(
    tracker: PerformanceTracker,
) -> None:
    from .django_site import views

    views.RAISED.clear()
    # with DEBUG_PROPAGATE_EXCEPTIONS, Django lets the view's exception through
    with override_settings(DEBUG_PROPAGATE_EXCEPTIONS=True), pytest.raises(RuntimeError) as raised:
        Client().get("/boom/")
    assert raised.value is views.RAISED[0]
    stats = tracker.stats("GET boom/")
    assert stats["failure_count"] == 1
    assert stats["recent_errors"][0]["metadata"] == {"error": "RuntimeError"}


def test_a_plain_wsgi_call(tracker: PerformanceTracker) -> None:
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    statuses: list[str] = []
    for path in ("/api/users/3/", "/users/4/", "/unavailable/", "/missing/"):
        environ: dict[str, Any] = {"PATH_INFO": path, "wsgi.input": io.BytesIO()}
        setup_testing_defaults(environ)
        body = application(environ, lambda status, headers, exc_info=None: statuses.append(status))
        b"".join(body)
        body.close()  # type: ignore[attr-defined]
    assert [s.split()[0] for s in statuses] == ["200", "200", "503", "404"]
    assert tracker.operations() == [
        "GET api/users/<int:user_id>/",
        "GET unavailable/",
        "GET unmatched",
        "GET users/<int:user_id>/",
    ]
    assert tracker.stats("GET unavailable/")["failure_count"] == 1


def test_async_views_through_the_async_client(tracker: PerformanceTracker) -> None:
    from .django_site import views

    async def scenario() -> list[int]:
        client = AsyncClient(raise_request_exception=False)
        statuses = [(await client.get(f"/async/items/item-{n}/")).status_code for n in range(4)]
        statuses.append((await client.get("/api/items/x/")).status_code)
        statuses.append((await client.get("/async/boom/")).status_code)
        statuses.append((await client.get("/nowhere/")).status_code)
        return statuses

    with override_settings(PERFGUARD_NAME=f"{SITE}.views.name_noting_thread"):
        views.THREADS.clear()
        assert asyncio.run(scenario()) == [200, 200, 200, 200, 200, 500, 404]
    # the middleware ran as a coroutine on the loop, as the view did: no thread hop
    assert views.THREADS["name"] == views.THREADS["view"]
    assert tracker.operations() == [
        "GET api/items/<slug:slug>/",
        "GET async/boom/",
        "GET async/items/<slug:slug>/",
        "GET unmatched",
    ]
    items = tracker.stats("GET async/items/<slug:slug>/")
    assert items["sample_count"] == 4
    assert items["recent_p50"] == pytest.approx(0.03)
    boom = tracker.stats("GET async/boom/")
    assert boom["failure_count"] == 1
    assert boom["recent_errors"][0]["metadata"] == {"error": "ValueError"}


def test_a_plain_asgi_call(tracker: PerformanceTracker) -> None:
    from django.core.asgi import get_asgi_application

    async def scenario() -> list[int]:
        transport = httpx.ASGITransport(app=get_asgi_application())  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            paths = ("/async/items/a/", "/users/5/", "/unavailable/", "/x/")
            return [(await client.get(path)).status_code for path in paths]

    assert asyncio.run(scenario()) == [200, 200, 503, 404]
    assert tracker.operations() == [
        "GET async/items/<slug:slug>/",
        "GET unavailable/",
        "GET unmatched",
        "GET users/<int:user_id>/",
    ]
    assert tracker.stats("GET users/<int:user_id>/")["recent_p50"] == pytest.approx(0.02)


def test_excluded_paths_are_not_recorded(tracker: PerformanceTracker) -> None:
    with override_settings(PERFGUARD_EXCLUDE=["/health", "/api/"]):
        client = Client()
        assert client.get("/health/").status_code == 200
        assert client.get("/api/users/1/").status_code == 200
        assert client.get("/users/1/").status_code == 200

        async def scenario() -> int:
            return (await AsyncClient().get("/api/items/y/")).status_code

        assert asyncio.run(scenario()) == 200
    assert tracker.operations() == ["GET users/<int:user_id>/"]


def test_name_override_setting(tracker: PerformanceTracker) -> None:
    with override_settings(PERFGUARD_NAME=f"{SITE}.views.name_by_view"):
        client = Client()
        client.get("/users/1/")
        client.get("/api/users/2/")
        client.get("/nowhere/")  # the callable answers None: the default name
    assert tracker.operations() == ["GET unmatched", "view:api-user", "view:user"]


def test_tracker_from_a_dotted_path_or_built_once_from_perfguard(
    tracker: PerformanceTracker,
) -> None:
    from .django_site import views

    with override_settings(PERFGUARD_TRACKER=f"{SITE}.views.TRACKER"):
        Client().get("/users/1/")
        assert perfguard.django.get_tracker() is views.TRACKER
    assert "GET users/<int:user_id>/" in views.TRACKER.operations()

    options = {"window_size": 50, "autosave_interval": None, "clock": FakeClock()}
    with override_settings(PERFGUARD_TRACKER=None, PERFGUARD=options):
        Client().get("/users/1/")
        Client().get("/users/2/")  # a second handler, the same tracker
        built = perfguard.django.get_tracker()
        assert built is perfguard.django.get_tracker()
        assert built.config.window_size == 50
        assert built.stats("GET users/<int:user_id>/")["sample_count"] == 2
        built.close()


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("PERFGUARD_EXCLUDE", "/health", "PERFGUARD_EXCLUDE"),  # a str, not a list
        ("PERFGUARD_TRACKER", "tests.no_such_module.TRACKER", "PERFGUARD_TRACKER"),
        ("PERFGUARD_TRACKER", f"{SITE}.views.home", "PERFGUARD_TRACKER"),  # no tracker
        ("PERFGUARD_NAME", "GET users", "PERFGUARD_NAME"),
    ],
)
def test_bad_settings_are_configuration_errors_at_startup(
    tracker: PerformanceTracker, setting: str, value: object, named: str
) -> None:
    with override_settings(**{setting: value}), pytest.raises(ConfigurationError, match=named):
        Client().get("/users/1/")
    assert tracker.operations() == []
