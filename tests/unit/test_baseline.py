"""Baseline: figures from samples, the dict round trip, and validation of stored fields."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pytest

from perfguard import Baseline

FLOAT_FIELDS = ("p50", "p75", "p95", "p99", "mean", "std", "error_rate", "log_scale")
TIME_FIELDS = ("established_at", "updated_at", "last_seen_at")


def _baseline() -> Baseline:
    return Baseline.from_samples([0.012, 0.010, 0.015, 0.011, 0.040, 0.013], 2, now=1_700_000_000.5)


def test_from_samples_figures_by_hand() -> None:
    baseline = Baseline.from_samples([5.0, 1.0, 4.0, 2.0, 3.0], 1, now=1234.5)
    assert baseline.p50 == 3.0
    assert baseline.p75 == 4.0
    assert baseline.p95 == pytest.approx(4.8)  # position 3.8
    assert baseline.p99 == pytest.approx(4.96)  # position 3.96
    assert baseline.mean == 3.0
    assert baseline.std == pytest.approx(math.sqrt(2.5))
    assert baseline.sample_count == 5  # successful samples only
    assert baseline.error_rate == pytest.approx(1 / 6)  # failures over all samples
    # |ln d - ln 3| sorted: 0, ln(4/3), ln(3/2), ln(5/3), ln 3 -> median ln(3/2)
    assert baseline.log_scale == pytest.approx(1.4826 * math.log(1.5))
    assert baseline.established_at == baseline.updated_at == baseline.last_seen_at == 1234.5


def test_from_samples_keeps_a_given_establishment_time() -> None:
    baseline = Baseline.from_samples([0.1, 0.2], 0, now=200.0, established_at=100.0)
    assert baseline.established_at == 100.0
    assert baseline.updated_at == 200.0
    assert baseline.last_seen_at == 200.0
    assert baseline.error_rate == 0.0


def test_from_samples_with_zero_durations_has_finite_log_scale() -> None:
    baseline = Baseline.from_samples([0.0, 0.0, 0.0, 0.001], 0, now=1.0)
    assert math.isfinite(baseline.log_scale)
    assert baseline.p50 == 0.0


def test_from_samples_of_constant_durations() -> None:
    baseline = Baseline.from_samples([0.05] * 20, 0, now=1.0)
    assert baseline.p50 == baseline.p99 == 0.05
    assert baseline.std == 0.0
    assert baseline.log_scale == 0.0


def test_from_samples_without_successes_raises() -> None:
    with pytest.raises(ValueError):
        Baseline.from_samples([], 3, now=1.0)


def test_seen_at_changes_only_last_seen() -> None:
    baseline = _baseline()
    later = baseline.seen_at(1_800_000_000.0)
    assert later.last_seen_at == 1_800_000_000.0
    assert dataclasses.replace(later, last_seen_at=baseline.last_seen_at) == baseline


def test_to_dict_from_dict_round_trip() -> None:
    baseline = _baseline()
    assert Baseline.from_dict(baseline.to_dict()) == baseline


def test_round_trip_through_json_text() -> None:
    baseline = _baseline()
    text = json.dumps(baseline.to_dict(), allow_nan=False)
    assert Baseline.from_dict(json.loads(text)) == baseline


def test_public_dict_has_user_fields_only() -> None:
    public = _baseline().public_dict()
    assert "log_scale" not in public
    assert "last_seen_at" not in public
    assert public["sample_count"] == 6


def test_from_dict_accepts_ints_and_boundary_values() -> None:
    raw = _baseline().to_dict()
    raw.update(p50=1, p75=1, p95=1, p99=1, error_rate=0, std=0, established_at=0)
    baseline = Baseline.from_dict(raw)
    assert baseline.p50 == 1.0
    assert isinstance(baseline.p50, float)
    assert baseline.error_rate == 0.0


@pytest.mark.parametrize("rate", [1, 1.0, 1.5])
def test_an_error_rate_of_one_or_more_is_impossible(rate: float) -> None:
    """Issue 11, item 3: a baseline rests on successful calls, so not every call failed:
    such a file is damaged (set aside, the backup used), not a baseline."""
    raw = _baseline().to_dict()
    raw["error_rate"] = rate
    with pytest.raises(ValueError, match="error_rate"):
        Baseline.from_dict(raw)


def test_a_baseline_of_mostly_failures_keeps_the_error_test_the_right_way_round() -> None:
    from perfguard._detect import SustainedDetector

    raw = _baseline().to_dict()
    raw.update(error_rate=0.97, sample_count=1000)
    detector = SustainedDetector(Baseline.from_dict(raw))
    assert detector._error_alt > detector._reference_error


# -- rejection of bad fields ----------------------------------------------------------------

BAD_NUMBERS: list[tuple[str, Any]] = [
    ("nan", math.nan),
    ("inf", math.inf),
    ("negative", -0.001),
    ("bool", True),
    ("string", "0.1"),
    ("null", None),
]


@pytest.mark.parametrize("field", FLOAT_FIELDS + TIME_FIELDS)
@pytest.mark.parametrize(("kind", "value"), BAD_NUMBERS, ids=[k for k, _ in BAD_NUMBERS])
def test_from_dict_rejects_bad_number(field: str, kind: str, value: Any) -> None:
    raw = _baseline().to_dict()
    raw[field] = value
    with pytest.raises(ValueError, match=rf"'{field}'"):
        Baseline.from_dict(raw)


@pytest.mark.parametrize("field", (*FLOAT_FIELDS, *TIME_FIELDS, "sample_count"))
def test_from_dict_rejects_missing_field(field: str) -> None:
    raw = _baseline().to_dict()
    del raw[field]
    with pytest.raises(ValueError, match=rf"'{field}'"):
        Baseline.from_dict(raw)


@pytest.mark.parametrize("count", [0, -3, 2.0, True, "5", None])
def test_from_dict_rejects_bad_sample_count(count: Any) -> None:
    raw = _baseline().to_dict()
    raw["sample_count"] = count
    with pytest.raises(ValueError, match="'sample_count'"):
        Baseline.from_dict(raw)


def test_from_dict_rejects_error_rate_above_one() -> None:
    raw = _baseline().to_dict()
    raw["error_rate"] = 1.0001
    with pytest.raises(ValueError, match="'error_rate'"):
        Baseline.from_dict(raw)


@pytest.mark.parametrize(
    ("field", "value"),
    [("p50", 0.5), ("p75", 0.0001), ("p95", 0.0001), ("p99", 0.0001)],
)
def test_from_dict_rejects_unordered_percentiles(field: str, value: float) -> None:
    raw = _baseline().to_dict()
    raw[field] = value
    with pytest.raises(ValueError, match="p50 <= p75 <= p95 <= p99"):
        Baseline.from_dict(raw)


@pytest.mark.parametrize("raw", [[1, 2], "baseline", None, 3.0])
def test_from_dict_rejects_non_mapping(raw: Any) -> None:
    with pytest.raises(ValueError, match="must be an object"):
        Baseline.from_dict(raw)


def test_from_dict_rejects_integer_too_large_for_a_float() -> None:
    raw = _baseline().to_dict()
    raw["p99"] = 10**400  # what json.loads makes of a 401-digit integer literal
    with pytest.raises(ValueError, match="'p99'"):
        Baseline.from_dict(raw)
