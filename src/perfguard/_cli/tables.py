"""Plain-text tables for people: the CLI's rendering, kept apart from its commands."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from .._baseline import Baseline


def format_seconds(value: float | None) -> str:
    """A duration with a unit a person reads at a glance (µs, ms or s)."""
    if value is None:
        return "-"
    if value < 1e-3:
        return f"{value * 1e6:.0f}µs"
    if value < 1.0:
        return f"{value * 1e3:.1f}ms"
    return f"{value:.2f}s"


def format_time(epoch: float) -> str:
    try:
        return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    except (OverflowError, OSError, ValueError):  # a time no calendar holds
        return "-"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; numbers-looking columns right-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    right = [index > 0 for index in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if right[i] else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def baselines_table(baselines: Mapping[str, Baseline]) -> str:
    headers = [
        "operation",
        "p50",
        "p75",
        "p95",
        "p99",
        "mean",
        "std",
        "errors",
        "samples",
        "updated",
    ]
    rows = []
    for name in sorted(baselines):
        b = baselines[name]
        rows.append(
            [
                name,
                format_seconds(b.p50),
                format_seconds(b.p75),
                format_seconds(b.p95),
                format_seconds(b.p99),
                format_seconds(b.mean),
                format_seconds(b.std),
                f"{b.error_rate:.1%}",
                str(b.sample_count),
                format_time(b.updated_at),
            ]
        )
    return render_table(headers, rows)


def stats_table(all_stats: Sequence[Mapping[str, Any]], alerts: Mapping[str, int]) -> str:
    headers = [
        "operation",
        "state",
        "calls",
        "errors",
        "base p50",
        "base p95",
        "now p50",
        "now p95",
        "slow calls",
        "alerts",
    ]
    rows = []
    for stats in all_stats:
        baseline = stats["baseline"] or {}
        rows.append(
            [
                stats["operation"],
                stats["state"],
                str(stats["sample_count"]),
                f"{stats['error_rate'] or 0.0:.1%}",
                format_seconds(baseline.get("p50")),
                format_seconds(baseline.get("p95")),
                format_seconds(stats["recent_p50"]),
                format_seconds(stats["recent_p95"]),
                str(stats["degradation_count"]),
                str(alerts.get(stats["operation"], 0)),
            ]
        )
    return render_table(headers, rows)


def operations_table(operations: Mapping[str, Mapping[str, Any]]) -> str:
    """Per operation its state and figures: the baseline's p95 against the latest
    minute's (a report's recent window when it has no minutes)."""
    headers = ["operation", "state", "calls", "errors", "base p95", "now p95", "signals"]
    rows = []
    for name in sorted(operations):
        stats = operations[name]
        baseline = stats.get("baseline") or {}
        error_rate = stats.get("error_rate")
        rows.append(
            [
                name,
                str(stats.get("state")),
                str(stats.get("sample_count", "-")),
                f"{error_rate:.1%}" if isinstance(error_rate, (int, float)) else "-",
                format_seconds(_number(baseline.get("p95"))),
                format_seconds(_number(stats.get("recent_p95"))),
                ",".join(str(s) for s in stats.get("degraded_signals") or []) or "-",
            ]
        )
    return render_table(headers, rows)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
