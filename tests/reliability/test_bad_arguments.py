"""Issue 11, item 17: a bad `success` or `metadata` is a PerfguardError naming the
operation and the value, raised before anything changes (no sample, no timer closed)."""

from __future__ import annotations

import pytest

from perfguard import InvalidArgumentError, PerfguardError, PerformanceTracker
from perfguard.testing import FakeClock


def tracker() -> PerformanceTracker:
    return PerformanceTracker(autosave_interval=None, clock=FakeClock())


@pytest.mark.parametrize(
    "arguments",
    [
        {"success": "yes"},
        {"success": 1},
        {"success": None},
        {"metadata": [("user", 7)]},
        {"metadata": "user=7"},
        {"success": "no", "metadata": {"user": 7}},
    ],
)
def test_record_refuses_and_records_nothing(arguments: dict[str, object]) -> None:
    subject = tracker()
    subject.record("checkout", 0.01)
    with pytest.raises(InvalidArgumentError) as info:
        subject.record("checkout", 0.02, **arguments)  # type: ignore[arg-type]
    assert "'checkout'" in str(info.value)
    assert isinstance(info.value, PerfguardError)
    assert subject.stats("checkout")["sample_count"] == 1
    assert subject.stats("checkout")["failure_count"] == 0


def test_end_refuses_before_closing_the_timer() -> None:
    subject = tracker()
    timer = subject.start("upload")
    with pytest.raises(InvalidArgumentError, match="'upload'"):
        subject.end(timer, success="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="metadata for 'upload'"):
        subject.end(timer, metadata=["x"])  # type: ignore[arg-type]
    subject.end(timer, success=False)  # still open: ends normally now
    assert subject.stats("upload")["failure_count"] == 1


def test_start_and_measure_refuse_a_metadata_that_is_not_a_mapping() -> None:
    subject = tracker()
    with pytest.raises(InvalidArgumentError, match="'query'"):
        subject.start("query", metadata=[1, 2])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="'query'"):
        subject.measure("query", metadata="table=users")  # type: ignore[arg-type]
    assert subject.operations() == []


def test_numpy_booleans_are_accepted_as_what_they_say() -> None:
    numpy = pytest.importorskip("numpy")
    subject = tracker()
    subject.record("checkout", 0.01, success=numpy.bool_(False))
    subject.record("checkout", 0.01, success=numpy.bool_(True))
    stats = subject.stats("checkout")
    assert stats["failure_count"] == 1 and stats["sample_count"] == 2
