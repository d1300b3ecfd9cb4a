"""What the HTTP integrations share: bounded names, the failure rule, and recording that
never raises into the application's request.

Server side, an operation is "<METHOD> <route template>"; client side, "<METHOD> <host>"
(`GET api.example.com`, `GET 127.0.0.1:8123`: the port only when it is not the scheme's
default). A method outside the standard ones reads `OTHER`, so a client cannot mint
operations with invented methods. A status of 500 or more is a failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from ._errors import ConfigurationError
from ._tracker import PerformanceTracker

logger = logging.getLogger("perfguard")

STANDARD_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
UNMATCHED = "unmatched"  # the one operation of requests no route matched (as asgi.py)

NameFunction = Callable[[Any], Any]


def bounded_method(method: object) -> str:
    text = method.upper() if isinstance(method, str) else ""
    return text if text in STANDARD_METHODS else "OTHER"


def is_failure_status(status: object) -> bool:
    return isinstance(status, int) and status >= 500


def host_label(scheme: str, host: str, port: int | None) -> str:
    """`api.example.com`, `127.0.0.1:8123`, `[::1]:8080`: the port only when it is not
    the scheme's default."""
    host = host.lower() or "unknown"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    if port is None or DEFAULT_PORTS.get(scheme.lower()) == port:
        return host
    return f"{host}:{port}"


def check_tracker(where: str, tracker: object) -> PerformanceTracker:
    if not isinstance(tracker, PerformanceTracker):
        raise ConfigurationError(f"{where}(tracker=)", tracker, "a PerformanceTracker")
    return tracker


def check_name_function(where: str, name: object) -> NameFunction | None:
    if name is not None and not callable(name):
        raise ConfigurationError(
            f"{where}(name=)", name, "a callable taking the request and returning a str"
        )
    return name


class SafeRecorder:
    """Records for an integration: a failure of perfguard itself (a `name=` callable
    that raises or returns no usable name, a full tracker, a closed store) is logged
    once and never reaches the application."""

    __slots__ = ("_broken", "_name", "_where", "perf", "tracker")

    def __init__(self, where: str, tracker: PerformanceTracker, name: NameFunction | None):
        self.tracker = tracker
        self.perf = tracker.clock.perf
        self._where = where
        self._name = name
        self._broken: set[str] = set()  # what has been logged already

    def name_for(self, request: Any, default: Callable[[], str]) -> str:
        """The `name=` callable's answer for `request`, or the default name when there
        is no callable, it answers None, or it fails."""
        if self._name is not None:
            try:
                chosen = self._name(request)
            except Exception:
                self._log_once("name", "its name= callable raised; using the default name")
            else:
                if isinstance(chosen, str) and chosen:
                    return chosen
                if chosen is not None:
                    self._log_once(
                        "name", f"its name= callable returned {chosen!r}; using the default name"
                    )
        return default()

    def finish(
        self,
        request: Any,
        default: Callable[[], str],
        start: float,
        success: bool,
        metadata: Mapping[str, str] | None,
    ) -> None:
        """Record the request that started at `start`, named after it ended (a server's
        route is known only then); the naming is not part of the duration."""
        end = self.perf()
        self.record(self.name_for(request, default), end - start, success, metadata)

    def record(
        self, name: str, duration: float, success: bool, metadata: Mapping[str, str] | None
    ) -> None:
        try:
            self.tracker.record(name, max(0.0, duration), success=success, metadata=metadata)
        except Exception:
            self._log_once("record", f"could not record {name!r}")

    def _log_once(self, what: str, message: str) -> None:
        if what in self._broken:
            return
        self._broken.add(what)
        logger.exception("%s: %s (logged once)", self._where, message)


def error_metadata(exc: BaseException) -> dict[str, str]:
    return {"error": type(exc).__qualname__}
