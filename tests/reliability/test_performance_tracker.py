"""The original description's suite: timing, baselines, degradation, the decorator and
persistence, plus a stress test (deselect with -k "not stress_test")."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import logging
import random
import threading
from pathlib import Path

import pytest

from perfguard import (
    DegradationEvent,
    IncompatibleStorageError,
    InvalidDurationError,
    InvalidOperationNameError,
    PerfguardError,
    PerformanceTracker,
    TimerAlreadyEndedError,
    UnknownOperationError,
    UnknownTimerError,
)
from perfguard.testing import FakeClock
from tests.conftest import lognormal_stream

# -- timing -----------------------------------------------------------------------------


def test_start_and_end_operation_measure_elapsed_time(make_tracker, clock: FakeClock) -> None:
    tracker = make_tracker()

    async def scenario() -> float:
        timer_id = await tracker.start_operation("database_query", metadata={"table": "users"})
        clock.advance(0.125)
        return await tracker.end_operation(timer_id, success=True)

    duration = asyncio.run(scenario())
    assert duration == pytest.approx(0.125)
    stats = asyncio.run(tracker.get_operation_stats("database_query"))
    assert stats["sample_count"] == 1
    assert stats["recent_p50"] == pytest.approx(0.125)
    assert stats["success_rate"] == 1.0


def test_failed_operation_counts_in_error_rate(make_tracker, clock: FakeClock) -> None:
    tracker = make_tracker()
    for success in (True, False, True, True):
        timer_id = tracker.start("api_call")
        clock.advance(0.01)
        tracker.end(timer_id, success=success)
    stats = tracker.stats("api_call")
    assert stats["sample_count"] == 4
    assert stats["failure_count"] == 1
    assert stats["error_rate"] == pytest.approx(0.25)
    assert stats["success_rate"] == pytest.approx(0.75)


def test_timer_ids_are_checked(make_tracker) -> None:
    tracker = make_tracker()
    timer_id = tracker.start("op")
    tracker.end(timer_id)
    with pytest.raises(TimerAlreadyEndedError) as ended:
        tracker.end(timer_id)
    assert timer_id in str(ended.value)
    with pytest.raises(UnknownTimerError):
        tracker.end("not-a-timer")
    with pytest.raises(UnknownTimerError):
        tracker.end(["unhashable"])  # type: ignore[arg-type]
    assert tracker.stats("op")["sample_count"] == 1  # errors recorded nothing


def test_measure_context_manager_sync_and_async(make_tracker, clock: FakeClock) -> None:
    tracker = make_tracker()
    with tracker.measure("block") as timer:
        clock.advance(0.2)
    assert timer.duration == pytest.approx(0.2)

    async def scenario() -> float | None:
        async with tracker.measure("block") as atimer:
            clock.advance(0.3)
        return atimer.duration

    assert asyncio.run(scenario()) == pytest.approx(0.3)
    with pytest.raises(KeyError), tracker.measure("block"):
        clock.advance(0.1)
        raise KeyError("boom")
    stats = tracker.stats("block")
    assert stats["sample_count"] == 3
    assert stats["failure_count"] == 1
    assert stats["recent_errors"][0]["metadata"]["error"] == "KeyError"


# -- baseline -------------------------------------------------------------------------


def test_baseline_established_after_min_samples(make_tracker, rng: random.Random) -> None:
    tracker = make_tracker(min_samples=10)
    values = lognormal_stream(rng, 10)
    for value in values[:9]:
        tracker.record("query", value)
    assert tracker.state("query") == "learning"
    assert tracker.baseline("query") is None
    assert tracker.stats("query")["baseline"] is None
    tracker.record("query", values[9])
    baseline = tracker.stats("query")["baseline"]
    assert tracker.state("query") == "ok"
    assert baseline is not None
    ordered = sorted(values)
    assert baseline["sample_count"] == 10
    assert baseline["p50"] == pytest.approx((ordered[4] + ordered[5]) / 2)
    assert baseline["mean"] == pytest.approx(sum(values) / 10)
    for key in ("p75", "p95", "p99", "std", "established_at", "updated_at"):
        assert key in baseline
    assert baseline["p50"] <= baseline["p75"] <= baseline["p95"] <= baseline["p99"]


def test_stats_keys_and_unknown_operation(make_tracker, rng: random.Random) -> None:
    tracker = make_tracker()
    for value in lognormal_stream(rng, 50):
        tracker.record("op", value)
    stats = tracker.stats("op")
    for key in (
        "operation",
        "sample_count",
        "window_count",
        "success_rate",
        "error_rate",
        "recent_p50",
        "recent_p75",
        "recent_p95",
        "recent_p99",
        "recent_mean",
        "recent_std",
        "degradation_count",
        "degradation_rate",
        "state",
        "baseline",
    ):
        assert key in stats
    with pytest.raises(UnknownOperationError) as unknown:
        tracker.stats("never_seen")
    assert "never_seen" in str(unknown.value)
    assert isinstance(unknown.value, KeyError)


def test_window_is_bounded(make_tracker, rng: random.Random) -> None:
    tracker = make_tracker(window_size=100, min_samples=10)
    for value in lognormal_stream(rng, 1000):
        tracker.record("op", value)
    stats = tracker.stats("op")
    assert stats["sample_count"] == 1000
    assert stats["window_count"] == 100


# -- degradation ----------------------------------------------------------------------


def test_slow_call_counts_and_logs_warning(make_tracker, caplog) -> None:
    tracker = make_tracker(min_samples=10, threshold="p95")
    for index in range(20):
        tracker.record("api_call", 0.09 + 0.001 * (index % 10))
    before = tracker.stats("api_call")
    baseline_p95 = before["baseline"]["p95"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        tracker.record("api_call", 0.250)
    stats = tracker.stats("api_call")
    assert stats["degradation_count"] == before["degradation_count"] + 1
    assert stats["degradation_rate"] == pytest.approx(stats["degradation_count"] / 21)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert messages == [
        f"Performance degradation detected for api_call: 0.250s (baseline p95: "
        f"{baseline_p95:.3f}s, threshold: {baseline_p95:.3f}s)"
    ]


def test_stddev_threshold_mode(make_tracker) -> None:
    tracker = make_tracker(min_samples=10, threshold="stddev", std_multiplier=2.0)
    values = [0.1, 0.11, 0.09, 0.1, 0.12, 0.08, 0.1, 0.1, 0.11, 0.09]
    for value in values:
        tracker.record("op", value)
    baseline = tracker.baseline("op")
    assert baseline is not None
    limit = baseline.mean + 2.0 * baseline.std
    tracker.record("op", limit * 0.99)
    assert tracker.stats("op")["degradation_count"] == 0
    tracker.record("op", limit * 1.01)
    assert tracker.stats("op")["degradation_count"] == 1


def test_slow_call_warnings_are_rate_limited(make_tracker, clock: FakeClock, caplog) -> None:
    tracker = make_tracker(min_samples=10)
    for _ in range(10):
        tracker.record("op", 0.1)
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        for _ in range(50):
            tracker.record("op", 1.0)
        clock.advance(61.0)
        tracker.record("op", 1.0)
    warnings = [r.getMessage() for r in caplog.records if "detected for op" in r.getMessage()]
    assert len(warnings) == 6  # a burst of 5, then one after the interval
    assert "[45 similar warnings suppressed]" in warnings[-1]
    assert tracker.stats("op")["degradation_count"] == 51


def test_sustained_shift_turns_degraded_then_recovers(make_tracker, rng: random.Random) -> None:
    events: list[DegradationEvent] = []
    tracker = make_tracker(on_alert=events.append)
    for value in lognormal_stream(rng, 3000):
        tracker.record("db", value)
        assert tracker.state("db") == "ok" or tracker.stats("db")["sample_count"] < 10
    for value in lognormal_stream(rng, 600, median=0.1):
        tracker.record("db", value)
    assert tracker.state("db") == "degraded"
    assert [e.kind for e in events] == ["degraded"]
    event = events[0]
    assert event.operation == "db"
    assert set(event.signals) <= {"latency", "tail"}  # the tail often moves first
    assert event.effect_ratio > 1.3
    assert event.current["p95"] > event.baseline["p95"]
    assert event.started_at_sample >= 2800
    frozen = tracker.baseline("db")
    for value in lognormal_stream(rng, 3000):
        tracker.record("db", value)
    assert tracker.state("db") == "ok"
    assert [e.kind for e in events] == ["degraded", "recovered"]
    assert tracker.baseline("db") == frozen or tracker.baseline("db").p50 < 0.06


def test_error_rate_increase_is_detected(make_tracker, rng: random.Random) -> None:
    events: list[DegradationEvent] = []
    tracker = make_tracker(on_alert=events.append)
    for value in lognormal_stream(rng, 3000):
        tracker.record("api", value, success=rng.random() > 0.005)
    assert tracker.state("api") == "ok"
    for value in lognormal_stream(rng, 1000):
        tracker.record("api", value, success=rng.random() > 0.2)
    assert tracker.state("api") == "degraded"
    assert events[0].signals == ("errors",)


def test_baseline_frozen_while_degraded_and_accept_baseline(
    make_tracker, rng: random.Random
) -> None:
    tracker = make_tracker(window_size=500)
    for value in lognormal_stream(rng, 2000):
        tracker.record("op", value)
    before = tracker.baseline("op")
    for value in lognormal_stream(rng, 3000, median=0.2):
        tracker.record("op", value)
    assert tracker.state("op") == "degraded"
    assert tracker.baseline("op") == before  # never absorbed the slowdown
    accepted = tracker.accept_baseline("op")
    assert accepted.p50 == pytest.approx(0.2, rel=0.1)
    assert tracker.state("op") == "ok"


def test_alert_callback_errors_do_not_break_recording(make_tracker, rng, caplog) -> None:
    tracker = make_tracker()

    @tracker.on_alert
    def broken(event: DegradationEvent) -> None:
        raise RuntimeError("callback bug")

    for value in lognormal_stream(rng, 1500) + lognormal_stream(rng, 500, median=0.5):
        tracker.record("op", value)
    assert tracker.state("op") == "degraded"
    assert any("callback" in r.getMessage() for r in caplog.records)


# -- the decorator --------------------------------------------------------------------


def test_decorator_sync_records_and_keeps_signature(make_tracker, clock: FakeClock) -> None:
    tracker = make_tracker()

    @tracker.time_operation("process_document")
    def process(doc: str, *, upper: bool = False) -> str:
        """Docstring kept."""
        clock.advance(0.05)
        return doc.upper() if upper else doc

    assert process("abc", upper=True) == "ABC"
    assert process.__name__ == "process"
    assert process.__doc__ == "Docstring kept."
    assert str(inspect.signature(process)) == "(doc: 'str', *, upper: 'bool' = False) -> 'str'"
    stats = tracker.stats("process_document")
    assert stats["sample_count"] == 1
    assert stats["recent_p50"] == pytest.approx(0.05)


def test_decorator_async_times_the_awaited_run(make_tracker, clock: FakeClock) -> None:
    tracker = make_tracker()

    @tracker.time_operation("process_document")
    async def process(doc: str) -> str:
        clock.advance(0.25)
        await asyncio.sleep(0)
        clock.advance(0.25)
        return doc

    async def scenario() -> str:
        coroutine = process("x")
        clock.advance(10.0)  # time between creating and awaiting the coroutine
        return await coroutine

    assert asyncio.run(scenario()) == "x"
    assert inspect.iscoroutinefunction(process)
    assert tracker.stats("process_document")["recent_p50"] == pytest.approx(0.5)


def test_decorator_default_name_and_bare_form(make_tracker) -> None:
    tracker = make_tracker()

    @tracker.time_operation
    def bare() -> int:
        return 1

    @tracker.time_operation()
    def called() -> int:
        return 2

    assert bare() + called() == 3
    assert tracker.operations() == [
        "test_decorator_default_name_and_bare_form.<locals>.bare",
        "test_decorator_default_name_and_bare_form.<locals>.called",
    ]


def test_decorator_records_exception_and_reraises_unchanged(make_tracker, clock: FakeClock) -> None:
    tracker = make_tracker()
    error = ValueError("bad document")

    @tracker.time_operation("sync_op")
    def fails() -> None:
        clock.advance(0.01)
        raise error

    @tracker.time_operation("async_op")
    async def afails() -> None:
        clock.advance(0.02)
        raise error

    with pytest.raises(ValueError) as raised:
        fails()
    assert raised.value is error
    with pytest.raises(ValueError) as araised:
        asyncio.run(afails())
    assert araised.value is error
    for name, duration in (("sync_op", 0.01), ("async_op", 0.02)):
        stats = tracker.stats(name)
        assert stats["failure_count"] == 1
        assert stats["recent_errors"][0]["metadata"] == {"error": "ValueError"}
        assert stats["recent_errors"][0]["duration"] == pytest.approx(duration)


def test_decorator_detects_async_through_partial(make_tracker) -> None:
    tracker = make_tracker()

    async def fetch(url: str, retries: int) -> str:
        return f"{url}:{retries}"

    wrapped = tracker.time_operation("fetch")(functools.partial(fetch, retries=3))
    assert asyncio.run(wrapped("u")) == "u:3"
    assert tracker.stats("fetch")["sample_count"] == 1


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.001, "0.1", None])
def test_bad_durations_raise_and_record_nothing(make_tracker, bad: object) -> None:
    tracker = make_tracker()
    tracker.record("op", 0.1)
    with pytest.raises(InvalidDurationError) as raised:
        tracker.record("op", bad)  # type: ignore[arg-type]
    assert "op" in str(raised.value)
    assert repr(bad) in str(raised.value)
    assert raised.value.operation == "op"
    assert isinstance(raised.value, PerfguardError)
    assert tracker.stats("op")["sample_count"] == 1


@pytest.mark.parametrize("bad", ["", 42, None, b"op", ("a",)])
def test_bad_names_raise_and_create_nothing(make_tracker, bad: object) -> None:
    tracker = make_tracker()
    with pytest.raises(InvalidOperationNameError) as raised:
        tracker.record(bad, 0.1)  # type: ignore[arg-type]
    assert repr(bad) in str(raised.value)
    with pytest.raises(InvalidOperationNameError):
        tracker.start(bad)  # type: ignore[arg-type]
    assert tracker.operations() == []


# -- persistence ----------------------------------------------------------------------


def test_baselines_survive_a_restart(tmp_path: Path, clock: FakeClock, rng) -> None:
    path = tmp_path / "baselines.json"
    with PerformanceTracker(storage=path, clock=clock, autosave_interval=None) as tracker:
        for value in lognormal_stream(rng, 1200):
            tracker.record("db", value)
        saved = tracker.baseline("db")
    document = json.loads(path.read_text())
    assert document["schema"] == "perfguard.baselines"
    assert document["version"] == 2
    restarted = PerformanceTracker(storage=path, clock=clock, autosave_interval=None)
    assert restarted.operations() == ["db"]
    assert restarted.state("db") == "ok"
    restored = restarted.baseline("db")
    assert saved is not None and restored is not None
    assert restored.p95 == saved.p95
    assert restored.sample_count == saved.sample_count
    restarted.close()


def test_compressed_storage(tmp_path: Path, clock: FakeClock, rng) -> None:
    path = tmp_path / "baselines.json.gz"
    with PerformanceTracker(storage=path, clock=clock, autosave_interval=None) as tracker:
        for value in lognormal_stream(rng, 50):
            tracker.record("db", value)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    reloaded = PerformanceTracker(storage=path, clock=clock, autosave_interval=None)
    assert reloaded.baseline("db") is not None
    reloaded.close()


def test_corrupt_file_is_set_aside_with_one_warning(tmp_path: Path, clock, caplog) -> None:
    path = tmp_path / "baselines.json"
    path.write_text('{"schema": "perfguard.baselines", "version": 1, "operations": {')
    with caplog.at_level(logging.WARNING, logger="perfguard"):
        tracker = PerformanceTracker(storage=path, clock=clock, autosave_interval=None)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert str(path) in warnings[0]
    assert tracker.operations() == []
    aside = list(tmp_path.glob("baselines.json.corrupt-*"))
    assert len(aside) == 1
    assert aside[0].read_text().endswith('"operations": {')  # the original, intact
    tracker.close()


def test_newer_schema_is_refused_and_untouched(tmp_path: Path, clock) -> None:
    path = tmp_path / "baselines.json"
    content = '{"schema": "perfguard.baselines", "version": 99, "operations": {}}'
    path.write_text(content)
    with pytest.raises(IncompatibleStorageError) as raised:
        PerformanceTracker(storage=path, clock=clock, autosave_interval=None)
    assert "99" in str(raised.value)
    assert path.read_text() == content


def test_autosave_is_debounced_and_off_the_hot_path(tmp_path: Path, rng) -> None:
    path = tmp_path / "baselines.json"
    tracker = PerformanceTracker(storage=path, autosave_interval=0.05)
    for value in lognormal_stream(rng, 10):
        tracker.record("db", value)  # establishes the baseline: schedules one save
    assert not path.exists()  # nothing written by record() itself
    tracker.state("db")
    assert tracker.autosaving
    deadline = threading.Event()
    for _ in range(200):  # wait for the background save, up to 10 s
        if path.exists():
            break
        deadline.wait(0.05)
    assert path.exists()
    assert "db" in json.loads(path.read_text())["operations"]
    tracker.close()


def test_retention_drops_operations_not_seen(tmp_path: Path, clock: FakeClock, rng) -> None:
    path = tmp_path / "baselines.json"
    with PerformanceTracker(storage=path, clock=clock, autosave_interval=None) as tracker:
        for value in lognormal_stream(rng, 20):
            tracker.record("old", value)
    clock.advance(3600.0)
    with PerformanceTracker(
        storage=path, clock=clock, autosave_interval=None, retention_seconds=7200
    ) as tracker:
        assert tracker.operations() == ["old"]
        for value in lognormal_stream(rng, 20):
            tracker.record("new", value)
    clock.advance(5400.0)
    with PerformanceTracker(
        storage=path, clock=clock, autosave_interval=None, retention_seconds=7200
    ) as tracker:
        assert tracker.operations() == ["new"]


# -- stress ---------------------------------------------------------------------------


@pytest.mark.stress_test
def test_stress_test_threads_and_tasks_lose_nothing() -> None:
    tracker = PerformanceTracker(autosave_interval=None, window_size=500)
    threads_count, per_thread = 8, 5000
    start = threading.Barrier(threads_count)

    def worker(index: int) -> None:
        local = random.Random(index)
        start.wait()
        for call in range(per_thread):
            name = f"op{call % 4}"
            duration = local.lognormvariate(-4.0, 0.5)
            if call % 3 == 0:
                tracker.record(name, duration, success=call % 9 != 0)
            elif call % 3 == 1:
                with tracker.measure(name):
                    pass
            else:
                tracker.end(tracker.start(name))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()

    async def tasks() -> None:
        @tracker.time_operation("async_op")
        async def unit(i: int) -> int:
            await asyncio.sleep(0)
            if i % 10 == 0:
                raise ValueError(i)
            return i

        async def run(i: int) -> None:
            for j in range(200):
                with contextlib.suppress(ValueError):
                    await unit(i * 1000 + j)

        await asyncio.gather(*(run(i) for i in range(50)))

    asyncio.run(tasks())
    for thread in threads:
        thread.join()
    total = sum(tracker.stats(f"op{k}")["sample_count"] for k in range(4))
    assert total == threads_count * per_thread
    failures = sum(tracker.stats(f"op{k}")["failure_count"] for k in range(4))
    expected_failures = threads_count * sum(
        1 for call in range(per_thread) if call % 3 == 0 and call % 9 == 0
    )
    assert failures == expected_failures
    async_stats = tracker.stats("async_op")
    assert async_stats["sample_count"] == 50 * 200
    assert async_stats["failure_count"] == 50 * 20
