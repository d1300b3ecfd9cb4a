"""Timing shells (_timing.py) and the tracker's timing API: decorator, measure(), start/end."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import pytest

from perfguard import PerformanceTracker, TrackerConfig
from perfguard._timing import default_name, is_async_callable
from perfguard.testing import FakeClock


async def coroutine_function(a: int = 0, b: int = 0) -> int:
    return a + b


def plain_function(a: int = 0, b: int = 0) -> int:
    return a + b


class AsyncCallable:
    async def __call__(self, x: int = 0) -> int:
        return x


class SyncCallable:
    def __call__(self, x: int = 0) -> int:
        return x


class Service:
    def method(self) -> None:
        pass


# -- is_async_callable / default_name -----------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (coroutine_function, True),
        (functools.partial(coroutine_function, 1), True),
        (functools.partial(functools.partial(coroutine_function, 1), b=2), True),
        (AsyncCallable(), True),
        (functools.partial(AsyncCallable(), 3), True),
        (plain_function, False),
        (functools.partial(plain_function, 1), False),
        (SyncCallable(), False),
        (lambda: None, False),
        (len, False),
        (Service().method, False),
    ],
    ids=[
        "coroutine-function",
        "partial",
        "nested-partial",
        "async-__call__",
        "partial-of-async-__call__",
        "sync-function",
        "sync-partial",
        "sync-__call__",
        "lambda",
        "builtin",
        "bound-method",
    ],
)
def test_is_async_callable(fn: Any, expected: bool) -> None:
    assert is_async_callable(fn) is expected


def test_default_name() -> None:
    def inner() -> None:
        pass

    assert default_name(plain_function) == "plain_function"
    assert default_name(coroutine_function) == "coroutine_function"
    assert default_name(inner) == "test_default_name.<locals>.inner"
    assert default_name(Service.method) == "Service.method"
    assert default_name(Service().method) == "Service.method"
    assert default_name(functools.partial(plain_function, 1)) == "plain_function"
    assert default_name(functools.partial(functools.partial(inner))) == default_name(inner)
    assert default_name(AsyncCallable()) == "AsyncCallable"  # instances have no __qualname__
    assert default_name(lambda: None) == "test_default_name.<locals>.<lambda>"


def test_decorator_without_name_uses_qualified_name(make_tracker) -> None:
    tracker = make_tracker()

    @tracker.time_operation
    def bare() -> int:
        return 1

    @tracker.time_operation()
    def called() -> int:
        return 2

    assert tracker.operations() == []  # decorating creates nothing
    assert bare() == 1
    assert called() == 2
    prefix = "test_decorator_without_name_uses_qualified_name.<locals>."
    assert tracker.operations() == [prefix + "bare", prefix + "called"]


# -- decorator ----------------------------------------------------------------------------


def test_sync_decorator_times_the_call(make_tracker, clock: FakeClock) -> None:
    tracker = make_tracker()

    @tracker.time_operation("work")
    def work(x: int) -> int:
        clock.advance(0.2)
        return x * 2

    assert work(21) == 42
    stats = tracker.stats("work")
    assert stats["sample_count"] == 1
    assert stats["recent_p50"] == pytest.approx(0.2)


def test_async_decorator_times_the_awaited_run(make_tracker, clock: FakeClock) -> None:
    tracker = make_tracker()

    @tracker.time_operation("fetch")
    async def fetch(x: int) -> int:
        await asyncio.sleep(0)
        clock.advance(0.3)
        return x + 1

    pending = fetch(1)
    assert tracker.operations() == []  # creating the coroutine is not a call
    assert asyncio.run(pending) == 2
    stats = tracker.stats("fetch")
    assert stats["sample_count"] == 1
    assert stats["recent_p50"] == pytest.approx(0.3)


def test_decorated_async_callable_object_is_awaited(make_tracker, clock: FakeClock) -> None:
    tracker = make_tracker()

    class Slow:
        async def __call__(self) -> str:
            await asyncio.sleep(0)
            clock.advance(0.05)
            return "done"

    timed = tracker.time_operation("slow")(functools.partial(Slow()))
    assert asyncio.run(timed()) == "done"
    assert tracker.stats("slow")["recent_p50"] == pytest.approx(0.05)


def test_exception_in_decorated_function_is_a_failure_and_reraised(
    make_tracker, clock: FakeClock
) -> None:
    tracker = make_tracker()
    error = ValueError("boom")

    @tracker.time_operation("fails")
    def fails() -> None:
        clock.advance(0.1)
        raise error

    with pytest.raises(ValueError) as info:
        fails()
    assert info.value is error
    stats = tracker.stats("fails")
    assert stats["failure_count"] == 1
    assert stats["recent_errors"][0]["metadata"] == {"error": "ValueError"}
    assert stats["recent_errors"][0]["duration"] == pytest.approx(0.1)


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_interrupt_in_decorated_sync_function_records_nothing(
    make_tracker, clock: FakeClock, interrupt: type[BaseException]
) -> None:
    tracker = make_tracker()
    calls = 0

    @tracker.time_operation("job")
    def job(stop: bool) -> None:
        nonlocal calls
        calls += 1
        clock.advance(0.5)
        if stop:
            raise interrupt()

    job(False)
    with pytest.raises(interrupt):
        job(True)
    assert calls == 2
    stats = tracker.stats("job")
    assert stats["sample_count"] == 1
    assert stats["failure_count"] == 0


def test_cancelled_decorated_coroutine_records_nothing(make_tracker, clock: FakeClock) -> None:
    tracker = make_tracker()

    @tracker.time_operation("rpc")
    async def rpc(cancel: bool) -> None:
        await asyncio.sleep(0)
        clock.advance(0.4)
        if cancel:
            raise asyncio.CancelledError

    async def scenario() -> None:
        await rpc(False)
        with pytest.raises(asyncio.CancelledError):
            await rpc(True)

    asyncio.run(scenario())
    stats = tracker.stats("rpc")
    assert stats["sample_count"] == 1
    assert stats["failure_count"] == 0


# -- measure() ----------------------------------------------------------------------------


def test_measure_sets_duration_and_success(make_tracker, clock: FakeClock) -> None:
    tracker = make_tracker()
    with tracker.measure("block") as timer:
        clock.advance(0.25)
    assert timer.duration == pytest.approx(0.25)
    assert timer.success is True
    with pytest.raises(KeyError), tracker.measure("block") as failed:
        clock.advance(0.125)
        raise KeyError("x")
    assert failed.duration == pytest.approx(0.125)
    assert failed.success is False
    stats = tracker.stats("block")
    assert stats["sample_count"] == 2
    assert stats["failure_count"] == 1


def test_timer_exited_without_being_entered_raises(make_tracker) -> None:
    tracker = make_tracker()
    timer = tracker.measure("never")
    with pytest.raises(RuntimeError, match="'never'"):
        timer.__exit__(None, None, None)
    with pytest.raises(RuntimeError, match="'never'"):
        asyncio.run(timer.__aexit__(None, None, None))
    assert tracker.operations() == []


def test_timer_exited_twice_raises_and_records_once(make_tracker, clock: FakeClock) -> None:
    tracker = make_tracker()
    timer = tracker.measure("once")
    with timer:
        clock.advance(0.01)
    with pytest.raises(RuntimeError):
        timer.__exit__(None, None, None)
    assert tracker.stats("once")["sample_count"] == 1


def test_cancellation_inside_async_measure_records_nothing(make_tracker, clock: FakeClock) -> None:
    tracker = make_tracker()

    async def scenario() -> None:
        async with tracker.measure("query") as done:
            clock.advance(0.1)
        assert done.success is True

        entered = asyncio.Event()
        never = asyncio.Event()

        async def work() -> None:
            async with tracker.measure("query"):
                clock.advance(2.0)
                entered.set()
                await never.wait()

        task = asyncio.create_task(work())
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    stats = tracker.stats("query")
    assert stats["sample_count"] == 1
    assert stats["failure_count"] == 0
    assert stats["recent_max"] == pytest.approx(0.1)


def test_cancellation_of_first_measure_creates_no_operation(make_tracker, clock: FakeClock) -> None:
    tracker = make_tracker()

    async def scenario() -> None:
        started = asyncio.Event()

        async def work() -> None:
            async with tracker.measure("first"):
                started.set()
                await asyncio.Event().wait()

        task = asyncio.create_task(work())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert tracker.operations() == []


def test_keyboard_interrupt_inside_measure_records_nothing(make_tracker) -> None:
    tracker = make_tracker()
    with pytest.raises(KeyboardInterrupt), tracker.measure("block"):
        raise KeyboardInterrupt
    assert tracker.operations() == []


def test_measure_failure_keeps_metadata_and_error_type(make_tracker, clock: FakeClock) -> None:
    tracker = make_tracker()
    with pytest.raises(TimeoutError), tracker.measure("call", metadata={"host": "a"}):
        clock.advance(0.3)
        raise TimeoutError
    (error,) = tracker.stats("call")["recent_errors"]
    assert error["metadata"] == {"host": "a", "error": "TimeoutError"}
    assert error["duration"] == pytest.approx(0.3)


# -- metadata and exemplars ---------------------------------------------------------------


def _establish(tracker: PerformanceTracker, name: str, count: int = 10) -> None:
    for i in range(count):
        tracker.record(name, 0.010 + 0.001 * (i % 3))


def test_start_end_metadata_is_merged_into_slow_call_exemplar(
    make_tracker, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = make_tracker(min_samples=10)
    _establish(tracker, "db")
    assert tracker.state("db") == "ok"
    threshold = tracker.stats("db")["slow_threshold"]
    assert threshold < 0.05

    timer_id = tracker.start("db", metadata={"table": "users", "shared": "start"})
    clock.advance(1.0)
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        duration = tracker.end(timer_id, metadata={"rows": 7, "shared": "end"})
    assert duration == pytest.approx(1.0)

    stats = tracker.stats("db")
    assert stats["degradation_count"] == 1
    (exemplar,) = stats["exemplars"]
    assert exemplar["metadata"] == {"table": "users", "rows": 7, "shared": "end"}
    assert exemplar["duration"] == pytest.approx(1.0)
    assert exemplar["success"] is True
    assert exemplar["time"] == clock.wall()
    assert any("Performance degradation detected for db" in r.getMessage() for r in caplog.records)


def test_start_metadata_alone_is_kept(make_tracker, clock: FakeClock) -> None:
    tracker = make_tracker()
    _establish(tracker, "op")
    timer_id = tracker.start("op", metadata={"user": 7})
    clock.advance(0.5)
    tracker.end(timer_id, metadata={})  # empty end metadata must not drop the start's
    (exemplar,) = tracker.stats("op")["exemplars"]
    assert exemplar["metadata"] == {"user": 7}


def test_end_metadata_alone_is_kept(make_tracker, clock: FakeClock) -> None:
    tracker = make_tracker()
    _establish(tracker, "op")
    timer_id = tracker.start("op")
    clock.advance(0.5)
    tracker.end(timer_id, metadata={"status": 503})
    (exemplar,) = tracker.stats("op")["exemplars"]
    assert exemplar["metadata"] == {"status": 503}


def test_failed_end_keeps_merged_metadata_in_recent_errors(make_tracker, clock: FakeClock) -> None:
    tracker = make_tracker()
    timer_id = tracker.start("op", metadata={"a": 1})
    clock.advance(0.2)
    tracker.end(timer_id, success=False, metadata={"b": 2})
    stats = tracker.stats("op")
    assert stats["failure_count"] == 1
    assert stats["recent_errors"][0]["metadata"] == {"a": 1, "b": 2}
    assert stats["exemplars"] == []


def test_measure_metadata_is_kept_for_a_slow_block(make_tracker, clock: FakeClock) -> None:
    tracker = make_tracker()
    _establish(tracker, "render")
    with tracker.measure("render", metadata={"page": "/home"}):
        clock.advance(0.8)
    (exemplar,) = tracker.stats("render")["exemplars"]
    assert exemplar["metadata"] == {"page": "/home"}
    assert exemplar["duration"] == pytest.approx(0.8)


def test_exemplars_keep_the_slowest_calls_slowest_first(make_tracker) -> None:
    tracker = make_tracker(config=TrackerConfig(exemplars=2, autosave_interval=None))
    _establish(tracker, "op")
    for tag, duration in (("a", 0.5), ("b", 0.9), ("c", 0.7), ("d", 0.2), ("e", 0.6)):
        tracker.record("op", duration, metadata={"tag": tag})
    exemplars = tracker.stats("op")["exemplars"]
    assert [e["metadata"]["tag"] for e in exemplars] == ["b", "c"]
    assert [e["duration"] for e in exemplars] == [0.9, 0.7]


def test_no_exemplars_when_disabled(make_tracker) -> None:
    tracker = make_tracker(config=TrackerConfig(exemplars=0, autosave_interval=None))
    _establish(tracker, "op")
    tracker.record("op", 5.0, metadata={"tag": "slow"})
    assert tracker.stats("op")["exemplars"] == []


def _exemplar_tags(samples_between: int) -> tuple[list[str], int]:
    tracker = PerformanceTracker(
        window_size=4, min_samples=2, clock=FakeClock(), autosave_interval=None
    )
    try:
        tracker.record("op", 0.5, metadata={"id": "A"})  # sample 1
        for _ in range(samples_between):
            tracker.record("op", 0.01)
        tracker.record("op", 0.02, metadata={"id": "B"})
        stats = tracker.stats("op")
        return [e["metadata"]["id"] for e in stats["exemplars"]], stats["window_count"]
    finally:
        tracker.close()


def test_exemplar_of_a_sample_long_gone_from_the_window_is_dropped() -> None:
    tags, window_count = _exemplar_tags(samples_between=4)
    assert window_count == 4
    assert tags == ["B"]


def test_exemplar_is_dropped_as_soon_as_its_sample_leaves_the_window() -> None:
    # Window of 4 after 5 samples holds samples 2..5; A (sample 1) has left it.
    tags, window_count = _exemplar_tags(samples_between=3)
    assert window_count == 4
    assert tags == ["B"]
