"""Alert events: what a transition of an operation's state tells the outside world."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

EventKind = Literal["degraded", "recovered"]
Signal = Literal["latency", "tail", "errors"]


@dataclass(frozen=True)
class DegradationEvent:
    """One state transition of one operation.

    effect_ratio: how much worse the signal is than its baseline (current / baseline;
        for errors, current error rate / baseline error rate).
    evidence: the statistic that decided, its threshold and the test's name.
    started_at_sample / started_at_time: where the detector places the start of the
        episode (the first sample of the block in which its evidence began to accumulate).
    """

    operation: str
    kind: EventKind
    signals: tuple[Signal, ...]
    baseline: Mapping[str, float]
    current: Mapping[str, float]
    effect_ratio: float
    evidence: Mapping[str, Any]
    sample_index: int
    time: float
    started_at_sample: int
    started_at_time: float
    exemplars: tuple[Mapping[str, Any], ...] = field(default=())

    @property
    def reopened(self) -> bool:
        """A relapse within `reopen_within` calls of the last recovery: the same episode
        again (logged at INFO, not counted as a new episode)."""
        return bool(self.evidence.get("reopened", False))

    @property
    def worsened(self) -> bool:
        """A signal added to an episode that was already open (errors rising during a
        latency episode, ...): `signals` holds the episode's first, then the added; or
        an open latency episode that became much worse (`evidence["escalated"]`: 2x or
        more the p50 it was reported at)."""
        return bool(self.evidence.get("worsened", False))

    @property
    def signal(self) -> Signal:
        """The main signal (the first that decided)."""
        return self.signals[0]

    def describe(self) -> str:
        """A one-line human summary, as logged: operation, transition, signals, when the
        episode began (UTC clock time, and the call number), the figures against the
        baseline's, and the effect (current / baseline of the deciding signal)."""
        since = f"since {_clock(self.started_at_time)} (call {self.started_at_sample})"
        figures = f"{_summary(self.current)} vs baseline {_summary(self.baseline)}"
        if self.kind == "degraded" and self.reopened:
            return (
                f"Operation {self.operation} degraded again ({', '.join(self.signals)}) "
                f"{since}, {self.started_at_sample - self.evidence['recovered_at_sample']} "
                f"calls after recovering: {figures}, effect x{self.effect_ratio:.2f}; the "
                f"episode of call {self.evidence['episode_began_at_sample']} is reopened"
            )
        if self.kind == "degraded" and self.evidence.get("escalated", False):
            return (
                f"Operation {self.operation} worsened: {self.signals[0]} "
                f"{self.evidence['times_episode_p50']:.1f}x slower than when the episode of "
                f"call {self.evidence['episode_began_at_sample']} was reported, {since}: "
                f"{figures}, effect x{self.effect_ratio:.2f}"
            )
        if self.kind == "degraded" and self.worsened:
            added = ", ".join(self.evidence["added_signals"])
            return (
                f"Operation {self.operation} worsened: {added} degraded too {since}, within "
                f"the episode of call {self.evidence['episode_began_at_sample']}: {figures}, "
                f"effect x{self.effect_ratio:.2f}"
            )
        if self.kind == "degraded":
            return (
                f"Operation {self.operation} degraded ({', '.join(self.signals)}) {since}: "
                f"{figures}, effect x{self.effect_ratio:.2f}"
            )
        return (
            f"Operation {self.operation} recovered at {_clock(self.time)}: {figures}; the "
            f"episode began {_clock(self.started_at_time)} (call {self.started_at_sample})"
        )


def _clock(epoch: float) -> str:
    try:
        return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return "?"


def _readable(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g}µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.3g}ms"
    return f"{seconds:.3g}s"


def _summary(figures: Mapping[str, float]) -> str:
    parts = [f"{key} {_readable(figures[key])}" for key in ("p50", "p95", "p99") if key in figures]
    if "error_rate" in figures:
        parts.append(f"errors {figures['error_rate']:.1%}")
    return ", ".join(parts)
