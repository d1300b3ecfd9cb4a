"""Stage two: is a proposed change real? Persistence and effect size on its span.

The span is the samples since the signal's estimated change point. An effect must
survive removing the densest stretch of slow calls (so a short burst is never an alert)
and reach a minimum size (`latency_floor`, `tail_floor`, `tail_share_floor`,
`error_floor`), as asv and Otava require minimum effect sizes.
"""

from __future__ import annotations

import math
from dataclasses import replace
from itertools import accumulate
from operator import sub

from .._events import Signal
from .._quantiles import quantile
from .cusum import BinomialCusum
from .reference import Reference
from .settings import BLOCK_SIZE, DetectorSettings


def effect_ratio(
    signal: Signal,
    span: list[float],
    current: dict[str, float],
    reference: Reference,
    reference_error: float,
    settings: DetectorSettings,
    level_floor: float = 1.0,
    far_rate: float = 0.01,
) -> float | None:
    """The effect ratio of a signal on its span, None when below the floors.
    `level_floor`: the p50 ratio the operation's own healthy wander reaches over a span
    this long (noise.py); a latency shift must clear it too."""
    if signal == "latency":
        return _latency_effect(span, current, reference.p50, settings, level_floor)
    if signal == "tail":
        return _tail_effect(span, current, reference, settings, far_rate)
    if current["error_rate"] - reference.baseline.error_rate >= settings.error_floor:
        return current["error_rate"] / reference_error
    return None


def _latency_effect(
    span: list[float],
    current: dict[str, float],
    p50: float,
    settings: DetectorSettings,
    level_floor: float,
) -> float | None:
    # A burst is a dense run of slow calls: the shift must survive its removal.
    # (the cheap figures first: most spans judged are turned down on them, and a
    # decision is due every few hundred calls of an operation that keeps proposing)
    ratio = ratio_of(current["p50"], p50)
    least_ratio, burst = latency_rule(len(span), settings)
    floor = max(least_ratio, level_floor)
    # a shift of a tick or two of the clock is quantization, not a slowdown
    least = p50 + (settings.min_effect_seconds or 0.0)
    if current["p50"] < least or ratio < floor:
        return None
    trimmed_p50 = quantile_of(without_densest_run(span, p50, burst), 0.5)
    if trimmed_p50 < least or ratio_of(trimmed_p50, p50) < floor:
        return None
    return ratio if _still_slow(span, p50, settings) else None


def _still_slow(span: list[float], p50: float, settings: DetectorSettings) -> bool:
    """Whether the span's latest calls are still slow: a wander that was over before it
    could be judged (most false alerts on recorded real traces) is not reported."""
    last = settings.still_slow_samples
    if len(span) <= last:
        return True
    return ratio_of(quantile_of(span[-last:], 0.5), p50) >= settings.still_slow_floor


def _still_heavy(
    span: list[float], settings: DetectorSettings, *floors: tuple[float, float]
) -> bool:
    """Whether the span's latest calls still carry a heavier tail than healthy ones: for
    one of the `floors` (a limit, the share of calls above it that is heavier), that
    share of the last `still_heavy_samples` calls is above its limit."""
    last = settings.still_heavy_samples
    if len(span) <= last:
        return True
    latest = span[-last:]
    successes = sum(map((0.0).__le__, latest))
    return any(share_above(latest, limit, successes) >= share for limit, share in floors)


def latency_rule(calls: int, settings: DetectorSettings) -> tuple[float, int]:
    """The least p50 ratio a latency span of `calls` calls can be confirmed on, and the
    burst taken out of it first: `latency_floor` and `burst_length` once it has lasted
    `min_persistence`; before that only a `large_effect`, with three quarters of the
    youngest such span taken out, so only a shift that fills it passes."""
    if calls < settings.min_persistence:
        return settings.large_effect, settings.large_effect_persistence * 3 // 4
    return settings.latency_floor, settings.burst_length


def tail_moves_with_level(
    signal: Signal, starts: dict[Signal, int], confirmed: list[Signal], decision_at: int
) -> bool:
    """Whether `signal` is a proposed tail change that moves with a level move not
    confirmed: the latency tests fire too (a change point in `starts`), their shift is
    not among those `confirmed` so far, and the tail has moved for at least half as long
    as the level. Such a tail is judged against `stricter_tail` floors.

    Why: real wander (a neighbour, GC, a busy host) stretches the tail more than it moves
    the median, and the tail limits follow the current median only in proportion, so a
    level move called wander would otherwise come back as a tail alert; on recorded real
    traces these were most of the false alerts. A tail that begins long after the level
    started moving (a daily cycle, a slow proposal) is a change of its own and is judged
    as any other.
    """
    level_start = starts.get("latency")
    if signal != "tail" or level_start is None or "latency" in confirmed:
        return False
    return decision_at - level_start <= 2 * (decision_at - starts["tail"])


def stricter_tail(settings: DetectorSettings) -> DetectorSettings:
    """The settings a tail moving with an unconfirmed level is judged by: its effect
    floors (p95 ratio, share above the p99, far-tail share) `tail_with_level` x the
    usual. Wander stretches the tail, but not to twice what a tail alert needs: a fault
    that slows a few percent of calls 10x while the level wanders is still reported."""
    factor = settings.tail_with_level
    return replace(
        settings,
        tail_floor=settings.tail_floor * factor,
        tail_share_floor=settings.tail_share_floor * factor,
        far_tail_effect=settings.far_tail_effect * factor,
    )


def _tail_effect(
    span: list[float],
    current: dict[str, float],
    reference: Reference,
    settings: DetectorSettings,
    far_rate: float,
) -> float | None:
    # The tail is judged relative to the current median (its shape), so a level that
    # moved as a whole (a daily peak, a step) does not count twice.
    level = max(1.0, ratio_of(current["p50"], reference.p50))
    tick = settings.min_effect_seconds or 0.0  # each limit at least this above its figure
    p95, p99 = reference.p95 * level + tick, reference.p99 * level + tick
    burst = settings.burst_length
    # each effect on the span first, then (only if it holds) on what the bursts leave
    ratio = ratio_of(current["p95"], p95)
    floor, share_floor = settings.tail_floor, settings.tail_share_floor
    successes = sum(map((0.0).__le__, span))
    wider = ratio >= floor
    heavier = share_above(span, p99, successes) >= share_floor
    if wider or heavier:
        trimmed = without_densest_run(without_densest_run(span, p95, burst), p95, burst)
        wider = wider and ratio_of(quantile_of(trimmed, 0.95), p95) >= floor
        heavier = heavier and share_above(trimmed, p99) >= share_floor
    far = settings.far_tail_factor * p99
    far_floor = max(settings.far_tail_effect * far_rate, settings.far_tail_floor)
    farther = share_above(span, far, successes) >= far_floor
    if farther:
        far_trimmed = without_densest_run(without_densest_run(span, far, burst), far, burst)
        farther = share_above(far_trimmed, far) >= far_floor
    if not (wider or heavier or farther):
        return None
    share = settings.still_heavy_share  # the far tail: as heavy as it was judged on
    if _still_heavy(span, settings, (p95, share), (p99, share / 3), (far, far_floor)):
        return max(ratio, ratio_of(current["p99"], p99))
    return None


def current_figures(encoded: list[float]) -> dict[str, float]:
    """p50, p95, p99 of successful samples and the error rate, from encoded samples."""
    successes = sorted(filter((0.0).__le__, encoded))  # failures are negative
    failures = len(encoded) - len(successes)
    figures = {"error_rate": failures / len(encoded) if encoded else 0.0}
    for label, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        figures[label] = quantile(successes, q) if successes else 0.0
    return figures


def without_densest_run(encoded: list[float], limit: float, length: int) -> list[float]:
    """The samples minus the `length` consecutive ones holding the most samples slower
    than `limit`: what is left of an effect once the worst burst is taken out."""
    if len(encoded) <= length:
        return []
    # map(limit.__lt__, ...) runs in C: True where a sample is slower than the limit
    totals = [0, *accumulate(map(limit.__lt__, encoded))]
    in_run = list(map(sub, totals[length:], totals[: len(totals) - length]))
    best_start = in_run.index(max(in_run))
    return encoded[:best_start] + encoded[best_start + length :]


def quantile_of(encoded: list[float], q: float) -> float:
    successes = sorted(filter((0.0).__le__, encoded))
    return quantile(successes, q) if successes else 0.0


def share_above(encoded: list[float], limit: float, successes: int | None = None) -> float:
    """Share of the successful samples slower than `limit` (failures are negative);
    `successes`: their number, when the caller has counted them already."""
    if successes is None:
        successes = sum(map((0.0).__le__, encoded))
    return sum(map(limit.__lt__, encoded)) / successes if successes else 0.0


def ratio_of(current: float, reference: float) -> float:
    if reference > 0:
        return current / reference
    return math.inf if current > 0 else 1.0


def spans_to_judge(
    signal: Signal,
    span: list[float],
    p50: float,
    settings: DetectorSettings,
    latency: BinomialCusum,
    risen: int = 0,
) -> list[list[float]]:
    """The spans a proposed signal is judged on: the samples since its change point, and
    for latency also the part after a later change inside them (later_part: at least
    `min_persistence` samples, a split as well supported as a proposal, on the calls
    slower than the reference p50 the latency tests count) and the last `risen` samples
    (since the rise test's change point, schedule.py) when they are a part of it."""
    if signal != "latency" or p50 <= 0.0:
        return [span]
    spans = [span]
    later = later_part(span, p50, settings.min_persistence, latency.threshold)
    if later is not None:
        spans.append(later)
    if settings.min_persistence <= risen < len(span) and (later is None or risen != len(later)):
        spans.append(span[-risen:])
    return spans


def later_part(
    encoded: list[float], limit: float, least: int, evidence: float
) -> list[float] | None:
    """The samples after the most likely second change in a span: the block boundary
    where a two-rate binomial split of "slower than `limit`" gains the most
    log-likelihood over one rate, with the later rate the higher. None unless the gain
    reaches `evidence` and the later part holds at least `least` samples.

    Why: a test that has been firing on a wander it was rejected for dates any change
    at the wander's start; a real step that follows is then judged on a span mostly made
    of the wander, where the old level still sets the median. The split finds the step.
    """
    n = len(encoded)
    if n < least + BLOCK_SIZE:
        return None
    above = [0, *accumulate(map(limit.__lt__, encoded))]
    total = above[-1]
    one_rate = _log_likelihood(total, n)
    best, best_at = evidence, 0
    for cut in range(BLOCK_SIZE, n - least + 1, BLOCK_SIZE):
        early, late = above[cut], total - above[cut]
        if late * cut <= early * (n - cut):
            continue  # not a rise
        gain = _log_likelihood(early, cut) + _log_likelihood(late, n - cut)
        gain -= one_rate
        if gain >= best:
            best, best_at = gain, cut
    return encoded[best_at:] if best_at else None


def _log_likelihood(hits: int, count: int) -> float:
    """Bernoulli log-likelihood of `hits` in `count` at their own rate."""
    if hits == 0 or hits == count:
        return 0.0
    rate = hits / count
    return hits * math.log(rate) + (count - hits) * math.log(1.0 - rate)
