"""quantile (type 7 / numpy "linear") and mean_and_std (two-pass, sample std)."""

from __future__ import annotations

import importlib.util
import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfguard._quantiles import mean_and_std, quantile

DETERMINISTIC = settings(derandomize=True, database=None, deadline=None, max_examples=200)
HAS_NUMPY = importlib.util.find_spec("numpy") is not None

# (sorted values, q, expected) worked out by hand with position = q * (n - 1).
HAND_CASES = [
    ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),  # position 1.5
    ([1.0, 2.0, 3.0, 4.0], 0.25, 1.75),  # position 0.75
    ([1.0, 2.0, 3.0, 4.0], 0.9, 3.7),  # position 2.7
    ([10.0, 20.0, 40.0], 0.75, 30.0),  # position 1.5
    ([10.0, 20.0, 40.0], 0.5, 20.0),  # exact rank
    ([float(i) for i in range(1, 11)], 0.95, 9.55),  # position 8.55
    ([float(i) for i in range(1, 11)], 0.99, 9.91),  # position 8.91
    ([0.0, 100.0], 0.3, 30.0),
    ([5.0, 5.0, 5.0, 7.0], 0.8, 5.8),  # position 2.4: 5 + 0.4 * 2
]


@pytest.mark.parametrize(("values", "q", "expected"), HAND_CASES)
def test_quantile_matches_linear_interpolation_by_hand(
    values: list[float], q: float, expected: float
) -> None:
    assert quantile(values, q) == pytest.approx(expected, rel=1e-12)


@pytest.mark.skipif(not HAS_NUMPY, reason="numpy is not installed")
@pytest.mark.parametrize(("values", "q", "expected"), HAND_CASES)
def test_quantile_matches_numpy(values: list[float], q: float, expected: float) -> None:
    import numpy as np

    assert quantile(values, q) == pytest.approx(float(np.quantile(values, q)), rel=1e-12)


@DETERMINISTIC
@given(
    st.lists(st.floats(min_value=0.0, max_value=1e6), min_size=2, max_size=60),
    st.integers(min_value=1, max_value=99),
)
def test_quantile_matches_statistics_inclusive_method(values: list[float], percent: int) -> None:
    """statistics.quantiles(method="inclusive") is the same type-7 definition."""
    ordered = sorted(values)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    assert quantile(ordered, percent / 100) == pytest.approx(cuts[percent - 1], rel=1e-9, abs=1e-9)


@DETERMINISTIC
@given(
    st.lists(st.floats(min_value=0.0, max_value=1e6), min_size=1, max_size=60),
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(min_value=0.0, max_value=1.0),
)
def test_quantile_is_monotone_and_bounded(values: list[float], q1: float, q2: float) -> None:
    ordered = sorted(values)
    low, high = sorted((q1, q2))
    a, b = quantile(ordered, low), quantile(ordered, high)
    assert ordered[0] <= a <= b <= ordered[-1]


def test_quantile_of_one_value_is_that_value() -> None:
    for q in (0.0, 0.3, 0.5, 0.99, 1.0):
        assert quantile([0.042], q) == 0.042


def test_quantile_at_zero_and_one_are_min_and_max() -> None:
    values = [0.5, 1.5, 2.0, 9.0, 11.0]
    assert quantile(values, 0.0) == 0.5
    assert quantile(values, 1.0) == 11.0


def test_quantile_of_empty_sample_raises() -> None:
    with pytest.raises(ValueError, match="empty"):
        quantile([], 0.5)


# -- mean_and_std -------------------------------------------------------------------------


def test_mean_and_sample_std_by_hand() -> None:
    mean, std = mean_and_std([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])
    assert mean == 5.0
    assert std == pytest.approx(math.sqrt(32.0 / 7.0), rel=1e-12)  # n - 1, not n


def test_std_of_one_value_is_zero() -> None:
    assert mean_and_std([3.25]) == (3.25, 0.0)


def test_std_of_constant_values_is_zero() -> None:
    assert mean_and_std([0.1] * 7) == pytest.approx((0.1, 0.0), abs=1e-18)


def test_mean_and_std_of_empty_sample_raises() -> None:
    with pytest.raises(ValueError, match="empty"):
        mean_and_std([])


def test_mean_and_std_are_accurate_with_a_large_offset() -> None:
    """Two-pass: a naive sum-of-squares formula loses every digit here."""
    offset = 1e9
    mean, std = mean_and_std([offset + 4, offset + 7, offset + 13, offset + 16])
    assert mean == offset + 10
    assert std == pytest.approx(math.sqrt(30.0), rel=1e-9)


@DETERMINISTIC
@given(st.lists(st.floats(min_value=0.0, max_value=1e3), min_size=2, max_size=60))
def test_mean_and_std_match_statistics(values: list[float]) -> None:
    mean, std = mean_and_std(values)
    assert mean == pytest.approx(statistics.fmean(values), rel=1e-12, abs=1e-12)
    assert std == pytest.approx(statistics.stdev(values), rel=1e-9, abs=1e-12)


def test_mean_and_std_with_huge_but_finite_values() -> None:
    mean, std = mean_and_std([0.0, 1e200])
    assert mean == 5e199
    assert std == pytest.approx(1e200 / math.sqrt(2.0), rel=1e-12)
