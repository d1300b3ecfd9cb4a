"""The mergeable sketch: exact merges, the stated relative-error bound, strict loading."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfguard._sketch import LogSketch, SketchError

durations = st.floats(min_value=1e-7, max_value=1e4, allow_nan=False, allow_infinity=False)
samples = st.lists(st.one_of(durations, st.just(0.0)), min_size=0, max_size=300)
scales = st.integers(min_value=0, max_value=8)
SETTINGS = settings(max_examples=150, derandomize=True, database=None, deadline=None)


def sketch_of(values: list[float], scale: int = 6) -> LogSketch:
    sketch = LogSketch(scale)
    sketch.add_many(values)
    return sketch


@SETTINGS
@given(samples, samples, scales)
def test_merge_equals_the_sketch_of_the_concatenation(
    a: list[float], b: list[float], scale: int
) -> None:
    merged = sketch_of(a, scale).merged(sketch_of(b, scale))
    whole = sketch_of(a + b, scale)
    assert +merged.buckets == +whole.buckets  # bucket for bucket
    assert merged.zero_count == whole.zero_count
    assert merged.count == whole.count == len(a) + len(b)
    if a or b:
        assert merged.minimum == min(a + b)
        assert merged.maximum == max(a + b)
        assert merged.mean == pytest.approx(whole.mean, rel=1e-9, abs=1e-12)
        assert merged.variance == pytest.approx(whole.variance, rel=1e-6, abs=1e-9)


@SETTINGS
@given(samples, samples, samples)
def test_merge_is_associative_and_commutative(
    a: list[float], b: list[float], c: list[float]
) -> None:
    x, y, z = sketch_of(a), sketch_of(b), sketch_of(c)
    assert x.merged(y).merged(z) == x.merged(y.merged(z))
    assert x.merged(y) == y.merged(x)


@SETTINGS
@given(st.lists(durations, min_size=1, max_size=400), scales)
def test_every_quantile_is_within_the_stated_relative_error(
    values: list[float], scale: int
) -> None:
    sketch = sketch_of(values, scale)
    ordered = sorted(values)
    alpha = sketch.relative_error
    for q in (0.5, 0.75, 0.9, 0.95, 0.99, 0.999):
        truth = ordered[math.floor(q * (len(values) - 1))]
        estimate = sketch.quantile(q)
        assert abs(estimate - truth) <= alpha * truth * (1 + 1e-9)


@SETTINGS
@given(samples, st.integers(min_value=3, max_value=8), st.integers(min_value=0, max_value=3))
def test_downscaling_is_exact(values: list[float], scale: int, drop: int) -> None:
    fine = sketch_of(values, scale)
    assert fine.downscaled(scale - drop) == sketch_of(values, scale - drop)


def test_sketches_of_different_scales_merge_at_the_coarser_one() -> None:
    merged = sketch_of([0.1, 0.2], 7).merged(sketch_of([0.3], 4))
    assert merged.scale == 4
    assert merged == sketch_of([0.1, 0.2, 0.3], 4)
    fine = sketch_of([0.1], 7)
    with pytest.raises(SketchError, match="scale-4 sketch into a scale-7"):
        fine.merge_in(sketch_of([0.3], 4))
    with pytest.raises(SketchError, match="upscale"):
        fine.downscaled(8)


def test_relative_error_bound_matches_the_docstring() -> None:
    assert LogSketch(6).relative_error == pytest.approx(0.0054, abs=1e-4)
    assert LogSketch(3).relative_error == pytest.approx(0.0433, abs=1e-4)


@SETTINGS
@given(samples, scales)
def test_json_round_trip(values: list[float], scale: int) -> None:
    sketch = sketch_of(values, scale)
    text = json.dumps(sketch.to_dict(), allow_nan=False)
    assert LogSketch.from_dict(json.loads(text)) == sketch


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"count": 5}, "disagrees with its buckets"),
        ({"count": -1}, "'count' must be an int >= 0"),
        ({"buckets": [[1, 0]]}, "bad bucket"),
        ({"buckets": [[1, 1], [1, 1]]}, "appears twice"),
        ({"scale": 99}, "scale must be"),
        ({"sum": "x"}, "'sum' must be a number"),
        ({"min": 0.5, "max": 0.1}, "min and max"),
        ({"m2": 10**400}, "too large"),
    ],
)
def test_inconsistent_sketches_are_refused(change: dict[str, object], message: str) -> None:
    raw = sketch_of([0.1, 0.2, 0.0]).to_dict()
    raw.update(change)
    with pytest.raises(SketchError, match=message):
        LogSketch.from_dict(raw)


def test_empty_sketch_quantile_and_bad_q() -> None:
    with pytest.raises(SketchError, match="empty"):
        LogSketch().quantile(0.5)
    with pytest.raises(SketchError, match=r"\[0, 1\]"):
        sketch_of([1.0]).quantile(1.5)
    assert sketch_of([0.0, 0.0, 1.0]).quantile(0.5) == 0.0
