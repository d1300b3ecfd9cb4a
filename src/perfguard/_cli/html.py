"""`perfguard report`: one self-contained HTML page (no script, no network).

At the top a summary table (state, calls, errors, baseline against recent p95) and, when
several runs are given, their trend. Per operation: latency over wall-clock time (p50,
p95, p99 per minute against the baseline band, alert episodes shaded), the distribution
of recent calls against the baseline percentiles, the figures, and the events as a
compact table. Charts are drawn by svg.py.
"""

from __future__ import annotations

import html
import math
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from . import svg
from .tables import format_seconds, format_time

_COLORS = {"ok": "#2e7d32", "degraded": "#c62828", "learning": "#6d6d6d"}

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:16px 24px;
color:#222}
h1{font-size:22px;margin:0 0 4px} .meta{color:#666;margin-bottom:14px}
.op{border:1px solid #ddd;border-radius:8px;padding:12px 16px;margin:0 0 16px}
.op h2{font-size:17px;margin:0 0 8px;display:flex;gap:10px;align-items:center}
.badge{color:#fff;border-radius:10px;padding:2px 10px;font-size:12px}
.charts{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:16px}
@media (max-width:900px){.charts{grid-template-columns:minmax(0,1fr)}}
figure{margin:0} figcaption{font-size:12px;color:#555;margin-top:2px}
.key{display:inline-block;width:14px;height:3px;vertical-align:middle;margin:0 3px 0 8px}
.band{height:10px;opacity:.3}
table{border-collapse:collapse;font-size:13px;margin-top:8px}
td,th{border-bottom:1px solid #eee;padding:3px 10px;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}
.summary{margin:0 0 16px}
.events td{font-size:12px} .events td.detail{text-align:left;color:#555}
.details{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
"""


def render_html(
    report: Mapping[str, Any], history: Sequence[Mapping[str, Any]] | None = None
) -> str:
    operations: Mapping[str, Mapping[str, Any]] = _dict(report.get("operations"))
    degraded = [n for n, s in operations.items() if s.get("state") == "degraded"]
    source = report.get("source")
    where = f"{html.escape(str(source))}; " if source else ""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        "<title>perfguard report</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>perfguard report</h1>",
        f"<div class='meta'>{where}{len(operations)} operation(s), {len(degraded)} degraded; "
        f"figures of {html.escape(format_time(_number(report.get('generated_at'), 0.0)))}</div>",
        _summary_table(operations),
    ]
    if history:
        parts.append(_trend_section(history))
    for name, stats in operations.items():
        parts.append(_operation_section(name, _dict(stats)))
    parts.append("</body></html>")
    return "\n".join(parts)


def _summary_table(operations: Mapping[str, Mapping[str, Any]]) -> str:
    rows = []
    for name, stats in operations.items():
        state = str(stats.get("state"))
        baseline = _dict(stats.get("baseline"))
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
    return (
        f"<section class='op' id='{_anchor(name)}'>"
        f"<h2>{html.escape(name)} <span class='badge' style='background:{color}'>"
        f"{html.escape(state)}</span></h2>"
        "<div class='charts'>"
        f"<figure>{_time_chart(stats)}<figcaption>latency over time, per minute (UTC):"
        f"{_legend()}</figcaption></figure>"
        f"<figure>{_distribution_chart(stats)}<figcaption>recent calls by duration (bars, "
        "log scale; y: calls) against the baseline p50 / p95 / p99 (dashed)"
        "</figcaption></figure>"
        "</div>"
        f"<div class='details'>{_figures_table(stats)}{_events_table(stats)}</div>"
        "</section>"
    )


def _legend() -> str:
    keys = "".join(
        f"<span class='key' style='background:{colour}'></span>{label}"
        for label, colour in svg.SERIES
    )
    return (
        f"{keys}<span class='key band' style='background:{svg.BAND_FILL}'></span>baseline "
        f"p50 to p95 (p99 dashed)<span class='key band' style='background:"
        f"{svg.EPISODE_FILL}'></span>degraded"
    )


def _time_chart(stats: Mapping[str, Any]) -> str:
    rows = [r for r in _list(stats.get("timeline")) if _is_row(r)]
    if not rows:
        return "<p class='meta'>no latency over time recorded for this operation</p>"
    baseline = _dict(stats.get("baseline"))
    band = {k: float(baseline[k]) for k in ("p50", "p95", "p99") if _is_number(baseline.get(k))}
    end = max(float(r[0]) for r in rows) + 60.0
    return svg.latency_over_time(rows, band, episodes(_list(stats.get("events")), end))


def episodes(events: Sequence[object], end: float) -> list[tuple[float, float]]:
    """(start, end) in wall time of each degraded episode the events tell of."""
    spans: list[tuple[float, float]] = []
    began: float | None = None
    for event in events:
        if not isinstance(event, dict):
            continue
        when = _number(event.get("time"), math.nan)
        if event.get("kind") == "degraded" and began is None:
            began = _number(event.get("started_at_time"), when)
        elif event.get("kind") == "recovered" and began is not None:
            spans.append((began, when if math.isfinite(when) else end))
            began = None
    if began is not None and math.isfinite(began):
        spans.append((began, max(end, began)))
    return [(a, b) for a, b in spans if math.isfinite(a) and math.isfinite(b)]


def _distribution_chart(stats: Mapping[str, Any]) -> str:
    durations = [float(d) for d in _list(stats.get("recent_durations")) if _is_number(d) and d > 0]
    baseline = _dict(stats.get("baseline"))
    markers = [
        (f"base {q}", float(baseline[q]), "#333")
        for q in ("p50", "p95", "p99")
        if _is_number(baseline.get(q)) and baseline[q] > 0
    ]
    recent = stats.get("recent_p95")
    if _is_number(recent) and recent > 0:
        markers.append(("now p95", float(recent), svg.EPISODE_FILL))
    if not durations:
        rows = [r for r in _list(stats.get("timeline")) if _is_row(r) and r[4] is not None]
        durations = [float(r[4]) for r in rows]  # a store keeps minutes, not calls
    return svg.distribution(durations, markers)


def _figures_table(stats: Mapping[str, Any]) -> str:
    baseline = _dict(stats.get("baseline"))
    rows = []
    for key in ("p50", "p75", "p95", "p99", "mean", "std"):
        if key in baseline or f"recent_{key}" in stats:
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
    return "<table><tr><th></th><th>baseline</th><th>recent</th></tr>" + "".join(rows) + "</table>"


def _events_table(stats: Mapping[str, Any]) -> str:
    events = [e for e in _list(stats.get("events")) if isinstance(e, dict)]
    if not events:
        return ""
    rows = []
    for event in events[-12:]:
        ratio = event.get("effect_ratio")
        rows.append(
            "<tr>"
            f"<td>{_clock(event.get('time'))}</td>"
            f"<td>{html.escape(str(event.get('kind', '-')))}</td>"
            f"<td>{html.escape(', '.join(str(s) for s in _list(event.get('signals'))))}</td>"
            f"<td>{'x' + format(ratio, '.2f') if _is_number(ratio) else '-'}</td>"
            f"<td>{_clock(event.get('started_at_time'))}</td>"
            f"<td class='detail'>{html.escape(_detail(str(event.get('summary', ''))))}</td>"
            "</tr>"
        )
    head = (
        "<tr><th>time (UTC)</th><th>event</th><th>signals</th><th>effect</th>"
        "<th>episode since</th><th>current vs baseline</th></tr>"
    )
    return f"<table class='events'>{head}{''.join(rows)}</table>"


def _detail(summary: str) -> str:
    """The figures of an event's summary line, without the words the columns say."""
    _, _, rest = summary.partition(": ")
    for cut in (", x", " (episode began", "; the episode"):
        rest = rest.split(cut)[0]
    return rest or summary


def _trend_section(history: Sequence[Mapping[str, Any]]) -> str:
    """Per operation of any run, its figures run after run (#1 the first given)."""
    names = sorted({n for report in history for n in _dict(report.get("operations"))})
    runs = "".join(
        f"<tr><td>#{i + 1}</td><td>{html.escape(str(r.get('source', '-')))}</td>"
        f"<td>{html.escape(format_time(_number(r.get('generated_at'), 0.0)))}</td></tr>"
        for i, r in enumerate(history)
    )
    parts = [
        "<section class='op'><h2>trend across runs</h2>",
        f"<table><tr><th>run</th><th>target</th><th>figures of (UTC)</th></tr>{runs}</table>",
    ]
    for name in names:
        series = [_run_figures(_dict(_dict(r.get("operations")).get(name))) for r in history]
        parts.append(
            f"<figure><figcaption><b>{html.escape(name)}</b>: recent p50 / p95 / p99 per "
            f"run, baseline p95 dashed{_legend()}</figcaption>{svg.trend(series)}</figure>"
        )
    parts.append("</section>")
    return "".join(parts)


def _run_figures(stats: Mapping[str, Any]) -> dict[str, float | None]:
    baseline = _dict(stats.get("baseline"))
    result: dict[str, float | None] = {}
    for key in ("p50", "p95", "p99"):
        value = stats.get(f"recent_{key}")
        result[key] = float(value) if _is_number(value) else None
    p95 = baseline.get("p95")
    result["baseline_p95"] = float(p95) if _is_number(p95) else None
    return result


# Every value a report file carries reaches the page through one of these: a report is
# a file anybody may have written, so a "number" may be markup (tests/integrations/
# test_report_browser.py loads a hostile one in a real browser).


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_row(row: object) -> bool:
    if not isinstance(row, list) or len(row) != 6 or not all(_is_number(v) for v in row[:3]):
        return False
    return all(v is None or (_is_number(v) and v >= 0) for v in row[3:])


def _seconds(value: object) -> str:
    return html.escape(format_seconds(float(value))) if _is_number(value) else "-"


def _clock(value: object) -> str:
    return html.escape(format_time(float(value))[5:]) if _is_number(value) else "-"


def _number(value: object, default: float) -> float:
    return float(value) if _is_number(value) else default


def _count(value: object) -> str:
    return html.escape(str(value))


def _percent(value: object) -> str:
    return f"{value:.2%}" if _is_number(value) else "-"


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _anchor(name: str) -> str:
    readable = "".join(c if c.isalnum() else "-" for c in name)[:60]
    return f"op-{readable}-{zlib.crc32(name.encode('utf-8', 'surrogatepass')):08x}"
