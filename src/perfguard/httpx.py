"""httpx clients: one operation per method and host.

    client = perfguard.httpx.instrument(httpx.Client(), tracker)        # or AsyncClient
    client = httpx.Client(transport=PerfguardTransport(httpx.HTTPTransport(), tracker))

Each request the client sends is recorded as "<METHOD> <host>" (`GET api.example.com`,
`GET 127.0.0.1:8123` with a port that is not the scheme's default), never the URL, so
the number of operations is the number of hosts called. It is timed from the moment the
transport is asked until the response body is closed (as httpx does once it has read a
body, or when a `client.stream()` block ends), so the download counts. A 5xx response or
a transport error (refused, timed out, reset mid-body) is a failure; the error is
re-raised unchanged. httpx follows redirects only when asked; each hop is then its own
request, named by its own host. `name=` takes the `httpx.Request` and returns a name
(None: the default).

Why a transport and not event hooks: a response hook runs once the headers arrived (the
body is not read yet) and no hook runs when the transport raises, so hooks would miss
both the download and the errors. `instrument()` wraps the client's transports in place
(the default one and those of `mounts=`/proxies); it returns the client, and doing it
twice does not time twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

import httpx

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

WHERE = "perfguard.httpx"
ClientT = TypeVar("ClientT", httpx.Client, httpx.AsyncClient)


def default_name(request: httpx.Request) -> str:
    url = request.url
    return f"{bounded_method(request.method)} {host_label(url.scheme, url.host, url.port)}"


class _Timing:
    """One request in flight: its name and start, recorded exactly once."""

    __slots__ = ("done", "name", "recorder", "start")

    def __init__(self, recorder: SafeRecorder, request: httpx.Request) -> None:
        self.recorder = recorder
        self.name = recorder.name_for(request, lambda: default_name(request))
        self.done = False
        self.start = recorder.perf()

    def finish(self, success: bool, metadata: dict[str, str] | None = None) -> None:
        if not self.done:
            self.done = True
            self.recorder.record(self.name, self.recorder.perf() - self.start, success, metadata)


class _TimedStream(httpx.SyncByteStream):
    def __init__(self, inner: Any, timing: _Timing, success: bool) -> None:
        self._inner = inner
        self._timing = timing
        self._success = success
        self._error: dict[str, str] | None = None

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._inner
        except Exception as exc:
            self._error = error_metadata(exc)
            raise

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._timing.finish(self._success and self._error is None, self._error)


class _AsyncTimedStream(httpx.AsyncByteStream):
    def __init__(self, inner: Any, timing: _Timing, success: bool) -> None:
        self._inner = inner
        self._timing = timing
        self._success = success
        self._error: dict[str, str] | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except Exception as exc:
            self._error = error_metadata(exc)
            raise

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._timing.finish(self._success and self._error is None, self._error)


class PerfguardTransport(httpx.BaseTransport):
    """Wraps a sync httpx transport and times every request through it."""

    def __init__(
        self,
        transport: httpx.BaseTransport,
        tracker: PerformanceTracker,
        *,
        name: NameFunction | None = None,
    ) -> None:
        self.transport = transport
        self._recorder = SafeRecorder(
            WHERE, check_tracker(WHERE, tracker), check_name_function(WHERE, name)
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timing = _Timing(self._recorder, request)
        try:
            response = self.transport.handle_request(request)
        except Exception as exc:
            timing.finish(False, error_metadata(exc))
            raise
        response.stream = _TimedStream(
            response.stream, timing, not is_failure_status(response.status_code)
        )
        return response

    def close(self) -> None:
        self.transport.close()


class AsyncPerfguardTransport(httpx.AsyncBaseTransport):
    """Wraps an async httpx transport and times every request through it."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        tracker: PerformanceTracker,
        *,
        name: NameFunction | None = None,
    ) -> None:
        self.transport = transport
        self._recorder = SafeRecorder(
            WHERE, check_tracker(WHERE, tracker), check_name_function(WHERE, name)
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timing = _Timing(self._recorder, request)
        try:
            response = await self.transport.handle_async_request(request)
        except Exception as exc:
            timing.finish(False, error_metadata(exc))
            raise
        response.stream = _AsyncTimedStream(
            response.stream, timing, not is_failure_status(response.status_code)
        )
        return response

    async def aclose(self) -> None:
        await self.transport.aclose()


def instrument(
    client: ClientT, tracker: PerformanceTracker, name: NameFunction | None = None
) -> ClientT:
    """Time every request `client` (an `httpx.Client` or `httpx.AsyncClient`) sends.
    Returns the client."""
    check_tracker(f"{WHERE}.instrument", tracker)
    check_name_function(f"{WHERE}.instrument", name)
    if isinstance(client, httpx.AsyncClient):
        wrap: Any = lambda t: AsyncPerfguardTransport(t, tracker, name=name)  # noqa: E731
        wrapped_type: type = AsyncPerfguardTransport
    elif isinstance(client, httpx.Client):
        wrap = lambda t: PerfguardTransport(t, tracker, name=name)  # noqa: E731
        wrapped_type = PerfguardTransport
    else:
        raise ConfigurationError(
            f"{WHERE}.instrument(client=)", client, "an httpx.Client or httpx.AsyncClient"
        )
    if not hasattr(client, "_transport") or not isinstance(getattr(client, "_mounts", None), dict):
        raise ConfigurationError(  # an httpx whose client no longer keeps its transports
            f"{WHERE}.instrument(client=)",
            client,
            "a client built by httpx 0.23 or later; or pass transport=PerfguardTransport(...)",
        )
    if not isinstance(client._transport, wrapped_type):
        client._transport = wrap(client._transport)
    for pattern, transport in client._mounts.items():
        if transport is not None and not isinstance(transport, wrapped_type):
            client._mounts[pattern] = wrap(transport)
    return client


__all__ = ["AsyncPerfguardTransport", "PerfguardTransport", "default_name", "instrument"]
