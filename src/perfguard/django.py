"""Django: one operation per URL pattern, sync and async.

    MIDDLEWARE = ["perfguard.django.PerfguardMiddleware", ...]   # first, to time the rest
    PERFGUARD = {"storage": "baselines.json"}     # keyword arguments of PerformanceTracker
    PERFGUARD_TRACKER = "myproject.perf.tracker"  # or: a tracker (an instance or its path)
    PERFGUARD_EXCLUDE = ["/health", "/static/"]   # path prefixes never recorded
    PERFGUARD_NAME = "myproject.perf.name"        # a callable taking the request (or its
                                                  # dotted path); None: the default name

Each request is recorded as "<METHOD> <URL pattern>", the pattern Django resolved
(`request.resolver_match.route`, the patterns of included URLconfs joined:
`GET api/users/<int:user_id>/`; `/` for the empty pattern), never the raw path;
requests no pattern matched share one operation (`GET unmatched`). A 5xx response or an
exception is a failure (the exception's type in the metadata; one that reaches this
middleware is re-raised unchanged). `PERFGUARD_EXCLUDE` prefixes are matched against
`request.path_info`. A streamed response is timed until it is handed to the server.

The tracker is `PERFGUARD_TRACKER` if set, else one built from `PERFGUARD` once per
process (`get_tracker()` returns it). The middleware is sync and async capable: under
ASGI it runs as a coroutine, so Django adds no thread hop for it, and recording is an
append in memory, with no I/O on the event loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings  # type: ignore[import-untyped]
from django.utils.module_loading import import_string  # type: ignore[import-untyped]

from ._errors import ConfigurationError
from ._http_names import (
    UNMATCHED,
    SafeRecorder,
    bounded_method,
    error_metadata,
    is_failure_status,
)
from ._tracker import PerformanceTracker

WHERE = "perfguard.django"
_ERROR_ATTRIBUTE = "_perfguard_error"  # set on the request by process_exception
_built: dict[str, PerformanceTracker] = {}
_building = threading.Lock()


def route_template(request: Any, unmatched: str = UNMATCHED) -> str:
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None)
    if not isinstance(route, str):
        return unmatched
    return route or "/"


def default_name(request: Any, unmatched: str = UNMATCHED) -> str:
    return f"{bounded_method(request.method)} {route_template(request, unmatched)}"


def get_tracker() -> PerformanceTracker:
    """The tracker the settings name: `PERFGUARD_TRACKER`, else the one built (once per
    process) from the keyword arguments in `PERFGUARD`."""
    chosen = getattr(settings, "PERFGUARD_TRACKER", None)
    if chosen is not None:
        tracker = _resolve("PERFGUARD_TRACKER", chosen)
        if not isinstance(tracker, PerformanceTracker):
            raise ConfigurationError(
                "PERFGUARD_TRACKER", chosen, "a PerformanceTracker or the dotted path of one"
            )
        return tracker
    options = getattr(settings, "PERFGUARD", None) or {}
    if not isinstance(options, Mapping):
        raise ConfigurationError(
            "PERFGUARD", options, "a dict of PerformanceTracker keyword arguments"
        )
    key = repr(sorted(options.items()))
    with _building:
        tracker = _built.get(key)
        if tracker is None:
            tracker = _built[key] = PerformanceTracker(**options)
        return tracker


def _resolve(setting: str, value: object) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return import_string(value)
    except ImportError as exc:
        raise ConfigurationError(setting, value, f"an importable dotted path ({exc})") from exc


def _exclusions() -> tuple[str, ...]:
    prefixes = getattr(settings, "PERFGUARD_EXCLUDE", None) or ()
    if isinstance(prefixes, str) or not all(isinstance(p, str) and p for p in prefixes):
        raise ConfigurationError(
            "PERFGUARD_EXCLUDE", prefixes, 'a list of path prefixes, e.g. ["/health"]'
        )
    return tuple(prefixes)


def _name_function() -> Callable[[Any], Any] | None:
    chosen = getattr(settings, "PERFGUARD_NAME", None)
    if chosen is None:
        return None
    function = _resolve("PERFGUARD_NAME", chosen)
    if not callable(function):
        raise ConfigurationError(
            "PERFGUARD_NAME", chosen, "a callable taking the request, or its dotted path"
        )
    return function  # type: ignore[no-any-return]


class PerfguardMiddleware:
    """Times every request Django handles; see the module's documentation."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self.tracker = get_tracker()
        self.exclude = _exclusions()
        self.unmatched = UNMATCHED
        self._recorder = SafeRecorder(WHERE, self.tracker, _name_function())
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self._async:
            return self.__acall__(request)
        if self.exclude and request.path_info.startswith(self.exclude):
            return self.get_response(request)
        start = self._recorder.perf()
        try:
            response = self.get_response(request)
        except Exception as exc:
            self._finish(request, start, None, exc)
            raise
        self._finish(request, start, response, None)
        return response

    async def __acall__(self, request: Any) -> Any:
        if self.exclude and request.path_info.startswith(self.exclude):
            return await self.get_response(request)
        start = self._recorder.perf()
        try:
            response = await self.get_response(request)
        except Exception as exc:
            self._finish(request, start, None, exc)
            raise
        self._finish(request, start, response, None)
        return response

    def process_exception(self, request: Any, exception: Exception) -> None:
        """A view's exception, before Django turns it into a 500: noted for the
        metadata; Django goes on as if this middleware had no such hook."""
        setattr(request, _ERROR_ATTRIBUTE, type(exception).__qualname__)

    def _finish(self, request: Any, start: float, response: Any, exc: BaseException | None) -> None:
        metadata: dict[str, str] | None
        if exc is not None:
            success, metadata = False, error_metadata(exc)
        else:
            success = not is_failure_status(getattr(response, "status_code", 500))
            noted = getattr(request, _ERROR_ATTRIBUTE, None)
            metadata = None if success else ({"error": noted} if noted else None)
        self._recorder.finish(
            request, lambda: default_name(request, self.unmatched), start, success, metadata
        )


__all__ = ["PerfguardMiddleware", "default_name", "get_tracker", "route_template"]
