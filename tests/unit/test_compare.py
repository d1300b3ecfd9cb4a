"""The two-sample comparison behind the pytest plugin."""

from __future__ import annotations

import math
import random

import pytest

from perfguard._compare import compare


def sample(seed: int, count: int, median: float) -> list[float]:
    rng = random.Random(seed)
    return [rng.lognormvariate(math.log(median), 0.3) for _ in range(count)]


def test_same_distribution_is_not_a_regression() -> None:
    result = compare(sample(1, 200, 0.01), sample(2, 200, 0.01))
    assert not result.regressed
    assert result.p_value > 0.001
    assert result.ratio == pytest.approx(1.0, abs=0.08)


def test_a_real_slowdown_is_a_regression_with_its_size() -> None:
    result = compare(sample(1, 200, 0.01), sample(2, 200, 0.013))
    assert result.regressed
    assert result.p_value < 1e-6
    assert result.ratio == pytest.approx(1.3, rel=0.08)
    assert "slower: x1.3" in result.describe()


def test_a_significant_but_tiny_slowdown_is_not_a_regression() -> None:
    result = compare(sample(1, 5000, 0.01), sample(2, 5000, 0.0104))
    assert result.p_value < 0.001  # visible...
    assert not result.regressed  # ...but under the 10 % floor


def test_faster_is_never_a_regression_and_ties_are_handled() -> None:
    assert not compare(sample(1, 100, 0.01), sample(2, 100, 0.005)).regressed
    flat = compare([0.01] * 50, [0.01] * 50)
    assert not flat.regressed and flat.ratio == 1.0


def test_matches_a_hand_computed_mann_whitney() -> None:
    # x = [3, 4], y = [1, 2]: U = 4 (all pairs x > y), n = m = 2, var = 4*5/12
    result = compare([1.0, 2.0], [3.0, 4.0], alpha=1.0, floor=1.0)
    z = (4 - 2 - 0.5) / math.sqrt(4 * 5 / 12)
    assert result.p_value == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)))
    with pytest.raises(ValueError):
        compare([1.0], [2.0, 3.0])
