"""The app the gunicorn test serves: a Starlette route timed by perfguard, storing to the
path the test names, as a user's service module would (`storage=` and nothing else)."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from perfguard import PerformanceTracker
from perfguard.asgi import PerfguardMiddleware
from perfguard.prometheus import PerfguardCollector

tracker = PerformanceTracker(storage=os.environ["PERFGUARD_TEST_STORAGE"])
registry = CollectorRegistry()
registry.register(PerfguardCollector(tracker))  # host-wide: the storage is a path


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(os.getpid()))  # which worker answered


async def metrics(request: Request) -> Response:
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")


app = Starlette(routes=[Route("/hello", hello), Route("/metrics", metrics)])
app.add_middleware(PerfguardMiddleware, tracker=tracker)
