"""ASGI middleware (Starlette, FastAPI): one operation per route template.

    app.add_middleware(PerfguardMiddleware, tracker=tracker)      # Starlette / FastAPI
    app = PerfguardMiddleware(app, tracker=tracker)               # any ASGI app

Each HTTP request is recorded as "<METHOD> <route template>" (`GET /users/{id}`, never the
raw path, so the number of operations stays the number of routes); requests no route
matched share one operation (`GET unmatched`). A 5xx response or an exception is a
failure; the exception is re-raised unchanged. Templates come from the matched route that
Starlette leaves in the ASGI scope; routes of a mounted sub-application are reported
relative to their mount.

`exclude=` names paths not recorded at all (health checks, /metrics served by another
library): each entry is a path; a request is excluded when its path is that path or
lies under it ("/metrics" excludes "/metrics" and "/metrics/x", not "/metricsx"). The
path is the one the server hands over (`scope["path"]`). Whatever is excluded, the
requests that perfguard's own metrics app (perfguard.prometheus.make_asgi_app) answers
are never recorded, wherever it is mounted: it marks the scope, and the paths of
Starlette routes and mounts that lead to it are excluded from the first request on (so
the router's redirect of "/metrics" to "/metrics/" is not recorded either).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from ._errors import ConfigurationError
from ._hostwide import publish_now
from ._tracker import PerformanceTracker

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
logger = logging.getLogger("perfguard")
EXCLUDE_KEY = "perfguard.exclude"  # set in the scope / environ by perfguard's metrics apps


STANDARD_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)


def route_template(scope: Scope, unmatched: str) -> str:
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else unmatched


def exclusions(exclude: Iterable[str]) -> tuple[str, ...]:
    """The validated `exclude=` paths, without trailing slashes ("/" stays "/")."""
    if isinstance(exclude, (str, bytes)):
        raise ConfigurationError("exclude", exclude, "a sequence of paths, e.g. ['/metrics']")
    paths = []
    for path in exclude:
        if not isinstance(path, str) or not path.startswith("/"):
            raise ConfigurationError("exclude", path, "a path starting with '/'")
        paths.append(path.rstrip("/") or "/")
    return tuple(paths)


def is_excluded(path: str, excluded: tuple[str, ...]) -> bool:
    for prefix in excluded:
        if prefix == "/" or path == prefix or path.startswith(prefix + "/"):
            return True
    return False


def metrics_mounts(app: Any, prefix: str = "", depth: int = 0) -> list[str]:
    """The paths of Starlette routes and mounts under `app` that lead to perfguard's
    metrics app (anything with a true `perfguard_metrics_endpoint`)."""
    found: list[str] = []
    routes = getattr(app, "routes", None)
    if depth > 8 or not isinstance(routes, list):
        return found
    for route in routes:
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            continue
        targets = (getattr(route, a, None) for a in ("endpoint", "_base_app", "app"))
        if any(getattr(t, "perfguard_metrics_endpoint", False) is True for t in targets):
            found.append(prefix + path)
        elif getattr(route, "path_format", "").endswith("{path:path}"):  # a Mount
            found.extend(metrics_mounts(route, prefix + path, depth + 1))
    return found


class PerfguardMiddleware:
    """Times every HTTP request of the wrapped ASGI application."""

    def __init__(
        self,
        app: ASGIApp,
        tracker: PerformanceTracker,
        *,
        unmatched: str = "unmatched",
        exclude: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.tracker = tracker
        self.unmatched = unmatched
        self.exclude = exclusions(exclude)
        self._mounts_seen = False
        self._failed = False
        self._perf = tracker.clock.perf

    def _learn_metrics_mounts(self, scope: Scope) -> None:
        """Once: the paths where the application mounted perfguard's metrics app."""
        self._mounts_seen = True
        try:
            found = {*metrics_mounts(scope.get("app")), *metrics_mounts(self.app)}
        except Exception:  # an unusual router: the scope's mark still excludes its requests
            logger.exception("perfguard could not look for its metrics app among the routes")
            return
        if found:
            self.exclude = (*self.exclude, *exclusions(sorted(found)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "lifespan":
            await self.app(scope, self._saving_at_shutdown(receive), send)
            return
        if kind != "http":
            await self.app(scope, receive, send)
            return
        if not self._mounts_seen:
            self._learn_metrics_mounts(scope)
        if self.exclude and is_excluded(str(scope.get("path", "")), self.exclude):
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
        if scope.get(EXCLUDE_KEY) is True:
            return  # answered by perfguard's metrics app
        method = scope.get("method", "HTTP")
        if method not in STANDARD_METHODS:
            method = "OTHER"  # a client cannot mint operations with invented methods
        name = f"{method} {route_template(scope, self.unmatched)}"
        try:
            self.tracker.record(name, max(0.0, duration), success=success, metadata=metadata)
        except Exception:  # never into the request because of perfguard
            if not self._failed:
                logger.exception("perfguard could not record %r", name)
            self._failed = True
