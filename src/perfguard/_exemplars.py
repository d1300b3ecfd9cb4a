"""Exemplars: the metadata of the slowest recent calls and of the last failures, so an
alert can point at real requests. Only calls that carry metadata are offered."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any

from ._window import decode

# A failed call's mark, awaiting its absorb: the exception's type (None: a failure
# recorded as such), or (that, the call's metadata) when it carries metadata. The
# duration is the failure's sample itself, so the hot path builds no tuple for it.
FailureMark = type[BaseException] | tuple[type[BaseException] | None, Mapping[str, Any]] | None


class Exemplars:
    """At most `limit` slowest calls still in the window, and the last `limit` failures.
    Not thread-safe: the owning operation serializes access under its lock."""

    __slots__ = ("_kept", "_limit", "_window_size", "floor", "recent_errors")

    @property
    def limit(self) -> int:
        """How many calls are kept (0: exemplars switched off)."""
        return self._limit

    def __init__(self, limit: int, window_size: int) -> None:
        self._limit = limit
        self._window_size = window_size
        self._kept: list[dict[str, Any]] = []
        # a call must be slower than `floor` to be offered (inf: exemplars switched off)
        self.floor = -1.0 if limit else math.inf
        self.recent_errors: deque[dict[str, Any]] = deque(maxlen=max(limit, 1))

    def offer(self, encoded: float, metadata: Mapping[str, Any], when: float, index: int) -> None:
        """Keep the call at sample `index` if it is among the slowest still in the window."""
        limit = self._limit
        if not limit:
            return
        oldest_kept = index - self._window_size + 1
        kept = [e for e in self._kept if e["sample"] >= oldest_kept]
        entry = {
            "duration": decode(encoded),
            "success": encoded >= 0.0,
            "sample": index,
            "time": when,
            "metadata": dict(metadata),
        }
        if len(kept) < limit:
            kept.append(entry)
        else:
            fastest = min(range(len(kept)), key=lambda i: kept[i]["duration"])
            if kept[fastest]["duration"] < entry["duration"]:
                kept[fastest] = entry
        self._kept = kept
        self.floor = min(e["duration"] for e in kept) if len(kept) >= limit else -1.0

    def note_failures(self, marks: list[FailureMark], batch: list[float], when: float) -> None:
        """The last failures of an absorbed batch (only as many as are kept): their
        marks, paired from the end with the batch's last failed samples (encoded)."""
        limit = self._limit
        if not limit:
            return
        marks = marks[-limit:]
        durations: list[float] = []
        for value in reversed(batch):
            if value < 0.0:
                durations.append(-1.0 - value)
                if len(durations) == len(marks):
                    break
        durations.reverse()
        for duration, mark in zip(durations, marks, strict=True):
            if isinstance(mark, tuple):
                error, metadata = mark
            else:
                error, metadata = mark, None
            merged = dict(metadata) if metadata else {}
            if error is not None:
                merged["error"] = error.__qualname__
            self.recent_errors.append({"duration": duration, "time": when, "metadata": merged})

    def in_window(self, sample_count: int) -> list[dict[str, Any]]:
        """The kept calls the window still holds, slowest first."""
        oldest = sample_count - self._window_size
        return [e for e in sorted(self._kept, key=_slowest_first) if e["sample"] >= oldest]


def _slowest_first(entry: Mapping[str, Any]) -> float:
    return -float(entry["duration"])
