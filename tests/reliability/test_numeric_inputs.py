"""Issue 11, item 1: every real number a caller may pass is stored as a float (numpy
scalars, Fraction, Decimal, int), so no store ever sees a foreign type; booleans (numpy's
too), arrays, strings and non-finite values are refused and record nothing."""

from __future__ import annotations

import decimal
import fractions
import json
from pathlib import Path

import pytest

from perfguard import InvalidDurationError, PerformanceTracker, ShardStore

np = pytest.importorskip("numpy")

ACCEPTED = [
    np.float32(0.0123),
    np.float64(0.02),
    np.int64(1),
    fractions.Fraction(1, 50),
    decimal.Decimal("0.015"),
    2,
]
REFUSED = [
    np.True_,
    True,
    np.array([0.1, 0.2]),
    decimal.Decimal("NaN"),
    decimal.Decimal("sNaN"),
    decimal.Decimal("Infinity"),
    "0.1",
    None,
    float("nan"),
    -1,
    10**400,
    np.float64("inf"),
]


def test_real_numbers_of_every_kind_are_stored_as_floats() -> None:
    tracker = PerformanceTracker(autosave_interval=None)
    for value in ACCEPTED:
        tracker.record("op", value)
    durations, _, _ = tracker.durations_since("op", 0)
    assert [type(d) for d in durations] == [float] * len(ACCEPTED)
    assert durations == [float(v) for v in ACCEPTED]


@pytest.mark.parametrize("value", REFUSED, ids=repr)
def test_anything_else_is_refused_and_records_nothing(value: object) -> None:
    tracker = PerformanceTracker(autosave_interval=None)
    tracker.record("op", 0.01)
    with pytest.raises(InvalidDurationError) as info:
        tracker.record("op", value)  # type: ignore[arg-type]
    assert "op" in str(info.value)
    assert tracker.stats("op")["sample_count"] == 1


def test_a_shard_of_numpy_durations_is_plain_json_and_combines(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    tracker = PerformanceTracker(
        storage=ShardStore(folder, fold_every=None), autosave_interval=None
    )
    for index in range(500):
        tracker.record("op", np.float32(0.001 * (1 + index % 5)))
    tracker.close()
    for shard in (folder / "shards").glob("*.json"):
        assert "float32" not in shard.read_text()
        json.loads(shard.read_text())
    ShardStore(folder).combine()
    assert ShardStore(folder).load()["op"].sample_count == 500
