"""How soon could any detector tell each recorded fault from chance? The information floor.

Run: python bench/information_floor.py [--data DIR [DIR ...]] [--markdown] [--per-fault]

A sequential test that keeps false alarms to about one per e^h excursions needs, on
average, h / KL calls after a change, where KL is the Kullback-Leibler divergence per
call between the distribution after the change and before it (Lorden's bound; the
CUSUM attains it). perfguard's tests need h = 12 nats for latency and errors and 9 for
the tail (one operation; a family of N adds ln N). So for each fault of the recorded
traces this script measures, from the healthy calls before it and the calls after it:

- the divergence of each indicator perfguard counts (slower than the healthy p50, p95,
  p99, 3x p99; a failure) and the floor h / KL of the most informative one;
- the divergence of the whole distribution (20 bins between healthy quantiles, plus
  failures): a floor no test on these calls can beat if calls were independent;
- the same indicator floor times the indicator's overdispersion in healthy 64-call
  windows (variance of their counts over the binomial variance): real calls come in
  runs, so a call is worth less than one independent call.

It compares each floor with the delay perfguard reached (bench/realtrace.py's scoring)
and says, per family, how many faults any detector could catch within 500 calls at this
false-alarm budget. A drift is measured on its fully grown span; its floor is counted
from half its ramp, as the scoring rules count a drift. The figures are estimates of an
average delay (a lucky run comes sooner): the "after" distribution is measured on the
whole fault span, a bin or indicator with few healthy calls is smoothed, and the
overdispersion of a rare indicator (the p99's: under one hit a window) is noisy.
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from perfguard import DetectorSettings
from realtrace import DEFAULT_DATA, WITHIN, Trace, load, score

# the evidence perfguard's tests need for one operation (a family of N adds ln N)
LATENCY_H, TAIL_H = DetectorSettings().threshold, DetectorSettings().tail_threshold
WARM_UP = 300  # calls skipped at a trace's start (cold caches)
SPAN = 3000  # calls measured on each side of a change, at most
WINDOW = 64  # calls per window for the overdispersion
BIN_EDGES: tuple[float | str, ...] = (*(i / 20 for i in range(1, 20)), 0.99, 0.999)
TAIL_EDGES: tuple[float | str, ...] = (0.95, 0.99, "far")  # the limits perfguard's tail tests count


@dataclass(frozen=True)
class Floor:
    name: str
    family: str
    measurable: bool
    indicator: str  # the most informative indicator
    indicator_floor: float  # calls, independent calls
    dispersion: float  # that indicator's overdispersion while healthy
    distribution_floor: float  # calls, the whole distribution, independent calls
    tail_floor: float  # calls, the tail tests' limits taken together, independent calls
    delay: int | None  # perfguard's delay within 500 (None: not caught within 500)


def bernoulli_kl(after: float, before: float) -> float:
    """KL(after || before) of two Bernoulli rates, in nats."""
    before = min(max(before, 1e-4), 1 - 1e-4)
    total = 0.0
    for p, q in ((after, before), (1 - after, 1 - before)):
        if p > 0:
            total += p * math.log(p / q)
    return total


def quantile(ordered: Sequence[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def indicators(
    healthy: Sequence[tuple[float, bool]],
) -> dict[str, tuple[float, float | None]]:
    """Each indicator's healthy rate and its limit (None: a failure)."""
    ok = sorted(v for v, s in healthy if s)
    p50, p95, p99 = (quantile(ok, q) for q in (0.5, 0.95, 0.99))
    limits: dict[str, float | None] = {
        "p50": p50,
        "p95": p95,
        "p99": p99,
        "far": 3 * p99,
        "errors": None,
    }
    return {name: (rate_of(healthy, limit), limit) for name, limit in limits.items()}


def hits(calls: Sequence[tuple[float, bool]], limit: float | None) -> list[bool]:
    if limit is None:
        return [not s for _, s in calls]
    return [s and v > limit for v, s in calls]


def rate_of(calls: Sequence[tuple[float, bool]], limit: float | None) -> float:
    found = hits(calls, limit)
    # smoothed: a healthy span with no hit does not make one hit infinitely surprising
    return (sum(found) + 0.5) / (len(found) + 1)


def dispersion_of(calls: Sequence[tuple[float, bool]], limit: float | None, rate: float) -> float:
    """Variance of the hit counts of consecutive windows over the binomial variance."""
    found = hits(calls, limit)
    counts = [sum(found[i : i + WINDOW]) for i in range(0, len(found) - WINDOW + 1, WINDOW)]
    if len(counts) < 4:
        return 1.0
    expected = WINDOW * rate * (1 - rate)
    return max(1.0, statistics.variance(counts) / expected) if expected > 0 else 1.0


def distribution_kl(
    healthy: Sequence[tuple[float, bool]],
    after: Sequence[tuple[float, bool]],
    quantiles: Sequence[float | str],
) -> float:
    """KL(after || healthy) over bins between healthy quantiles ("far": 3x the p99),
    failures a bin of their own."""
    ok = sorted(v for v, s in healthy if s)
    edges = [3 * quantile(ok, 0.99) if q == "far" else quantile(ok, float(q)) for q in quantiles]

    def histogram(calls: Sequence[tuple[float, bool]]) -> list[float]:
        counts = [0.5] * (len(edges) + 2)  # smoothed
        for value, success in calls:
            if not success:
                counts[-1] += 1
                continue
            at = 0
            while at < len(edges) and value > edges[at]:
                at += 1
            counts[at] += 1
        total = sum(counts)
        return [c / total for c in counts]

    p, q = histogram(after), histogram(healthy)
    return sum(a * math.log(a / b) for a, b in zip(p, q, strict=True) if a > 0)


def floors_of(trace: Trace) -> list[Floor]:
    calls = list(zip(trace.values, trace.successes, strict=True))
    delays = list(score(trace).delays)
    result = []
    for change in trace.changes:
        index = int(str(change["index"]))
        end = change.get("end")
        stop = int(str(end)) if end is not None else len(calls)
        ramp = int(str(change.get("ramp") or 0)) if change["kind"] == "drift" else 0
        healthy = calls[max(WARM_UP, index - SPAN) : index]
        after = calls[index + ramp // 2 : min(stop, index + ramp // 2 + SPAN)]
        if len(healthy) < 500 or len(after) < 200:
            continue
        best, best_floor, best_dispersion = "", math.inf, 1.0
        for name, (rate, limit) in indicators(healthy).items():
            kl = bernoulli_kl(rate_of(after, limit), rate)
            h = TAIL_H if name in ("p95", "p99", "far") else LATENCY_H
            floor = h / kl if kl > 0 else math.inf
            if floor < best_floor:
                best, best_floor = name, floor
                best_dispersion = dispersion_of(healthy, limit, rate)
        kl_all = distribution_kl(healthy, after, BIN_EDGES)
        kl_tail = distribution_kl(healthy, after, TAIL_EDGES)
        delay = delays.pop(0) if delays else None
        result.append(
            Floor(
                trace.name,
                trace.family,
                trace.measurable,
                best,
                best_floor,
                best_dispersion,
                TAIL_H / kl_all if kl_all > 0 else math.inf,
                TAIL_H / kl_tail if kl_tail > 0 else math.inf,
                delay,
            )
        )
    return result


def within(values: Sequence[float]) -> int:
    return sum(v < WITHIN for v in values)


def report(floors: Sequence[Floor], markdown: bool) -> None:
    by_family: dict[str, list[Floor]] = defaultdict(list)
    for floor in floors:
        by_family[floor.family].append(floor)
    by_family["all"] = list(floors)
    header = (
        "family",
        "faults",
        "perfguard within 500",
        "expected within 500: distribution / tail limits / indicator / x dispersion",
        "median: perfguard delay / indicator / x dispersion",
    )
    print("| " + " | ".join(header) + " |" if markdown else "  ".join(header))
    if markdown:
        print("|---|---:|---:|---:|---:|")
    for family, group in sorted(by_family.items(), key=lambda kv: (kv[0] == "all", kv[0])):
        caught = [f.delay for f in group if f.delay is not None]
        dispersed = [f.indicator_floor * f.dispersion for f in group]
        cells = (
            family,
            str(len(group)),
            str(len(caught)),
            f"{within([f.distribution_floor for f in group])} / "
            f"{within([f.tail_floor for f in group])} / "
            f"{within([f.indicator_floor for f in group])} / {within(dispersed)}",
            f"{statistics.median(caught) if caught else '-'} / "
            f"{statistics.median(f.indicator_floor for f in group):.0f} / "
            f"{statistics.median(dispersed):.0f}",
        )
        print("| " + " | ".join(cells) + " |" if markdown else "  ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, nargs="+", default=[DEFAULT_DATA])
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--per-fault", action="store_true")
    args = parser.parse_args()
    floors = [
        f for folder in args.data if folder.exists() for t in load(folder) for f in floors_of(t)
    ]
    if not floors:
        raise SystemExit("no traces found (pass --data)")
    if args.per_fault:
        for f in floors:
            print(
                f"{f.name:32s} {f.family:9s} measurable={f.measurable!s:5s} best={f.indicator:6s} "
                f"floor={f.indicator_floor:7.0f} x{f.dispersion:4.1f} -> "
                f"{f.indicator_floor * f.dispersion:7.0f}  "
                f"distribution={f.distribution_floor:7.0f}  "
                f"tail={f.tail_floor:6.0f} perfguard={f.delay}"
            )
    report(floors, args.markdown)


if __name__ == "__main__":
    main()
