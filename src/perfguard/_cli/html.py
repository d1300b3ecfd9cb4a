"""`perfguard report`: one self-contained HTML page (no script, no network) per report.

Per operation: its state, the latency distribution of its recent calls against the
baseline's percentiles (an SVG histogram on a log scale), a timeline of its states and
alerts, and a table of the figures.
"""

from __future__ import annotations

import html
import math
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from .tables import format_seconds, format_time

_WIDTH, _HEIGHT = 520, 160
_TIMELINE_HEIGHT = 110
_COLORS = {"ok": "#2e7d32", "degraded": "#c62828", "learning": "#6d6d6d"}

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;
max-width:1100px}
h1{font-size:22px;margin:0 0 4px} .meta{color:#666;margin-bottom:18px}
.op{border:1px solid #ddd;border-radius:8px;padding:14px 18px;margin:0 0 18px}
.op h2{font-size:17px;margin:0 0 10px;display:flex;gap:10px;align-items:center}
.badge{color:#fff;border-radius:10px;padding:2px 10px;font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0} figcaption{font-size:12px;color:#555}
table{border-collapse:collapse;font-size:13px;margin-top:10px}
td,th{border-bottom:1px solid #eee;padding:3px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}
.summary{margin:0 0 18px;border-collapse:collapse}
.events{font-size:12px;color:#444;margin:8px 0 0;padding-left:18px}
"""


def render_html(
    report: Mapping[str, Any], history: Sequence[Mapping[str, Any]] | None = None
) -> str:
    operations: Mapping[str, Mapping[str, Any]] = report.get("operations", {})
    degraded = [n for n, s in operations.items() if s.get("state") == "degraded"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>perfguard report</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>perfguard report</h1>",
        f"<div class='meta'>{len(operations)} operation(s), {len(degraded)} degraded; "
        f"generated {html.escape(format_time(float(report.get('generated_at', 0))))}</div>",
        _summary_table(operations),
    ]
    for name, stats in operations.items():
        parts.append(_operation_section(name, stats))
    parts.append("</body></html>")
    return "\n".join(parts)


def _summary_table(operations: Mapping[str, Mapping[str, Any]]) -> str:
    rows = []
    for name, stats in operations.items():
        state = str(stats.get("state"))
        baseline = stats.get("baseline") or {}
        rows.append(
            "<tr>"
            f"<td><a href='#{_anchor(name)}'>{html.escape(name)}</a></td>"
            f"<td style='color:{_COLORS.get(state, '#222')}'>{html.escape(state)}</td>"
            f"<td>{_count(stats.get('sample_count', 0))}</td>"
            f"<td>{_percent(stats.get('error_rate'))}</td>"
            f"<td>{_seconds(baseline.get('p95'))}</td>"
            f"<td>{_seconds(stats.get('recent_p95'))}</td>"
            f"<td>{_count(len(_list(stats.get('events'))))}</td>"
            "</tr>"
        )
    head = (
        "<tr><th>operation</th><th>state</th><th>calls</th><th>errors</th>"
        "<th>baseline p95</th><th>recent p95</th><th>events</th></tr>"
    )
    return f"<table class='summary'>{head}{''.join(rows)}</table>"


def _operation_section(name: str, stats: Mapping[str, Any]) -> str:
    state = str(stats.get("state"))
    color = _COLORS.get(state, "#222")
    events = [e for e in _list(stats.get("events")) if isinstance(e, dict)]
    event_items = "".join(f"<li>{html.escape(str(e.get('summary', '')))}</li>" for e in events)
    return (
        f"<section class='op' id='{_anchor(name)}'>"
        f"<h2>{html.escape(name)} <span class='badge' style='background:{color}'>"
        f"{html.escape(state)}</span></h2>"
        "<div class='charts'>"
        f"<figure>{_distribution_svg(stats)}<figcaption>recent calls (bars, log scale) "
        "against the baseline p50 / p95 / p99 (dashed)</figcaption></figure>"
        f"<figure>{_timeline_svg(stats)}<figcaption>states over the calls recorded "
        "(red: degraded; marks: alerts)</figcaption></figure>"
        "</div>"
        f"{_figures_table(stats)}"
        + (f"<ul class='events'>{event_items}</ul>" if event_items else "")
        + "</section>"
    )


def _distribution_svg(stats: Mapping[str, Any]) -> str:
    durations = [d for d in _list(stats.get("recent_durations")) if _is_number(d) and d > 0]
    baseline = stats.get("baseline") or {}
    markers: list[tuple[str, float]] = [
        (q, float(baseline[q])) for q in ("p50", "p95", "p99") if _is_number(baseline.get(q))
    ]
    values = durations + [v for _, v in markers]
    svg = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{_WIDTH}' height='{_HEIGHT}' "
        f"role='img' aria-label='latency distribution'>",
        f"<rect width='{_WIDTH}' height='{_HEIGHT}' fill='#fafafa'/>",
    ]
    if not values:
        svg.append("<text x='20' y='80' fill='#888'>no calls recorded yet</text></svg>")
        return "".join(svg)
    low, high = math.log10(min(values)), math.log10(max(values))
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    plot_height = _HEIGHT - 30
    svg.extend(_histogram_bars(durations, low, high, plot_height))

    def x_of(value: float) -> float:
        return 10 + (math.log10(value) - low) / (high - low) * (_WIDTH - 20)

    for label, value in markers:
        x = x_of(value)
        svg.append(
            f"<line x1='{x:.1f}' x2='{x:.1f}' y1='6' y2='{10 + plot_height}' stroke='#333' "
            "stroke-dasharray='4 3'/>"
            f"<text x='{x + 3:.1f}' y='16' font-size='10' fill='#333'>{label} "
            f"{html.escape(format_seconds(value))}</text>"
        )
    for value in (10**low, 10**high):
        anchor = "start" if value == 10**low else "end"
        svg.append(
            f"<text x='{x_of(value):.1f}' y='{_HEIGHT - 4}' font-size='10' fill='#666' "
            f"text-anchor='{anchor}'>{html.escape(format_seconds(value))}</text>"
        )
    svg.append("</svg>")
    return "".join(svg)


def _histogram_bars(
    durations: list[float], low: float, high: float, plot_height: float
) -> list[str]:
    """Bars of a 48-bin histogram of log10(duration) between `low` and `high`."""
    bins = 48
    counts = [0] * bins
    for d in durations:
        position = (math.log10(d) - low) / (high - low)
        counts[min(bins - 1, int(position * bins))] += 1
    top = max(counts) or 1
    bar_width = (_WIDTH - 20) / bins
    bars = []
    for index, count in enumerate(counts):
        if count:
            height = plot_height * count / top
            bars.append(
                f"<rect x='{10 + index * bar_width:.1f}' y='{10 + plot_height - height:.1f}' "
                f"width='{bar_width - 1:.1f}' height='{height:.1f}' fill='#5c8fd6'/>"
            )
    return bars


def _timeline_svg(stats: Mapping[str, Any]) -> str:
    count = stats.get("sample_count", 0)
    total = max(1, int(count)) if _is_number(count) else 1
    events: Sequence[Mapping[str, Any]] = [
        e for e in _list(stats.get("events")) if isinstance(e, dict)
    ]
    width = _WIDTH
    svg = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' "
        f"height='{_TIMELINE_HEIGHT}' role='img' aria-label='state timeline'>",
        f"<rect width='{width}' height='{_TIMELINE_HEIGHT}' fill='#fafafa'/>",
        f"<rect x='10' y='60' width='{width - 20}' height='30' fill='{_COLORS['ok']}' "
        "opacity='0.75'/>",
    ]

    def x_of(sample: float) -> float:
        return 10 + min(1.0, max(0.0, sample / total)) * (width - 20)

    open_since: float | None = None
    for event in events:
        if event.get("kind") == "degraded":
            open_since = _number(event.get("started_at_sample"), 0.0)
            x = x_of(_number(event.get("sample_index"), 0.0))
            svg.append(f"<path d='M{x:.1f},52 l-5,-9 h10 z' fill='{_COLORS['degraded']}'/>")
        elif open_since is not None:
            end = _number(event.get("sample_index"), float(total))
            svg.append(_span(x_of(open_since), x_of(end)))
            open_since = None
    if open_since is not None:
        svg.append(_span(x_of(open_since), x_of(total)))
    svg.append(
        f"<text x='10' y='104' font-size='10' fill='#666'>call 0</text>"
        f"<text x='{width - 10}' y='104' font-size='10' fill='#666' text-anchor='end'>"
        f"call {total}</text></svg>"
    )
    return "".join(svg)


def _span(start: float, end: float) -> str:
    return (
        f"<rect x='{start:.1f}' y='60' width='{max(2.0, end - start):.1f}' height='30' "
        f"fill='{_COLORS['degraded']}'/>"
    )


def _figures_table(stats: Mapping[str, Any]) -> str:
    baseline = stats.get("baseline") or {}
    rows = []
    for key in ("p50", "p75", "p95", "p99", "mean", "std"):
        rows.append(
            f"<tr><td>{key}</td><td>{_seconds(baseline.get(key))}</td>"
            f"<td>{_seconds(stats.get(f'recent_{key}'))}</td></tr>"
        )
    rows.append(
        f"<tr><td>error rate</td><td>{_percent(baseline.get('error_rate'))}</td>"
        f"<td>{_percent(stats.get('recent_error_rate'))}</td></tr>"
    )
    rows.append(
        f"<tr><td>calls</td><td>{_count(baseline.get('sample_count', '-'))}</td>"
        f"<td>{_count(stats.get('sample_count', 0))}</td></tr>"
    )
    return (
        "<table><tr><th></th><th>baseline</th><th>recent window</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _percent(value: object) -> str:
    return f"{value:.2%}" if _is_number(value) else "-"


# Every value a report file carries reaches the page through one of these: a report is
# a file anybody may have written, so a "number" may be markup (tests/integrations/
# test_report_browser.py loads a hostile one in a real browser).


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _seconds(value: object) -> str:
    return html.escape(format_seconds(float(value))) if _is_number(value) else "-"  # type: ignore[arg-type]


def _number(value: object, default: float) -> float:
    return float(value) if _is_number(value) else default  # type: ignore[arg-type]


def _count(value: object) -> str:
    return html.escape(str(value))


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _anchor(name: str) -> str:
    readable = "".join(c if c.isalnum() else "-" for c in name)[:60]
    return f"op-{readable}-{zlib.crc32(name.encode('utf-8', 'surrogatepass')):08x}"
