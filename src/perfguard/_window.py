"""A bounded ring of recent samples, array-backed: 8 bytes a sample.

A sample is stored as one float: a successful call as its duration, a failed call as
`-1.0 - duration` (always <= -1, so the sign carries the success flag and decoding loses
at most 2e-16 s). A deque of Python floats would cost about 32 bytes a sample and a
second container for the flags. The array grows until it reaches capacity, so a rarely
seen operation costs next to nothing, then blocks of samples overwrite the oldest slots
by C-level operations.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable


def encode_failure(duration: float) -> float:
    return -1.0 - duration


def decode(value: float) -> float:
    """The duration of an encoded sample, failed or not."""
    return value if value >= 0.0 else -1.0 - value


class RollingWindow:
    """The last `capacity` encoded samples of one operation.

    Samples are appended at the end of one array; once it holds `capacity + slack`
    values the oldest surplus is cut off with one memmove. That keeps every append a
    C-level extend (no wrap-around bookkeeping) at the price of `slack` extra slots.
    Not thread-safe: the owning operation serializes access.
    """

    __slots__ = ("_capacity", "_limit", "_values")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._limit = capacity + max(16, min(256, capacity // 8))
        self._values = array("d")

    @property
    def capacity(self) -> int:
        return self._capacity

    def __len__(self) -> int:
        return min(len(self._values), self._capacity)

    def extend(self, encoded: list[float]) -> None:
        """Append samples in order. Call compact() when done appending: until then the
        window also remembers the samples just before the ones appended last, so a
        reader can see it as it was at an earlier sample (`encoded(excluding=...)`)."""
        self._values.fromlist(encoded)

    def compact(self) -> None:
        values = self._values
        if len(values) > self._limit:
            del values[: len(values) - self._capacity]

    def encoded(self, excluding: int = 0) -> list[float]:
        """The window, oldest first, as it was before the last `excluding` samples."""
        values = self._values
        end = len(values) - excluding
        if end <= 0:
            return []
        return values[max(0, end - self._capacity) : end].tolist()

    def successful_durations(self, excluding: int = 0) -> list[float]:
        """Durations of successful samples, oldest first."""
        return [v for v in self.encoded(excluding) if v >= 0.0]

    def failures(self, excluding: int = 0) -> int:
        """Failed samples in the window (a scan: call it when asked, not per sample)."""
        return sum(1 for v in self.encoded(excluding) if v < 0.0)

    def memory_bytes(self) -> int:
        return self._values.buffer_info()[1] * self._values.itemsize


def split_sorted(encoded: Iterable[float]) -> tuple[list[float], int]:
    """Sorted successful durations of a block, and its failure count."""
    ordered = sorted(encoded)
    failures = bisect_left(ordered, 0.0) if ordered and ordered[0] < 0.0 else 0
    # failures are encoded as values <= -1; without any, no copy is made
    return (ordered[failures:] if failures else ordered), failures
