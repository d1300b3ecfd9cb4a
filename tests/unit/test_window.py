"""RollingWindow: order, bounds, the look-back of encoded(excluding=...), failure encoding."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfguard._window import RollingWindow, decode, encode_failure, split_sorted

DETERMINISTIC = settings(derandomize=True, database=None, deadline=None, max_examples=150)


def _stream(rng: random.Random, count: int, start: int) -> list[float]:
    """Distinct encoded samples (index-derived, so order mistakes show); ~20 % failures."""
    values = []
    for i in range(start, start + count):
        duration = i / 1000.0
        values.append(encode_failure(duration) if rng.random() < 0.2 else duration)
    return values


def _check_against_reference(capacity: int, batch_sizes: list[int], seed: int) -> None:
    rng = random.Random(seed)
    window = RollingWindow(capacity)
    reference: list[float] = []
    slack = max(16, min(256, capacity // 8))
    for size in batch_sizes:
        batch = _stream(rng, size, len(reference))
        window.extend(batch)
        reference.extend(batch)
        # Before compact(): every earlier view of this batch is still available.
        for k in range(size + 1):
            earlier = reference[: len(reference) - k]
            assert window.encoded(excluding=k) == earlier[-capacity:]
        assert len(window) == min(len(reference), capacity)
        window.compact()
        assert window.encoded() == reference[-capacity:]
        assert len(window) == min(len(reference), capacity)
        assert window.memory_bytes() <= 8 * (capacity + slack)


@pytest.mark.parametrize("capacity", [1, 2, 7, 64, 1000])
def test_window_keeps_last_capacity_samples_in_order(capacity: int) -> None:
    rng = random.Random(capacity)
    batch_sizes = [rng.choice([0, 1, 1, 3, 16, 64, 200, 1500]) for _ in range(60)]
    _check_against_reference(capacity, batch_sizes, seed=capacity)


@DETERMINISTIC
@given(
    capacity=st.integers(min_value=1, max_value=300),
    batch_sizes=st.lists(st.integers(min_value=0, max_value=400), max_size=25),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_window_matches_reference_for_any_batching(
    capacity: int, batch_sizes: list[int], seed: int
) -> None:
    _check_against_reference(capacity, batch_sizes, seed)


def test_capacity_property_and_empty_window() -> None:
    window = RollingWindow(5)
    assert window.capacity == 5
    assert len(window) == 0
    assert window.encoded() == []
    assert window.successful_durations() == []
    assert window.failures() == 0


def test_excluding_the_whole_batch_gives_the_window_before_it() -> None:
    window = RollingWindow(3)
    window.extend([1.0, 2.0, 3.0, 4.0])
    window.compact()
    window.extend([5.0, 6.0])
    assert window.encoded(excluding=2) == [2.0, 3.0, 4.0]
    assert window.encoded(excluding=1) == [3.0, 4.0, 5.0]
    assert window.encoded() == [4.0, 5.0, 6.0]


def test_excluding_every_sample_ever_added_gives_an_empty_window() -> None:
    window = RollingWindow(10)
    window.extend([1.0, 2.0, 3.0])
    assert window.encoded(excluding=3) == []


def test_excluding_more_samples_than_were_ever_added_gives_an_empty_window() -> None:
    window = RollingWindow(10)
    window.extend([1.0, 2.0, 3.0])
    assert window.encoded(excluding=5) == []


# -- failure encoding ---------------------------------------------------------------------


@pytest.mark.parametrize("duration", [0.0, 1e-9, 0.001, 0.25, 0.999999, 1.0, 3.5, 86400.0])
def test_failure_encoding_round_trip(duration: float) -> None:
    encoded = encode_failure(duration)
    assert encoded <= -1.0
    assert decode(encoded) == pytest.approx(duration, abs=2.3e-16 * max(1.0, duration))


@DETERMINISTIC
@given(st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False))
def test_failure_encoding_round_trip_property(duration: float) -> None:
    encoded = encode_failure(duration)
    assert encoded <= -1.0
    assert abs(decode(encoded) - duration) <= 2.3e-16 * max(1.0, duration)
    assert decode(duration) == duration  # a success is stored as itself


def test_successful_durations_and_failures_with_excluding() -> None:
    window = RollingWindow(4)
    window.extend([0.1, encode_failure(0.2), 0.3, 0.4, encode_failure(0.5), 0.6])
    # The window is the last 4 samples: [0.3, 0.4, fail(0.5), 0.6]
    assert window.successful_durations() == [0.3, 0.4, 0.6]
    assert window.failures() == 1
    # As it was before the last 2 samples: [0.1, fail(0.2), 0.3, 0.4]
    assert window.successful_durations(excluding=2) == [0.1, 0.3, 0.4]
    assert window.failures(excluding=2) == 1
    # Before the last 4: [0.1, fail(0.2)]
    assert window.successful_durations(excluding=4) == [0.1]
    assert window.failures(excluding=4) == 1


def test_failures_counts_every_failure_in_window_only() -> None:
    window = RollingWindow(3)
    window.extend([encode_failure(0.1)] * 5 + [0.2])
    window.compact()
    assert window.failures() == 2
    assert window.successful_durations() == [0.2]


# -- split_sorted -------------------------------------------------------------------------


def test_split_sorted_separates_sorted_successes_and_counts_failures() -> None:
    block = [0.3, encode_failure(0.05), 0.1, encode_failure(2.0), 0.0, 0.2]
    successes, failures = split_sorted(block)
    assert successes == [0.0, 0.1, 0.2, 0.3]
    assert failures == 2


def test_split_sorted_edge_cases() -> None:
    assert split_sorted([]) == ([], 0)
    assert split_sorted([encode_failure(0.0), encode_failure(1.0)]) == ([], 2)
    assert split_sorted(iter([0.5, 0.25])) == ([0.25, 0.5], 0)


@DETERMINISTIC
@given(
    st.lists(
        st.tuples(st.floats(min_value=0.0, max_value=100.0), st.booleans()),
        max_size=80,
    )
)
def test_split_sorted_property(samples: list[tuple[float, bool]]) -> None:
    encoded = [d if ok else encode_failure(d) for d, ok in samples]
    successes, failures = split_sorted(encoded)
    assert successes == sorted(d for d, ok in samples if ok)
    assert failures == sum(1 for _, ok in samples if not ok)
