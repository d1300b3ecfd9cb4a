"""Latency over wall-clock time, per operation: calls, failures and p50 / p95 / p99 of
each minute of the last hour.

Fed by the batch absorb (never per call): a batch lands in the minute of the absorb's
wall time (within one batch of when its calls were recorded). Each minute keeps at most
`SAMPLE_CAP` successful durations: past it, the sorted sample is halved (every other
value kept) and later batches are taken at the doubled stride, so a minute of a million
calls costs what one of a thousand does and its percentiles stay within a few ranks.
Counts are exact. Finished minutes are kept as 6 floats each in one array: an hour costs
2.9 kB an operation, an operation seen once costs nothing more than the object.
"""

from __future__ import annotations

from array import array

from ._quantiles import quantile

BUCKET_SECONDS = 60.0
KEPT_BUCKETS = 60
SAMPLE_CAP = 512
_FIELDS = 6  # start, calls, failures, p50, p95, p99 (-1: no successful call)

Row = tuple[float, int, int, float | None, float | None, float | None]


class Timeline:
    """Per-minute figures of one operation. Not thread-safe: the operation's lock."""

    __slots__ = ("_calls", "_failures", "_rows", "_start", "_stride", "_values")

    def __init__(self) -> None:
        self._start = -1.0
        self._calls = 0
        self._failures = 0
        self._values: list[float] = []
        self._stride = 1
        self._rows: array[float] | None = None

    def add(self, successes: list[float], calls: int, now: float) -> None:
        """A batch of `calls` samples absorbed at `now`, of which `successes` (their
        durations, in any order) succeeded."""
        start = now - now % BUCKET_SECONDS
        if start != self._start:
            self._close()
            self._start = start
        self._calls += calls
        self._failures += calls - len(successes)
        stride = self._stride
        values = self._values
        values.extend(successes[::stride] if stride > 1 else successes)
        if len(values) > SAMPLE_CAP:
            values.sort()
            self._values = values[::2]
            self._stride *= 2

    def _close(self) -> None:
        """The current minute becomes a kept row."""
        if not self._calls:
            return
        rows = self._rows
        if rows is None:
            rows = self._rows = array("d")
        rows.extend(self._figures())
        if len(rows) > KEPT_BUCKETS * _FIELDS:
            del rows[: len(rows) - KEPT_BUCKETS * _FIELDS]
        self._calls = self._failures = 0
        self._values = []
        self._stride = 1

    def _figures(self) -> tuple[float, ...]:
        ordered = sorted(self._values)
        if not ordered:
            return (self._start, self._calls, self._failures, -1.0, -1.0, -1.0)
        return (
            self._start,
            self._calls,
            self._failures,
            quantile(ordered, 0.5),
            quantile(ordered, 0.95),
            quantile(ordered, 0.99),
        )

    def rows(self, last: int = KEPT_BUCKETS) -> list[Row]:
        """The last `last` minutes with calls, oldest first, the current one included."""
        flat = list(self._rows or ())
        if self._calls:
            flat.extend(self._figures())
        result: list[Row] = []
        for offset in range(max(0, len(flat) - last * _FIELDS), len(flat), _FIELDS):
            start, calls, failures, p50, p95, p99 = flat[offset : offset + _FIELDS]
            result.append((start, int(calls), int(failures), _or_none(p50), _or_none(p95),
                           _or_none(p99)))  # fmt: skip
        return result


def _or_none(value: float) -> float | None:
    return None if value < 0.0 else value
