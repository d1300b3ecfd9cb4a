"""ASGI middleware (Starlette, FastAPI): one operation per route template.

    app.add_middleware(PerfguardMiddleware, tracker=tracker)      # Starlette / FastAPI
    app = PerfguardMiddleware(app, tracker=tracker)               # any ASGI app

Each HTTP request is recorded as "<METHOD> <route template>" (`GET /users/{id}`, never the
raw path, so the number of operations stays the number of routes); requests no route
matched share one operation (`GET unmatched`). A 5xx response or an exception is a
failure; the exception is re-raised unchanged. Templates come from the matched route that
Starlette leaves in the ASGI scope; routes of a mounted sub-application are reported
relative to their mount.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._hostwide import publish_now
from ._tracker import PerformanceTracker

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
logger = logging.getLogger("perfguard")


STANDARD_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)


def route_template(scope: Scope, unmatched: str) -> str:
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else unmatched


class PerfguardMiddleware:
    """Times every HTTP request of the wrapped ASGI application."""

    def __init__(
        self, app: ASGIApp, tracker: PerformanceTracker, *, unmatched: str = "unmatched"
    ) -> None:
        self.app = app
        self.tracker = tracker
        self.unmatched = unmatched
        self._perf = tracker.clock.perf

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "lifespan":
            await self.app(scope, self._saving_at_shutdown(receive), send)
            return
        if kind != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # unless the app starts a response

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message.get("type") == "http.response.start":
                status = int(message.get("status", 500))
            await send(message)

        start = self._perf()
        try:
            await self.app(scope, receive, send_and_note_status)
        except Exception as exc:
            self._record(scope, self._perf() - start, False, {"error": type(exc).__qualname__})
            raise
        self._record(scope, self._perf() - start, status < 500, None)

    def _saving_at_shutdown(self, receive: Receive) -> Receive:
        """The server's shutdown is the last moment a worker is sure to see: uvicorn's
        worker under gunicorn dies by a re-sent SIGTERM after it, so no exit hook runs.
        The tracker saves when the server announces it (requests are over by then)."""

        async def receive_and_save_at_shutdown() -> Message:
            message = await receive()
            if message.get("type") == "lifespan.shutdown":
                try:
                    self.tracker.save()
                    publish_now(self.tracker)  # the last host-wide figures, likewise
                except Exception:  # never into the server's shutdown
                    logger.exception("perfguard could not save at the server's shutdown")
            return message

        return receive_and_save_at_shutdown

    def _record(
        self, scope: Scope, duration: float, success: bool, metadata: dict[str, str] | None
    ) -> None:
        method = scope.get("method", "HTTP")
        if method not in STANDARD_METHODS:
            method = "OTHER"  # a client cannot mint operations with invented methods
        name = f"{method} {route_template(scope, self.unmatched)}"
        self.tracker.record(name, max(0.0, duration), success=success, metadata=metadata)
