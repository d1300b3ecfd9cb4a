"""Host-wide figures: every process on a storage path publishes its operations'
counters to a small file, and a scrape answered by any of them sums them all.

The folder is `<storage location>.metrics`. Each process writes `<identity>.json`
(atomically; no fsync: these are live figures, not history) every publish interval.
At a scrape, the answering process reads the files of the live processes of this host,
and folds the files of processes that have exited into `exited.json` under the folder's
lock: their counters stay in the sums (counters never go down when a worker dies or is
replaced), and the folder holds one file per live process plus one. Gauges are of live
processes only: an operation reads degraded when any live process has it degraded; its
baseline is the call-weighted combination of theirs (contributions.combine).

A forked child counts from the fork: its operations inherited its parent's counters,
and those are the parent's to publish (`rebase`).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import _hooks
from .._baseline import Baseline
from .._clock import SYSTEM_CLOCK
from .._views import OperationSnapshot
from .contributions import Share, combine
from .files import locked, pid_alive
from .formats import json_object
from .identity import new_identity

EXITED = "exited.json"
_SUFFIX = ".json"


@dataclass
class Figures:
    """The counters and gauges of one operation in one process (or summed)."""

    calls: int = 0
    failures: int = 0
    slow_calls: int = 0
    episodes: int = 0
    degraded: bool = False
    bounds: tuple[float, ...] = ()
    histogram: list[int] = field(default_factory=list)
    histogram_sum: float = 0.0
    baseline: Baseline | None = None

    def add_counters(self, other: Figures) -> None:
        self.calls += other.calls
        self.failures += other.failures
        self.slow_calls += other.slow_calls
        self.episodes += other.episodes
        if other.histogram and (not self.histogram or self.bounds == other.bounds):
            if not self.histogram:
                self.bounds, self.histogram = other.bounds, [0] * len(other.histogram)
            self.histogram = [a + b for a, b in zip(self.histogram, other.histogram, strict=True)]
            self.histogram_sum += other.histogram_sum

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "failures": self.failures,
            "slow_calls": self.slow_calls,
            "episodes": self.episodes,
            "degraded": self.degraded,
            "bounds": [b if b != float("inf") else None for b in self.bounds],
            "histogram": self.histogram,
            "histogram_sum": self.histogram_sum,
            "baseline": None if self.baseline is None else self.baseline.to_dict(),
        }

    @classmethod
    def from_dict(cls, raw: Any) -> Figures:
        """ValueError (or TypeError) on anything malformed: the file is then ignored."""
        counts = [raw[k] for k in ("calls", "failures", "slow_calls", "episodes")]
        if any(type(c) is not int or c < 0 for c in counts):
            raise ValueError("invalid counters")
        bounds = tuple(float("inf") if b is None else float(b) for b in raw["bounds"])
        histogram = [int(c) for c in raw["histogram"]]
        if len(histogram) != len(bounds):
            raise ValueError("histogram and bounds differ in length")
        baseline = None if raw["baseline"] is None else Baseline.from_dict(raw["baseline"])
        calls, failures, slow_calls, episodes = counts
        return cls(
            calls=calls,
            failures=failures,
            slow_calls=slow_calls,
            episodes=episodes,
            degraded=bool(raw["degraded"]),
            bounds=bounds,
            histogram=histogram,
            histogram_sum=float(raw["histogram_sum"]),
            baseline=baseline,
        )


def figures_of(snap: OperationSnapshot) -> Figures:
    return Figures(
        snap.calls,
        snap.failures,
        snap.slow_calls,
        snap.episodes,
        snap.state == "degraded",
        snap.histogram_bounds,
        list(snap.histogram),
        snap.histogram_sum,
        snap.baseline,
    )


class HostMetrics:
    """One process's view of the folder: what it publishes, and the host's sums."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self._identity = new_identity()
        self._inherited: dict[str, Figures] = {}  # counters at fork: the parent's
        _hooks.after_fork_in_child.register(self, HostMetrics._forked)

    def _forked(self) -> None:
        self._identity = new_identity()

    def rebase(self, snapshots: Iterable[OperationSnapshot]) -> None:
        """In a forked child: count from now on (call with the inherited snapshots)."""
        self._inherited = {s.name: figures_of(s) for s in snapshots}

    def own(self, snapshots: Iterable[OperationSnapshot]) -> dict[str, Figures]:
        """This process's figures, less what it inherited at a fork."""
        result = {}
        for snap in snapshots:
            mine = figures_of(snap)
            inherited = self._inherited.get(snap.name)
            if inherited is not None:
                negative = replace(
                    inherited,
                    calls=-inherited.calls,
                    failures=-inherited.failures,
                    slow_calls=-inherited.slow_calls,
                    episodes=-inherited.episodes,
                    histogram=[-c for c in inherited.histogram],
                    histogram_sum=-inherited.histogram_sum,
                )
                mine.add_counters(negative)
            result[snap.name] = mine
        return result

    def publish(self, snapshots: Iterable[OperationSnapshot]) -> None:
        """Write this process's figures (atomic rename, no fsync)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{self._identity}{_SUFFIX}"
        _write_figures(target, os.getpid(), self.own(snapshots))

    def host_figures(
        self, snapshots: Iterable[OperationSnapshot], alive: Callable[[int], bool] = pid_alive
    ) -> dict[str, Figures]:
        """Every live process's figures (this one's live, the others' as published) plus
        the exited processes' counters, per operation."""
        own = self.own(snapshots)
        parts: list[dict[str, Figures]] = [own]
        with contextlib.suppress(FileNotFoundError), locked(self._lock_path()):
            exited = _read(self.folder / EXITED)
            folded = False
            for path in sorted(self.folder.glob(f"*{_SUFFIX}")):
                if path.name == EXITED or path.name == f"{self._identity}{_SUFFIX}":
                    continue
                document = _read_document(path)
                if document is None:
                    continue
                host, pid, figures = document
                if host != socket.gethostname():
                    continue  # host-wide: another host's workers are not ours to sum
                if alive(pid):
                    parts.append(figures)
                    continue
                for name, part in figures.items():
                    exited.setdefault(name, Figures()).add_counters(part)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                folded = True
            if folded:
                _write_figures(self.folder / EXITED, 0, exited)
            parts.append({n: replace(f, degraded=False, baseline=None) for n, f in exited.items()})
        return _summed(parts)

    def _lock_path(self) -> Path:
        if not self.folder.is_dir():
            raise FileNotFoundError(self.folder)
        return self.folder / ".lock"


def _summed(parts: list[dict[str, Figures]]) -> dict[str, Figures]:
    totals: dict[str, Figures] = {}
    shares: dict[str, list[Share]] = {}
    for part in parts:
        for name, figures in part.items():
            total = totals.setdefault(name, Figures())
            total.add_counters(figures)
            total.degraded = total.degraded or figures.degraded
            if figures.baseline is not None:
                shares.setdefault(name, []).append(Share(figures.baseline, figures.calls))
    for name, baselines in shares.items():
        totals[name].baseline = combine(baselines)
    return totals


def _read_document(path: Path) -> tuple[str, int, dict[str, Figures]] | None:
    """A process's published figures, None when unreadable (being replaced, damaged)."""
    try:
        document = json_object(path.read_bytes())
        operations = {n: Figures.from_dict(f) for n, f in document["operations"].items()}
        return str(document["host"]), int(document["pid"]), operations
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _read(path: Path) -> dict[str, Figures]:
    document = _read_document(path)
    return {} if document is None else document[2]


def _write_figures(path: Path, pid: int, figures: dict[str, Figures]) -> None:
    """Atomic rename, no fsync: live figures, rewritten every second."""
    document = {
        "host": socket.gethostname(),
        "pid": pid,
        "saved_at": SYSTEM_CLOCK.wall(),
        "operations": {n: f.to_dict() for n, f in figures.items()},
    }
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(document, allow_nan=False), "utf-8")
    os.replace(temporary, path)
