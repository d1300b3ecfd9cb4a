"""Prometheus export: a collector for a prometheus_client CollectorRegistry, and the
/metrics apps that serve it fast.

    from prometheus_client import CollectorRegistry
    from perfguard.prometheus import PerfguardCollector, make_asgi_app

    registry = CollectorRegistry()
    registry.register(PerfguardCollector(tracker))
    app.mount("/metrics", make_asgi_app(registry))     # or make_wsgi_app(registry)

Metrics (base units, `_total` counters, `# UNIT` in OpenMetrics; labels `operation`,
and `method` and `route` for an operation named "<METHOD> <route>", as the ASGI and
WSGI middlewares name them):

    perfguard_calls_total, perfguard_failures_total, perfguard_slow_calls_total
    perfguard_call_duration_seconds (histogram, counted from registration on)
    perfguard_baseline_seconds{percentile="p50"|"p95"|"p99"} (gauge)
    perfguard_degraded (gauge, 0/1), perfguard_degradation_events_total
    perfguard_exporter_operations_dropped (gauge: operations beyond max_operations)

At most `max_operations` operations are exported (the first in name order), so a
cardinality explosion in the application cannot explode the scrape. Requires the extra
`perfguard[prometheus]`.

Served by `make_asgi_app` / `make_wsgi_app`, perfguard writes its own families as text
itself (_promtext.py) and leaves the registry's other collectors to prometheus_client;
the ASGI app renders in a worker thread, never on the event loop. The middlewares do
not record the requests these apps answer.

Host-wide: when the tracker stores to a path (a JSON file, a ShardStore folder), every
process on that path publishes its figures once a second, and a scrape answered by any
of them reports the sums of all (counters, histogram), degraded when any live process is,
and their combined baseline (_hostwide.py). `host_wide=False` reports this process only.
"""

from __future__ import annotations

import gzip
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client import exposition as text_format
from prometheus_client.core import Metric
from prometheus_client.openmetrics import exposition as openmetrics_format
from prometheus_client.registry import Collector

from ._errors import ConfigurationError
from ._exportable import exportable
from ._hostwide import publisher_for
from ._promtext import Family, TextRenderer, label_pairs
from ._stores.host_metrics import Figures, figures_of
from ._tracker import PerformanceTracker
from .asgi import EXCLUDE_KEY, Receive, Scope, Send
from .wsgi import StartResponse

__all__ = [
    "DEFAULT_BUCKETS",
    "PerfguardCollector",
    "exportable",
    "make_asgi_app",
    "make_wsgi_app",
    "render",
]

DEFAULT_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    10.0,
)
TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
_NAMESPACE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_serving = threading.local()  # .openmetrics set while render() collects a registry


class _Rendered(Metric):
    """perfguard's families, already written as text (only inside render())."""

    def __init__(self, text: str) -> None:
        super().__init__("perfguard_rendered", "", "untyped")
        self.text = text


class PerfguardCollector(Collector):
    """Exposes a tracker's operations at scrape time; it never writes to the tracker
    except to switch its histogram on."""

    def __init__(
        self,
        tracker: PerformanceTracker,
        *,
        namespace: str = "perfguard",
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        max_operations: int = 500,
        host_wide: bool = True,
    ) -> None:
        if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
            raise ConfigurationError("namespace", namespace, "a Prometheus metric name prefix")
        if isinstance(max_operations, bool) or not isinstance(max_operations, int):
            raise ConfigurationError("max_operations", max_operations, "an int >= 0")
        if max_operations < 0:
            raise ConfigurationError("max_operations", max_operations, "an int >= 0")
        self._tracker = tracker
        self._max_operations = max_operations
        tracker.enable_histogram(tuple(buckets))
        self._publisher = publisher_for(tracker) if host_wide else None
        self._renderer = TextRenderer(namespace)
        self._lock = threading.Lock()  # the renderer's cache, if two scrapes overlap

    def _figures(self) -> dict[str, Figures]:
        if self._publisher is not None:
            return self._publisher.host_figures()
        return {snap.name: figures_of(snap) for snap in self._tracker.snapshots()}

    def _exported(self) -> tuple[dict[str, Figures], list[str], int]:
        figures = self._figures()
        names = sorted(figures)
        exported = names[: self._max_operations]
        return figures, exported, len(names) - len(exported)

    def text(self, *, openmetrics: bool = False) -> str:
        """perfguard's families in the text format (or OpenMetrics, without `# EOF`
        when it is part of a larger exposition: see render())."""
        figures, exported, dropped = self._exported()
        with self._lock:
            return self._renderer.render(figures, exported, dropped, openmetrics)

    def collect(self) -> Iterator[Metric]:
        openmetrics = getattr(_serving, "openmetrics", None)
        if openmetrics is not None:  # inside render(): the fast text, not Metric objects
            yield _Rendered(self.text(openmetrics=openmetrics).removesuffix("# EOF\n"))
            return
        figures, exported, dropped = self._exported()
        yield from _metrics(self._renderer.families, figures, exported, dropped)


def _metrics(
    families: dict[str, Family], figures: dict[str, Figures], names: list[str], dropped: int
) -> Iterator[Metric]:
    """The same families as Metric objects, for prometheus_client's own exposition."""
    made = {
        key: Metric(f.name, f.help, f.kind, unit=f.unit)
        for key, f in families.items()
        if key != "dropped"
    }
    for name in names:
        snap = figures[name]
        labels = label_pairs(name)
        for key, attr in (
            ("calls", "calls"),
            ("failures", "failures"),
            ("slow", "slow_calls"),
            ("episodes", "episodes"),
        ):
            made[key].add_sample(f"{made[key].name}_total", labels, getattr(snap, attr))
        made["degraded"].add_sample(made["degraded"].name, labels, 1.0 if snap.degraded else 0.0)
        if snap.histogram:
            hist = made["durations"]
            for bound, count in zip(snap.bounds, snap.histogram, strict=True):
                le = "+Inf" if bound == float("inf") else repr(float(bound))
                hist.add_sample(f"{hist.name}_bucket", {**labels, "le": le}, count)
            hist.add_sample(f"{hist.name}_count", labels, snap.histogram[-1])
            hist.add_sample(f"{hist.name}_sum", labels, snap.histogram_sum)
        if snap.baseline is not None:
            base = made["baseline"]
            for percentile, value in (
                ("p50", snap.baseline.p50),
                ("p95", snap.baseline.p95),
                ("p99", snap.baseline.p99),
            ):
                base.add_sample(base.name, {**labels, "percentile": percentile}, value)
    dropped_family = families["dropped"]
    gauge = Metric(dropped_family.name, dropped_family.help, "gauge")
    gauge.add_sample(gauge.name, {}, dropped)
    yield from (*made.values(), gauge)


class _Families:
    """A registry-like holder of some metrics, for prometheus_client's generate_latest."""

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self._metrics = list(metrics)

    def collect(self) -> Iterable[Metric]:
        return self._metrics


def render(registry: CollectorRegistry | None = None, *, openmetrics: bool = False) -> bytes:
    """The registry's exposition, as prometheus_client's generate_latest would write it,
    with every PerfguardCollector's families written by perfguard (much faster)."""
    source = REGISTRY if registry is None else registry
    parts: list[str] = []
    pending: list[Metric] = []

    def flush() -> None:
        if not pending:
            return
        holder: Any = _Families(pending)
        encode = openmetrics_format.generate_latest if openmetrics else text_format.generate_latest
        parts.append(encode(holder).decode("utf-8").removesuffix("# EOF\n"))
        pending.clear()

    _serving.openmetrics = openmetrics
    try:
        for metric in source.collect():
            if isinstance(metric, _Rendered):
                flush()
                parts.append(metric.text)
            else:
                pending.append(metric)
    finally:
        _serving.openmetrics = None
    flush()
    if openmetrics:
        parts.append("# EOF\n")
    return "".join(parts).encode("utf-8")


def _response(
    registry: CollectorRegistry | None, accept: str, encoding: str, compress: bool
) -> tuple[bytes, list[tuple[str, str]]]:
    openmetrics = "application/openmetrics-text" in accept
    body = render(registry, openmetrics=openmetrics)
    headers = [("Content-Type", OPENMETRICS_CONTENT_TYPE if openmetrics else TEXT_CONTENT_TYPE)]
    if compress and "gzip" in encoding:
        body = gzip.compress(body, compresslevel=1)
        headers.append(("Content-Encoding", "gzip"))
    return body, headers


async def _in_thread(work: Callable[[], tuple[bytes, list[tuple[str, str]]]]) -> Any:
    """Off the event loop: anyio's worker threads when anyio is there (Starlette and
    FastAPI bring it; it works under trio too), else asyncio's default executor."""
    try:
        from anyio import to_thread
    except ImportError:  # a bare asyncio server
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, work)
    return await to_thread.run_sync(work)


class MetricsASGIApp:
    """Serves the registry at whatever path it is mounted; rendering runs in a thread."""

    perfguard_metrics_endpoint = True  # PerfguardMiddleware does not record it

    def __init__(self, registry: CollectorRegistry | None, compress: bool) -> None:
        self.registry = registry
        self.compress = compress

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            return
        scope[EXCLUDE_KEY] = True
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        accept, encoding = headers.get("accept", ""), headers.get("accept-encoding", "")
        body, reply = await _in_thread(
            lambda: _response(self.registry, accept, encoding, self.compress)
        )
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply]
        await send({"type": "http.response.start", "status": 200, "headers": raw})
        await send({"type": "http.response.body", "body": body})


def make_asgi_app(
    registry: CollectorRegistry | None = None, *, disable_compression: bool = False
) -> MetricsASGIApp:
    """An ASGI app serving `registry` (prometheus_client's REGISTRY by default):
    `app.mount("/metrics", make_asgi_app(registry))`."""
    return MetricsASGIApp(registry, not disable_compression)


def make_wsgi_app(
    registry: CollectorRegistry | None = None, *, disable_compression: bool = False
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """A WSGI app serving `registry`, e.g. with werkzeug's DispatcherMiddleware."""

    def metrics_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        environ[EXCLUDE_KEY] = True
        body, headers = _response(
            registry,
            environ.get("HTTP_ACCEPT", ""),
            environ.get("HTTP_ACCEPT_ENCODING", ""),
            not disable_compression,
        )
        start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return metrics_app
