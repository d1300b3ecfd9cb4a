"""The report's charts, as inline SVG (no script): latency over wall-clock time against
the baseline band with alert episodes shaded, the distribution of recent calls on a log
axis, and the trend across runs.

Every label is placed so that none overlaps another: tick labels are thinned by their
estimated width (CHAR_WIDTH a character at FONT px) and percentile labels take the
first row above the plot where they fit. tests/integrations/test_report_browser.py
measures the boxes in a real browser.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from .tables import format_seconds

FONT = 11
CHAR_WIDTH = 7.0  # generous for 11 px system-ui digits and letters
SERIES = (("p50", "#1f77b4"), ("p95", "#e07b00"), ("p99", "#8e44ad"))
BAR_COLOR = "#5c8fd6"
EPISODE_FILL = "#c62828"
BAND_FILL = "#2e7d32"

Point = tuple[float, float | None]  # (x value, y value or a gap)
GAP = 330.0  # seconds without a point that break a line (quiet minutes of slow traffic)


def _text(x: float, y: float, label: str, anchor: str = "middle", fill: str = "#555") -> str:
    return (
        f"<text x='{x:.1f}' y='{y:.1f}' font-size='{FONT}' fill='{fill}' "
        f"text-anchor='{anchor}'>{html.escape(label)}</text>"
    )


def _width_of(label: str) -> float:
    return len(label) * CHAR_WIDTH + 4.0


def _open(width: int, height: int, label: str) -> list[str]:
    return [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' "
        f"width='100%' role='img' aria-label='{html.escape(label)}'>",
        f"<rect width='{width}' height='{height}' fill='#fcfcfc'/>",
    ]


def thinned(positions: Sequence[tuple[float, str]], gap: float = 8.0) -> list[tuple[float, str]]:
    """Centered labels, left to right, dropping any that would touch the previous one."""
    kept: list[tuple[float, str]] = []
    right = -math.inf
    for x, label in sorted(positions):
        half = _width_of(label) / 2
        if x - half >= right + gap:
            kept.append((x, label))
            right = x + half
    return kept


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round values (1, 2, 2.5 or 5 x 10^k apart) from low up to the first >= high."""
    if high <= low:
        return [low]
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks: list[float] = []
    value = first
    while not ticks or ticks[-1] < high - step * 1e-9:
        if value >= low - step * 1e-9:
            ticks.append(round(value, 12))
        value += step
    return ticks


def _clock(epoch: float, with_date: bool) -> str:
    try:
        moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return "?"

    return moment.strftime("%m-%d %H:%M" if with_date else "%H:%M")


def time_ticks(start: float, end: float, count: int = 6) -> list[float]:
    """Round clock times (1, 2, 5, 10, 15, 30 minutes, 1, 2, 6, 12 hours, days apart)."""
    span = max(end - start, 60.0)
    steps = [60.0 * m for m in (1, 2, 5, 10, 15, 30, 60, 120, 360, 720, 1440, 2880, 10080)]
    step = next((s for s in steps if span / s <= count), span / count)
    first = math.ceil(start / step) * step
    return [first + k * step for k in range(int((end - first) // step) + 1)]


class Frame:
    """A plot area in an SVG: x and y scales and the axes' labels."""

    def __init__(self, width: int, height: int, left: float = 58, bottom: float = 28) -> None:
        self.width, self.height = width, height
        self.left, self.right, self.top, self.bottom = left, width - 12.0, 14.0, height - bottom

    def x_scale(self, low: float, high: float, log: bool = False) -> Callable[[float], float]:
        span = (math.log10(high) - math.log10(low)) if log else (high - low)
        span = span or 1.0

        def x_of(value: float) -> float:
            position = (math.log10(value) - math.log10(low)) if log else (value - low)
            return self.left + position / span * (self.right - self.left)

        return x_of

    def y_scale(self, low: float, high: float) -> Callable[[float], float]:
        span = (high - low) or 1.0
        return lambda value: self.bottom - (value - low) / span * (self.bottom - self.top)

    def axes(
        self,
        x_labels: Sequence[tuple[float, str]],
        y_labels: Sequence[tuple[float, str]],
    ) -> list[str]:
        parts = [
            f"<line x1='{self.left}' x2='{self.right}' y1='{self.bottom}' y2='{self.bottom}' "
            "stroke='#999'/>",
            f"<line x1='{self.left}' x2='{self.left}' y1='{self.top}' y2='{self.bottom}' "
            "stroke='#999'/>",
        ]
        ticks = {label: x for x, label in x_labels}
        inside = [(_inside(x, _width_of(t) / 2, self.width), t) for x, t in x_labels]
        for x, label in thinned(inside):
            tick = ticks[label]
            parts.append(
                f"<line x1='{tick:.1f}' x2='{tick:.1f}' y1='{self.bottom}' "
                f"y2='{self.bottom + 4}' stroke='#999'/>"
            )
            parts.append(_text(x, self.bottom + 19, label))
        last_y = math.inf
        for y, label in sorted(y_labels, key=lambda item: -item[0]):
            if last_y - y < FONT + 3:  # rows of labels closer than a line: skipped
                continue
            last_y = y
            parts.append(
                f"<line x1='{self.left}' x2='{self.right}' y1='{y:.1f}' y2='{y:.1f}' "
                "stroke='#eee'/>"
            )
            parts.append(_text(self.left - 6, y + 4, label, anchor="end"))
        return parts


def latency_over_time(
    rows: Sequence[Sequence[float | None]],
    baseline: dict[str, float],
    episodes: Sequence[tuple[float, float]],
) -> str:
    """p50, p95 and p99 per minute (rows [start, calls, failures, p50, p95, p99]) against
    the baseline band (p50 to p95, p99 dashed), episodes of "degraded" shaded."""
    width, height = 760, 230
    svg = _open(width, height, "latency over time")
    frame = Frame(width, height)
    starts = [float(r[0] or 0.0) for r in rows]
    start, end = min(starts), max(starts) + 60.0
    for began, ended in episodes:
        start, end = min(start, began), max(end, ended)
    values = [float(v) for r in rows for v in r[3:6] if v is not None]
    values += [baseline[k] for k in ("p50", "p95", "p99") if k in baseline]
    ticks = nice_ticks(0.0, max(values or [1e-3]) * 1.05)
    x_of = frame.x_scale(start, end)
    y_of = frame.y_scale(0.0, ticks[-1])
    for began, ended in episodes:
        x1, x2 = x_of(max(began, start)), x_of(min(ended, end))
        svg.append(
            f"<rect x='{x1:.1f}' y='{frame.top}' width='{max(2.0, x2 - x1):.1f}' "
            f"height='{frame.bottom - frame.top:.1f}' fill='{EPISODE_FILL}' opacity='0.13'/>"
        )
    if "p50" in baseline and "p95" in baseline:
        top, low = y_of(baseline["p95"]), y_of(baseline["p50"])
        svg.append(
            f"<rect x='{frame.left}' y='{top:.1f}' width='{frame.right - frame.left:.1f}' "
            f"height='{max(1.0, low - top):.1f}' fill='{BAND_FILL}' opacity='0.14'/>"
        )
    if "p99" in baseline:
        y = y_of(baseline["p99"])
        svg.append(
            f"<line x1='{frame.left}' x2='{frame.right}' y1='{y:.1f}' y2='{y:.1f}' "
            f"stroke='{BAND_FILL}' stroke-dasharray='5 4'/>"
        )
    with_date = end - start > 86_400
    x_labels = [(x_of(t), _clock(t, with_date)) for t in time_ticks(start, end)]
    y_labels = [(y_of(t), format_seconds(t) if t else "0") for t in ticks]
    svg.extend(frame.axes(x_labels, y_labels))
    for index, (_, colour) in enumerate(SERIES):
        points = [(s + 30.0, _value(r[3 + index])) for s, r in zip(starts, rows, strict=True)]
        svg.extend(_polyline(points, x_of, y_of, colour))
    svg.append("</svg>")
    return "".join(svg)


def _value(value: float | None) -> float | None:
    return None if value is None else float(value)


def _polyline(
    points: Sequence[Point],
    x_of: Callable[[float], float],
    y_of: Callable[[float], float],
    colour: str,
) -> list[str]:
    """Lines through consecutive minutes (a minute without calls breaks the line), and a
    dot at each point (a single minute is still seen)."""
    parts: list[str] = []
    run: list[str] = []
    previous: float | None = None
    for x, y in sorted(points, key=lambda p: p[0]):
        if y is None or (previous is not None and x - previous > GAP):
            if len(run) > 1:
                parts.append(_line(run, colour))
            run = []
        if y is not None:
            run.append(f"{x_of(x):.1f},{y_of(y):.1f}")
            parts.append(f"<circle cx='{x_of(x):.1f}' cy='{y_of(y):.1f}' r='2' fill='{colour}'/>")
        previous = x
    if len(run) > 1:
        parts.append(_line(run, colour))
    return parts


def _line(points: list[str], colour: str) -> str:
    return (
        f"<polyline points='{' '.join(points)}' fill='none' stroke='{colour}' stroke-width='1.8'/>"
    )


def distribution(durations: Sequence[float], markers: Sequence[tuple[str, float, str]]) -> str:
    """A 48-bin histogram of log10(duration), with markers (label, value, colour) as
    vertical lines labelled in rows above the plot."""
    width, height, bins = 520, 230, 48
    svg = _open(width, height, "latency distribution")
    values = list(durations) + [v for _, v, _ in markers]
    if not values:
        svg.append(_text(width / 2, height / 2, "no calls recorded yet") + "</svg>")
        return "".join(svg)
    frame = Frame(width, height)
    low, high = min(values), max(values)
    if high / low < 1.5:
        low, high = low / 1.5, high * 1.5
    x_of = frame.x_scale(low, high, log=True)
    placed = _assign_rows(markers, x_of, width)
    frame.top = 16.0 + 14.0 * max((row for row, _ in placed), default=-1) + 8.0
    counts = [0] * bins
    span = math.log10(high) - math.log10(low)
    for d in durations:
        counts[min(bins - 1, int((math.log10(d) - math.log10(low)) / span * bins))] += 1
    y_ticks = nice_ticks(0.0, float(max(counts) or 1), count=4)
    y_of = frame.y_scale(0.0, y_ticks[-1])
    bar = (frame.right - frame.left) / bins
    for index, count in enumerate(counts):
        if count:
            y = y_of(count)
            svg.append(
                f"<rect x='{frame.left + index * bar:.1f}' y='{y:.1f}' "
                f"width='{bar - 1:.1f}' height='{frame.bottom - y:.1f}' fill='{BAR_COLOR}'/>"
            )
    x_labels = [(x_of(t), format_seconds(t)) for t in log_ticks(low, high)]
    svg.extend(frame.axes(x_labels, [(y_of(t), f"{t:g}") for t in y_ticks]))
    for (label, value, colour), (row, label_x) in zip(markers, placed, strict=True):
        x = x_of(value)
        label_y = 12.0 + 14.0 * row
        svg.append(
            f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{label_y + 3:.1f}' y2='{frame.bottom}' "
            f"stroke='{colour}' stroke-dasharray='4 3'/>"
        )
        svg.append(_text(label_x, label_y, f"{label} {format_seconds(value)}", fill=colour))
    svg.append("</svg>")
    return "".join(svg)


def _assign_rows(
    markers: Sequence[tuple[str, float, str]], x_of: Callable[[float], float], width: int
) -> list[tuple[int, float]]:
    """Each marker label's row and centre: the first row in which it touches no other
    label, its centre kept inside the chart."""
    taken: list[list[tuple[float, float]]] = []
    result = []
    for label, value, _ in markers:
        half = _width_of(f"{label} {format_seconds(value)}") / 2
        x = _inside(x_of(value), half, width)
        for row, spans in enumerate(taken):
            if all(x + half + 6 < a or x - half - 6 > b for a, b in spans):
                spans.append((x - half, x + half))
                result.append((row, x))
                break
        else:
            taken.append([(x - half, x + half)])
            result.append((len(taken) - 1, x))
    return result


def _inside(x: float, half: float, width: float) -> float:
    return min(max(x, half + 2.0), width - half - 2.0)


def log_ticks(low: float, high: float) -> list[float]:
    """1, 2 and 5 x 10^k between low and high (decades only when they are many)."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    multipliers = (1.0,) if last - first > 4 else (1.0, 2.0, 5.0)
    return [
        m * 10.0**k
        for k in range(first, last + 1)
        for m in multipliers
        if low <= m * 10.0**k <= high
    ]


def trend(runs: Sequence[dict[str, float | None]]) -> str:
    """Per run (#1, #2, …) its p50, p95 and p99, with each run's baseline p95 dashed."""
    width, height = 760, 200
    svg = _open(width, height, "trend across runs")
    frame = Frame(width, height)
    values = [float(v) for run in runs for v in run.values() if v is not None]
    ticks = nice_ticks(0.0, max(values or [1e-3]) * 1.1)
    x_of = frame.x_scale(0.5, len(runs) + 0.5)
    y_of = frame.y_scale(0.0, ticks[-1])
    svg.extend(
        frame.axes(
            [(x_of(i + 1), f"#{i + 1}") for i in range(len(runs))],
            [(y_of(t), format_seconds(t) if t else "0") for t in ticks],
        )
    )
    base = [(float(i + 1), runs[i].get("baseline_p95")) for i in range(len(runs))]
    dashed = [f"{x_of(x):.1f},{y_of(y):.1f}" for x, y in base if y is not None]
    if len(dashed) > 1:
        svg.append(f"<polyline points='{' '.join(dashed)}' fill='none' stroke='{BAND_FILL}' "
                   "stroke-dasharray='5 4'/>")  # fmt: skip
    for key, colour in SERIES:
        points = [(float(i + 1), runs[i].get(key)) for i in range(len(runs))]
        svg.extend(_polyline(points, x_of, y_of, colour))
    svg.append("</svg>")
    return "".join(svg)
