"""Several processes, one baseline file: what each process contributes, and how the
contributions combine into the baselines everyone reads.

JsonFileStore merges under the file's lock at every save (json_file.py): the process
replaces its own contribution (its baselines and how many calls of each it made), the
contributions of processes that have exited are folded into one, and the file's
`operations` are recombined from all of them. Nothing on the hot path changes: the
merge is paid at save, which is debounced.

How baselines combine (weights = calls each process made of the operation):
- mean, standard deviation (pooled) and error rate exactly, as one sample of all calls;
- each percentile (and the log-spread) by the weighted median over the contributions
  when there are three or more, so one worker that learned its baseline during an
  incident cannot move the shared one; by the weighted mean for two. Workers of one
  service see one distribution, so this is close to the percentile of all their calls;
- the sample count is the largest one contribution rests on (contributions may rest on
  the same calls: a process that restored the shared baseline and never re-learned);
- except that a baseline adopted by `accept_baseline` is the operation's outright (the
  latest accepted, if several), kept through folding and restarts.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .._baseline import Baseline
from .files import pid_alive

FOLDED = "folded"  # the identity under which exited processes' contributions are kept
_OTHER_HOST_FOLDED_AFTER = 86_400.0  # seconds without a save (pids of other hosts unknown)
_PERCENTILES = ("p50", "p75", "p95", "p99", "log_scale")


@dataclass(frozen=True)
class Share:
    """One process's part of one operation. `accepted_at`: when a person adopted this
    baseline as the new normal (`accept_baseline`), 0 if never: the latest accepted
    baseline is the operation's, whatever the other parts learned (a deliberate decision
    is not averaged with the history it replaces)."""

    baseline: Baseline
    calls: int
    accepted_at: float = 0.0


@dataclass
class Contribution:
    """What one process (or, under FOLDED, every process that exited) has saved."""

    host: str
    pid: int
    saved_at: float
    operations: dict[str, Share] = field(default_factory=dict)
    # the process's status record (_status.py), kept as written; readers before it
    # ignore the key, and folding drops it (an exited process's state is history)
    status: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "host": self.host,
            "pid": self.pid,
            "saved_at": self.saved_at,
            "operations": {
                name: _share_dict(share) for name, share in sorted(self.operations.items())
            },
        }
        if self.status is not None:
            result["status"] = self.status
        return result

    @classmethod
    def from_dict(cls, identity: str, raw: object) -> Contribution:
        """Validate; ValueError names what is wrong."""
        if not isinstance(raw, dict):
            raise ValueError(f"has an invalid contribution {identity!r}")
        host, pid, saved_at = raw.get("host"), raw.get("pid"), raw.get("saved_at")
        if not isinstance(host, str) or type(pid) is not int or pid < 0:
            raise ValueError(f"has an invalid process in contribution {identity!r}")
        if isinstance(saved_at, bool) or not isinstance(saved_at, (int, float)):
            raise ValueError(f"has an invalid 'saved_at' in contribution {identity!r}")
        if not math.isfinite(saved_at) or saved_at < 0:
            raise ValueError(f"has an invalid 'saved_at' in contribution {identity!r}")
        operations = raw.get("operations")
        if not isinstance(operations, dict):
            raise ValueError(f"has no operations in contribution {identity!r}")
        shares: dict[str, Share] = {}
        for name, entry in operations.items():
            if not name or not isinstance(entry, dict):
                raise ValueError(f"has an invalid operation {name!r} in {identity!r}")
            calls = entry.get("calls")
            if type(calls) is not int or calls < 0:
                raise ValueError(f"has an invalid call count for {name!r}: {calls!r}")
            accepted = entry.get("accepted_at", 0.0)
            if isinstance(accepted, bool) or not isinstance(accepted, (int, float)):
                raise ValueError(f"has an invalid 'accepted_at' for {name!r}")
            if not math.isfinite(accepted) or accepted < 0:
                raise ValueError(f"has an invalid 'accepted_at' for {name!r}")
            baseline = Baseline.from_dict(entry.get("baseline", {}))
            shares[name] = Share(baseline, calls, float(accepted))
        status = raw.get("status")
        if status is not None and not isinstance(status, dict):
            raise ValueError(f"has an invalid status in contribution {identity!r}")
        return cls(host, pid, float(saved_at), shares, status)


def this_host() -> str:
    return socket.gethostname()


def fold_exited(
    contributions: dict[str, Contribution],
    now: float,
    alive: Callable[[int], bool] = pid_alive,
) -> None:
    """Fold the contributions of processes that have exited into FOLDED (their calls
    add up, their baselines combine), so the file never grows with worker restarts and
    nothing a dead worker learned is lost. A process of another host (a shared network
    folder) is taken as exited after a day without a save."""
    host = this_host()
    for identity in [i for i in contributions if i != FOLDED]:
        part = contributions[identity]
        if part.host == host:
            exited = not alive(part.pid)
        else:
            exited = now - part.saved_at > _OTHER_HOST_FOLDED_AFTER
        if exited:
            absorb_into_folded(contributions, contributions.pop(identity), now)


def absorb_into_folded(
    contributions: dict[str, Contribution], part: Contribution, now: float
) -> None:
    folded = contributions.setdefault(FOLDED, Contribution(FOLDED, 0, now))
    folded.saved_at = max(folded.saved_at, part.saved_at)
    for name, share in part.operations.items():
        kept = folded.operations.get(name)
        if kept is None:
            folded.operations[name] = share
        else:
            folded.operations[name] = Share(
                combine([kept, share]), kept.calls + share.calls, _latest_accept([kept, share])
            )


def combined_operations(contributions: Mapping[str, Contribution]) -> dict[str, Share]:
    """Per operation, the combined baseline and the calls of every process."""
    by_name: dict[str, list[Share]] = {}
    for part in contributions.values():
        for name, share in part.operations.items():
            by_name.setdefault(name, []).append(share)
    return {
        name: Share(combine(shares), sum(s.calls for s in shares), _latest_accept(shares))
        for name, shares in by_name.items()
    }


def drop_unseen_since(contributions: Mapping[str, Contribution], cutoff: float) -> None:
    """Retention: forget operations no process has seen since `cutoff`."""
    last_seen: dict[str, float] = {}
    for part in contributions.values():
        for name, share in part.operations.items():
            last_seen[name] = max(last_seen.get(name, 0.0), share.baseline.last_seen_at)
    for part in contributions.values():
        for name in [n for n in part.operations if last_seen[n] < cutoff]:
            del part.operations[name]


def combine(shares: list[Share]) -> Baseline:
    """One baseline from several processes' (module docstring)."""
    accepted = _latest_accept(shares)
    if accepted:
        chosen = max(shares, key=lambda s: s.accepted_at).baseline
        return replace(chosen, last_seen_at=max(s.baseline.last_seen_at for s in shares))
    first = shares[0].baseline
    if all(_same_figures(s.baseline, first) for s in shares[1:]):
        # one baseline seen by several processes (restored, never re-learned): kept
        # exactly, not averaged with itself into rounding noise
        return replace(
            first,
            established_at=min(s.baseline.established_at for s in shares),
            updated_at=max(s.baseline.updated_at for s in shares),
            last_seen_at=max(s.baseline.last_seen_at for s in shares),
        )
    weights = [max(s.calls, 1) for s in shares]
    total = float(sum(weights))
    baselines = [s.baseline for s in shares]
    mean = sum(w * b.mean for w, b in zip(weights, baselines, strict=True)) / total
    variance = (
        sum(w * (b.std**2 + (b.mean - mean) ** 2) for w, b in zip(weights, baselines, strict=True))
        / total
    )
    middle = _weighted_median if len(shares) >= 3 else _weighted_mean
    figures = {key: middle([getattr(b, key) for b in baselines], weights) for key in _PERCENTILES}
    return Baseline(
        p50=figures["p50"],
        p75=figures["p75"],
        p95=figures["p95"],
        p99=figures["p99"],
        mean=mean,
        std=math.sqrt(max(variance, 0.0)),
        sample_count=max(b.sample_count for b in baselines),
        error_rate=sum(w * b.error_rate for w, b in zip(weights, baselines, strict=True)) / total,
        log_scale=figures["log_scale"],
        established_at=min(b.established_at for b in baselines),
        updated_at=max(b.updated_at for b in baselines),
        last_seen_at=max(b.last_seen_at for b in baselines),
    )


def _latest_accept(shares: list[Share]) -> float:
    return max((s.accepted_at for s in shares), default=0.0)


def _share_dict(share: Share) -> dict[str, Any]:
    entry: dict[str, Any] = {"baseline": share.baseline.to_dict(), "calls": share.calls}
    if share.accepted_at:
        entry["accepted_at"] = share.accepted_at
    return entry


def _same_figures(a: Baseline, b: Baseline) -> bool:
    return (a.p50, a.p75, a.p95, a.p99, a.mean, a.std, a.error_rate, a.log_scale) == (
        b.p50,
        b.p75,
        b.p95,
        b.p99,
        b.mean,
        b.std,
        b.error_rate,
        b.log_scale,
    ) and a.sample_count == b.sample_count


def _weighted_mean(values: list[float], weights: list[int]) -> float:
    return sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights)


def _weighted_median(values: list[float], weights: list[int]) -> float:
    """The smallest value holding at least half the weight at or below it (monotone in
    the values, so p50 <= p75 <= p95 <= p99 holds for the combination too)."""
    half = sum(weights) / 2.0
    running = 0
    for value, weight in sorted(zip(values, weights, strict=True)):
        running += weight
        if running >= half:
            return value
    return max(values)
