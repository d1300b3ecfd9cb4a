"""Views of the test project; each advances the tracker's fake clock by a known step."""

from __future__ import annotations

import threading
from typing import Any

from django.http import HttpRequest, HttpResponse

import perfguard.django
from perfguard import PerformanceTracker
from perfguard.testing import FakeClock

TRACKER = PerformanceTracker(autosave_interval=None, clock=FakeClock())  # PERFGUARD_TRACKER
RAISED: list[Exception] = []  # the exceptions the views raised, to check they come back
THREADS: dict[str, int] = {}  # where the async view and the name callable ran


def advance(seconds: float) -> None:
    perfguard.django.get_tracker().clock.advance(seconds)  # type: ignore[attr-defined]


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("home")


def user(request: HttpRequest, user_id: int) -> HttpResponse:
    advance(0.02)
    return HttpResponse(f"user {user_id}")


def archive(request: HttpRequest, year: str) -> HttpResponse:
    return HttpResponse(year)


def unavailable(request: HttpRequest) -> HttpResponse:
    return HttpResponse("down", status=503)


def boom(request: HttpRequest) -> HttpResponse:
    error = RuntimeError("boom")
    RAISED.append(error)
    raise error


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


async def async_item(request: HttpRequest, slug: str) -> HttpResponse:
    THREADS["view"] = threading.get_ident()
    advance(0.03)
    return HttpResponse(f"item {slug}")


async def async_boom(request: HttpRequest) -> HttpResponse:
    error = ValueError("async boom")
    RAISED.append(error)
    raise error


def name_noting_thread(request: Any) -> None:
    """A PERFGUARD_NAME callable: notes its thread and keeps the default name."""
    THREADS["name"] = threading.get_ident()
    return None


def name_by_view(request: Any) -> str | None:
    match = request.resolver_match
    return f"view:{match.url_name}" if match is not None and match.url_name else None
