"""WSGI middleware (Flask and friends): one operation per route template.

    instrument_flask(app, tracker)                      # Flask: templates from url_rule
    app = PerfguardWSGIMiddleware(app, tracker)         # any WSGI app that sets
                                                        # environ["perfguard.route"]

Each request is recorded as "<METHOD> <route template>" (`GET /users/<int:id>`), timed
until the response body is closed (so streamed bodies count); unmatched requests share
one operation. A 5xx status or an exception is a failure, the exception re-raised.

`exclude=` paths are not recorded (a path and everything under it, matched against
SCRIPT_NAME + PATH_INFO, as in perfguard.asgi); requests answered by perfguard's own
metrics app (perfguard.prometheus.make_wsgi_app) are never recorded: it marks the environ.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from ._tracker import PerformanceTracker
from .asgi import EXCLUDE_KEY, STANDARD_METHODS, exclusions, is_excluded

ROUTE_KEY = "perfguard.route"
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
logger = logging.getLogger("perfguard")


class PerfguardWSGIMiddleware:
    """Times every request of the wrapped WSGI application."""

    def __init__(
        self,
        app: WSGIApp,
        tracker: PerformanceTracker,
        *,
        unmatched: str = "unmatched",
        exclude: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.tracker = tracker
        self.unmatched = unmatched
        self.exclude = exclusions(exclude)
        self._failed = False
        self._perf = tracker.clock.perf

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if self.exclude:
            path = f"{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}"
            if is_excluded(path, self.exclude):
                return self.app(environ, start_response)
        start = self._perf()
        status = [500]

        def note_status(
            status_line: str,
            headers: list[tuple[str, str]],
            exc_info: tuple[type[BaseException], BaseException, TracebackType] | None = None,
        ) -> Any:
            status[0] = int(status_line.split(" ", 1)[0])
            return start_response(status_line, headers, exc_info)

        try:
            body = self.app(environ, note_status)
        except Exception as exc:
            self._record(environ, start, False, {"error": type(exc).__qualname__})
            raise
        outcome: dict[str, str] = {}
        return _TimedBody(
            body,
            lambda: self._record(environ, start, status[0] < 500 and not outcome, outcome or None),
            outcome,
        )

    def _record(
        self,
        environ: dict[str, Any],
        start: float,
        success: bool,
        metadata: dict[str, str] | None,
    ) -> None:
        if environ.get(EXCLUDE_KEY) is True:
            return  # answered by perfguard's metrics app
        route = environ.get(ROUTE_KEY)
        template = route if isinstance(route, str) and route else self.unmatched
        method = environ.get("REQUEST_METHOD", "HTTP")
        if method not in STANDARD_METHODS:
            method = "OTHER"  # a client cannot mint operations with invented methods
        name = f"{method} {template}"
        duration = max(0.0, self._perf() - start)
        try:
            self.tracker.record(name, duration, success=success, metadata=metadata)
        except Exception:  # never into the request because of perfguard
            if not self._failed:
                logger.exception("perfguard could not record %r", name)
            self._failed = True


class _TimedBody:
    """The response body, recording the request once it is closed (PEP 3333)."""

    def __init__(
        self, body: Iterable[bytes], on_close: Callable[[], None], outcome: dict[str, str]
    ) -> None:
        self._body = body
        self._on_close = on_close
        self._outcome = outcome  # filled with the error when streaming the body fails
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._body
        except Exception as exc:
            self._outcome["error"] = type(exc).__qualname__
            raise

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._on_close()


def instrument_flask(app: Any, tracker: PerformanceTracker, *, exclude: Iterable[str] = ()) -> Any:
    """Wrap a Flask app: route templates from Flask's url_rule. Returns the app."""
    from flask import request  # imported only when used (extra perfguard[flask])

    @app.before_request  # type: ignore[untyped-decorator]
    def _note_route() -> None:
        rule = request.url_rule
        request.environ[ROUTE_KEY] = rule.rule if rule is not None else None

    app.wsgi_app = PerfguardWSGIMiddleware(app.wsgi_app, tracker, exclude=exclude)
    return app
