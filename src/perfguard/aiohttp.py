"""aiohttp.web: one operation per route template.

    app = web.Application(middlewares=[perfguard.aiohttp.middleware(tracker)])

Each request is recorded as "<METHOD> <route template>", the template being the matched
resource's canonical form (`GET /users/{id}`, never the raw path; routes of a sub-app
added with `add_subapp` carry its prefix); requests no route matched share one
operation (`GET unmatched`). Put it first in `middlewares=` so it times the others. A 5xx
response or an exception is a failure, an `HTTPException` by its status (raising
`HTTPServiceUnavailable` is a failure, raising `HTTPNotFound` or a redirect is not); the
exception is re-raised unchanged. A request the client abandoned (its handler
cancelled) records nothing, as for the tracker's own timers. `name=` takes the
`web.Request` and returns a name (None: the default).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ._http_names import (
    UNMATCHED,
    NameFunction,
    SafeRecorder,
    bounded_method,
    check_name_function,
    check_tracker,
    error_metadata,
    is_failure_status,
)
from ._tracker import PerformanceTracker

WHERE = "perfguard.aiohttp"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def route_template(request: web.Request, unmatched: str = UNMATCHED) -> str:
    route = getattr(request.match_info, "route", None)
    resource = getattr(route, "resource", None)  # None for a request no route matched
    canonical = getattr(resource, "canonical", None)
    return canonical if isinstance(canonical, str) and canonical else unmatched


def default_name(request: web.Request, unmatched: str = UNMATCHED) -> str:
    return f"{bounded_method(request.method)} {route_template(request, unmatched)}"


def middleware(
    tracker: PerformanceTracker,
    name: NameFunction | None = None,
    *,
    unmatched: str = UNMATCHED,
) -> Any:
    """An aiohttp middleware timing every request of the application."""
    recorder = SafeRecorder(
        WHERE,
        check_tracker(f"{WHERE}.middleware", tracker),
        check_name_function(f"{WHERE}.middleware", name),
    )

    @web.middleware
    async def perfguard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        start = recorder.perf()
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # raised as control flow: its status decides
            failed = is_failure_status(exc.status)
            _record(recorder, request, unmatched, start, not failed, error_metadata(exc))
            raise
        except Exception as exc:
            _record(recorder, request, unmatched, start, False, error_metadata(exc))
            raise
        _record(recorder, request, unmatched, start, not is_failure_status(response.status), None)
        return response

    return perfguard_middleware


def _record(
    recorder: SafeRecorder,
    request: web.Request,
    unmatched: str,
    start: float,
    success: bool,
    metadata: dict[str, str] | None,
) -> None:
    recorder.finish(
        request,
        lambda: default_name(request, unmatched),
        start,
        success,
        metadata if not success else None,
    )


__all__ = ["default_name", "middleware", "route_template"]
