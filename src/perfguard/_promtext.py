"""The exposition of perfguard's figures, written directly as text (the Prometheus text
format 0.0.4 or OpenMetrics 1.0): no third-party import, so the served /metrics costs
a few string joins per operation instead of prometheus_client's per-sample formatting.

Each operation's label text is escaped once and cached; bucket bounds are formatted
once per bounds. An operation named "<METHOD> <route>" (what the ASGI and WSGI
middlewares record) also gets `method` and `route` labels: the split is a parse of a
leading HTTP method token (the nine standard methods, or OTHER), so it needs no
registration and holds for the names other processes publish host-wide.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ._baseline import Baseline
from ._exportable import exportable
from ._stores.host_metrics import Figures
from .asgi import STANDARD_METHODS

HTTP_METHODS = STANDARD_METHODS | {"OTHER"}


def http_parts(name: str) -> tuple[str, str] | None:
    """(method, route) of an operation named "<METHOD> <route>", else None."""
    method, space, route = name.partition(" ")
    if space and route and method in HTTP_METHODS:
        return method, route
    return None


def label_pairs(name: str) -> dict[str, str]:
    """The labels of one operation: `operation`, plus `method` and `route` when split."""
    value = exportable(name)
    labels = {"operation": value}
    parts = http_parts(value)
    if parts is not None:
        labels["method"], labels["route"] = parts
    return labels


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _label_text(name: str) -> str:
    return ",".join(f'{key}="{_escape(value)}"' for key, value in label_pairs(name).items())


def number(value: float) -> str:
    """A sample value as both formats spell it (ints exact, +Inf, NaN)."""
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(value)


@dataclass(frozen=True)
class Family:
    name: str  # without the _total of a counter
    kind: str  # counter, gauge, histogram
    help: str
    unit: str = ""


def families(ns: str) -> dict[str, Family]:
    return {
        "calls": Family(f"{ns}_calls", "counter", "Calls recorded"),
        "failures": Family(f"{ns}_failures", "counter", "Calls that failed"),
        "slow": Family(f"{ns}_slow_calls", "counter", "Calls slower than the per-call threshold"),
        "durations": Family(
            f"{ns}_call_duration_seconds", "histogram", "Call durations", "seconds"
        ),
        "baseline": Family(
            f"{ns}_baseline_seconds",
            "gauge",
            "Baseline latency percentiles (label percentile: p50, p95, p99)",
            "seconds",
        ),
        "degraded": Family(f"{ns}_degraded", "gauge", "1 while the operation is degraded"),
        "episodes": Family(f"{ns}_degradation_events", "counter", "Transitions into degraded"),
        "dropped": Family(
            f"{ns}_exporter_operations_dropped",
            "gauge",
            "Operations not exported (beyond max_operations)",
        ),
    }


COUNTERS = (("calls", "calls"), ("failures", "failures"), ("slow", "slow_calls"))


class _Lines:
    """One operation's sample prefixes (name, escaped labels, the space before the value),
    built once: a scrape joins them with the values, in C. Its histogram and baseline
    blocks are kept as text and rewritten only when their figures changed."""

    __slots__ = (
        "_base_key",
        "_base_text",
        "_bounds",
        "_buckets",
        "_hist_key",
        "_hist_text",
        "_label",
        "baseline",
        "count",
        "counters",
        "degraded",
        "episodes",
        "sum",
    )

    def __init__(self, families: dict[str, Family], name: str) -> None:
        label = _label_text(name)
        self.counters = [f"{families[key].name}_total{{{label}}} " for key, _ in COUNTERS]
        self.episodes = f"{families['episodes'].name}_total{{{label}}} "
        self.degraded = f"{families['degraded'].name}{{{label}}} "
        base = families["baseline"].name
        self.baseline = [f'{base}{{{label},percentile="{p}"}} ' for p in ("p50", "p95", "p99")]
        hist = families["durations"].name
        self.count = f"{hist}_count{{{label}}} "
        self.sum = f"{hist}_sum{{{label}}} "
        self._label = label
        self._bounds: tuple[float, ...] = ()
        self._buckets: list[str] = []
        self._hist_key: tuple[list[int], float] | None = None
        self._hist_text = ""
        self._base_key: tuple[float, float, float] | None = None
        self._base_text = ""

    def histogram(self, hist: str, snap: Figures) -> str:
        key = (snap.histogram, snap.histogram_sum)
        if key == self._hist_key:
            return self._hist_text
        if snap.bounds != self._bounds:
            les = ["+Inf" if b == math.inf else repr(float(b)) for b in snap.bounds]
            self._buckets = [f'{hist}_bucket{{{self._label},le="{le}"}} ' for le in les]
            self._bounds = snap.bounds
        buckets = "\n".join(map(str.__add__, self._buckets, map(str, snap.histogram)))
        self._hist_text = (
            f"{buckets}\n{self.count}{snap.histogram[-1]}\n{self.sum}{number(snap.histogram_sum)}\n"
        )
        self._hist_key = (list(snap.histogram), snap.histogram_sum)
        return self._hist_text

    def baseline_text(self, base: Baseline) -> str:
        key = (base.p50, base.p95, base.p99)
        if key != self._base_key:
            values = map(number, key)
            self._base_text = "".join(map("{}{}\n".format, self.baseline, values))
            self._base_key = key
        return self._base_text


def _joined(out: list[str], prefixes: Iterable[str], values: Iterable[object]) -> None:
    text = "\n".join(map(str.__add__, prefixes, map(str, values)))
    if text:
        out.append(text)
        out.append("\n")


class TextRenderer:
    """Renders figures; keeps the sample prefixes of the operations it last wrote."""

    def __init__(self, namespace: str) -> None:
        self.families = families(namespace)
        self._lines: dict[str, _Lines] = {}

    def _header(self, family: Family, openmetrics: bool) -> str:
        if openmetrics:
            unit = f"# UNIT {family.name} {family.unit}\n" if family.unit else ""
            return f"# TYPE {family.name} {family.kind}\n{unit}# HELP {family.name} {family.help}\n"
        sample = f"{family.name}_total" if family.kind == "counter" else family.name
        return f"# HELP {sample} {family.help}\n# TYPE {sample} {family.kind}\n"

    def render(
        self, figures: Mapping[str, Figures], names: Iterable[str], dropped: int, openmetrics: bool
    ) -> str:
        f = self.families
        old, cache = self._lines, {}
        for name in names:
            lines = old.get(name)
            cache[name] = lines if lines is not None else _Lines(f, name)
        self._lines = cache  # operations no longer exported are forgotten
        lines_of = list(cache.values())
        snaps = [figures[name] for name in cache]
        out: list[str] = []
        for index, (key, attr) in enumerate(COUNTERS):
            out.append(self._header(f[key], openmetrics))
            _joined(out, (o.counters[index] for o in lines_of), [getattr(s, attr) for s in snaps])
        out.append(self._header(f["durations"], openmetrics))
        hist = f["durations"].name
        out.extend(
            lines.histogram(hist, snap)
            for lines, snap in zip(lines_of, snaps, strict=True)
            if snap.histogram
        )
        out.append(self._header(f["baseline"], openmetrics))
        out.extend(
            lines.baseline_text(snap.baseline)
            for lines, snap in zip(lines_of, snaps, strict=True)
            if snap.baseline is not None
        )
        out.append(self._header(f["degraded"], openmetrics))
        _joined(out, (o.degraded for o in lines_of), [1 if s.degraded else 0 for s in snaps])
        out.append(self._header(f["episodes"], openmetrics))
        _joined(out, (o.episodes for o in lines_of), [s.episodes for s in snaps])
        out.append(self._header(f["dropped"], openmetrics))
        out.append(f"{f['dropped'].name} {dropped}\n")
        if openmetrics:
            out.append("# EOF\n")
        return "".join(out)
