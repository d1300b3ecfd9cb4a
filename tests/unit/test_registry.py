"""OperationRegistry (_registry.py): the cardinality cap and its overflow count, lookup
errors, baselines restored and adopted (under the cap), and absorbing outside the lock."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from perfguard import InvalidOperationNameError, UnknownOperationError
from perfguard._alerting import SlowCallLimiter
from perfguard._config import TrackerConfig
from perfguard._detect import DetectorSettings
from perfguard._notifications import BaselineChange, Notification
from perfguard._recorder import Recorder
from perfguard._registry import OVERFLOW_NAME, OperationRegistry
from perfguard.testing import FakeClock
from tests.conftest import fixed_baseline


def registry_of(
    max_operations: int = 100, dispatch: Callable[[list[Notification]], None] | None = None
) -> OperationRegistry:
    config = TrackerConfig(max_operations=max_operations, autosave_interval=None)
    notes: list[Notification] = []
    return OperationRegistry(
        config, DetectorSettings(), FakeClock(), dispatch or notes.extend, sketch_scale=None
    )


def recorder_of(registry: OperationRegistry) -> Recorder:
    clock = FakeClock()
    return Recorder(registry, clock, SlowCallLimiter(5, 60.0, clock), lambda message: None)


# -- the cap -----------------------------------------------------------------------------


def test_names_past_the_cap_share_one_overflow_operation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = registry_of(max_operations=2)
    a, b = registry.operation_for("a"), registry.operation_for("b")
    assert a is not b and registry.operation_for("a") is a
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        c, d = registry.operation_for("c"), registry.operation_for("d")
    assert c is d and c.name == OVERFLOW_NAME
    assert registry.names() == ["a", "b"]
    warnings = [r for r in caplog.records if "max_operations" in r.getMessage()]
    assert len(warnings) == 1 and "'c'" in warnings[0].getMessage()


def test_overflow_count_counts_every_refused_call() -> None:
    registry = registry_of(max_operations=1)
    recorder = recorder_of(registry)
    assert registry.overflow_count == 0
    recorder.record_outcome("kept", 0.01, True, None)
    for index in range(7):
        recorder.record_outcome(f"refused-{index % 3}", 0.01, True, None)
    recorder.record_outcome("refused-0", 0.5, False, None)  # failures are counted too
    recorder.record_outcome("kept", 0.01, True, None)
    assert registry.overflow_count == 8
    assert registry.names() == ["kept"]
    assert registry.absorbed(registry.lookup("kept"), lambda op: op.sample_count) == 2


# -- lookup ------------------------------------------------------------------------------


def test_lookup_of_an_unknown_or_overflowed_name_is_unknown_operation() -> None:
    registry = registry_of(max_operations=1)
    registry.operation_for("a")
    registry.operation_for("b")  # overflowed: counted, not an operation
    for name in ("missing", "b", OVERFLOW_NAME):
        with pytest.raises(UnknownOperationError) as info:
            registry.lookup(name)
        assert info.value.operation == name
    assert registry.lookup("a").name == "a"


@pytest.mark.parametrize("bad", ["", None, 42, ["list"], b"op"])
def test_lookup_and_operation_for_refuse_bad_names(bad: object) -> None:
    registry = registry_of()
    with pytest.raises(InvalidOperationNameError):
        registry.lookup(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidOperationNameError):
        registry.operation_for(bad)  # type: ignore[arg-type]
    assert registry.names() == []


# -- restore and adopt ---------------------------------------------------------------------


def test_restore_keeps_baselines_seen_since_the_cutoff() -> None:
    registry = registry_of()
    stored = {"recent": fixed_baseline(100), "old": fixed_baseline(100)}
    stored["recent"] = stored["recent"].seen_at(50.0)
    registry.restore(stored, cutoff=10.0)
    assert registry.names() == ["recent"]
    assert registry.lookup("recent").baseline == stored["recent"]


def test_adopt_creates_operations_only_under_the_cap() -> None:
    registry = registry_of(max_operations=2)
    assert registry.adopt("x", fixed_baseline(50))
    assert registry.adopt("y", fixed_baseline(50))
    assert not registry.adopt("z", fixed_baseline(50))
    assert registry.names() == ["x", "y"]
    assert registry.lookup("x").baseline == fixed_baseline(50)
    assert registry.overflow_count == 0  # an adopt refused by the cap is not a call


def test_adopt_into_an_existing_operation_follows_its_rule() -> None:
    registry = registry_of()
    registry.operation_for("learning")  # no baseline yet: any shared one is taken
    assert registry.adopt("learning", fixed_baseline(5))
    assert registry.adopt("x", fixed_baseline(50))
    assert not registry.adopt("x", fixed_baseline(40))  # fewer samples than the current
    assert registry.lookup("x").baseline == fixed_baseline(50)
    assert registry.adopt("x", fixed_baseline(60))
    assert registry.lookup("x").baseline == fixed_baseline(60)


# -- absorbing -----------------------------------------------------------------------------


def test_absorbed_reads_after_absorbing_and_dispatches_outside_the_lock() -> None:
    locked_during_dispatch: list[bool] = []
    received: list[Notification] = []

    def dispatch(notes: list[Notification]) -> None:
        locked_during_dispatch.append(op.lock.locked())
        received.extend(notes)

    registry = registry_of(dispatch=dispatch)
    op = registry.operation_for("op")
    op.pending.extend([0.01] * 12)  # min_samples is 10
    assert registry.absorbed(op, lambda o: o.sample_count) == 12
    assert [type(n) for n in received] == [BaselineChange]
    assert locked_during_dispatch == [False]
    assert registry.absorbed(op, lambda o: o.state) == "ok"
    assert len(received) == 1  # nothing new to absorb: nothing dispatched


def test_absorb_if_free_leaves_a_busy_operation_alone() -> None:
    registry = registry_of()
    op = registry.operation_for("op")
    op.pending.append(0.01)
    with op.lock:  # another thread is absorbing: it will take this sample
        registry.absorb_if_free(op)
        assert op.pending == [0.01]
    registry.absorb_if_free(op)
    assert op.pending == [] and op.sample_count == 1


def test_enable_histogram_reaches_existing_and_new_operations() -> None:
    registry = registry_of()
    registry.operation_for("before").pending.append(0.05)
    registry.enable_histogram((0.1,))
    after = registry.operation_for("after")
    before = registry.lookup("before")
    assert before.histogram is not None and after.histogram is not None
    assert before.histogram.cumulative() == (0, 0)  # absorbed before counting began
    assert after.histogram.bounds == (0.1,)
