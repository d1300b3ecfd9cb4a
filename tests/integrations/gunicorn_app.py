"""The app the gunicorn test serves: a Starlette route timed by perfguard, storing to the
path the test names, as a user's service module would (`storage=` and nothing else)."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from perfguard import PerformanceTracker
from perfguard.asgi import PerfguardMiddleware

tracker = PerformanceTracker(storage=os.environ["PERFGUARD_TEST_STORAGE"])


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(os.getpid()))  # which worker answered


app = Starlette(routes=[Route("/hello", hello)])
app.add_middleware(PerfguardMiddleware, tracker=tracker)
