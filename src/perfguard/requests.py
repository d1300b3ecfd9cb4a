"""requests sessions: one operation per method and host.

    session = perfguard.requests.instrument(requests.Session(), tracker)

Each call the application makes (`session.get(...)`, `session.send(...)`) is recorded as
"<METHOD> <host>" (`GET api.example.com`, `GET 127.0.0.1:8123` with a port that is not
the scheme's default), never the URL. It is timed around `Session.send`, so it covers
the redirects requests follows for it (named by the host first asked) and, unless
`stream=True`, the body; a streamed response is timed until its headers arrived. A 5xx
final response or an error (refused connection, timeout, too many redirects) is a
failure; the error is re-raised unchanged. `name=` takes the `requests.PreparedRequest`
and returns a name (None: the default).

Why `send` and not a mounted adapter: mounting replaces the adapters the application
configured (retries, pools, test adapters) and sees each redirect hop but not the body,
which requests reads after the adapter returns; wrapping the session's `send` keeps the
application's adapters and times what the caller waits for. The redirects requests
follows call `send` again; those inner calls are not recorded twice.
"""

from __future__ import annotations

import contextvars
import functools
from typing import Any
from urllib.parse import urlsplit

import requests

from ._errors import ConfigurationError
from ._http_names import (
    NameFunction,
    SafeRecorder,
    bounded_method,
    check_name_function,
    check_tracker,
    error_metadata,
    host_label,
    is_failure_status,
)
from ._tracker import PerformanceTracker

WHERE = "perfguard.requests"
_MARK = "_perfguard_timed"


def default_name(request: requests.PreparedRequest) -> str:
    method = bounded_method(request.method)
    try:
        parts = urlsplit(str(request.url))
    except ValueError:  # e.g. a bracketed host that is no IPv6 address
        return f"{method} unknown"
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: the host alone
        port = None
    host = parts.hostname or ""
    return f"{method} {host_label(parts.scheme, host, port)}"


def instrument(
    session: requests.Session, tracker: PerformanceTracker, name: NameFunction | None = None
) -> requests.Session:
    """Time every call `session` sends. Returns the session; twice does not time twice."""
    check_tracker(f"{WHERE}.instrument", tracker)
    check_name_function(f"{WHERE}.instrument", name)
    if not isinstance(session, requests.Session):
        raise ConfigurationError(f"{WHERE}.instrument(session=)", session, "a requests.Session")
    if getattr(session.send, _MARK, False):
        return session
    recorder = SafeRecorder(WHERE, tracker, name)
    send = session.send
    inside_send = contextvars.ContextVar("perfguard_inside_send", default=False)  # this session's

    @functools.wraps(send)
    def timed_send(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if inside_send.get():  # a redirect requests follows: part of the outer call
            return send(request, **kwargs)
        operation = recorder.name_for(request, lambda: default_name(request))
        token = inside_send.set(True)
        start = recorder.perf()
        try:
            response = send(request, **kwargs)
        except Exception as exc:
            recorder.record(operation, recorder.perf() - start, False, error_metadata(exc))
            raise
        finally:
            inside_send.reset(token)
        success = not is_failure_status(response.status_code)
        recorder.record(operation, recorder.perf() - start, success, None)
        return response

    setattr(timed_send, _MARK, True)
    session.send = timed_send  # type: ignore[method-assign]
    return session


__all__ = ["default_name", "instrument"]
