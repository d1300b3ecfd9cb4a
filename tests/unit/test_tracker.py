"""The PerformanceTracker facade (_tracker.py): config= against keywords, close(), the
storage properties, and the duration checks of record()."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from perfguard import (
    Baseline,
    ConfigurationError,
    InvalidDurationError,
    JsonFileStore,
    PerformanceTracker,
    TrackerConfig,
)
from perfguard.testing import FakeClock


class CountingStore:
    """A minimal BaselineStore that keeps what it was given and counts the saves."""

    location = "memory://counting"

    def __init__(self) -> None:
        self.saved: list[dict[str, Baseline]] = []

    def load(self) -> dict[str, Baseline]:
        return {}

    def save(self, baselines: Mapping[str, Baseline]) -> None:
        self.saved.append(dict(baselines))


def establish(tracker: PerformanceTracker, name: str = "op") -> None:
    for index in range(20):
        tracker.record(name, 0.01 + index * 0.0001)
    assert tracker.baseline(name) is not None


# -- config= and keywords --------------------------------------------------------------


def test_a_keyword_that_contradicts_config_is_refused_naming_both_values() -> None:
    config = TrackerConfig(window_size=500, autosave_interval=None)
    with pytest.raises(ConfigurationError) as info:
        PerformanceTracker(config=config, window_size=200)
    assert info.value.setting == "window_size" and info.value.value == 200
    assert "window_size=200" in str(info.value) and "window_size=500" in str(info.value)


@pytest.mark.parametrize(
    "keywords",
    [
        {},
        {"window_size": 500},  # the same value as the config: no conflict
        {"window_size": 1000},  # the default: defers to the config
        {"autosave_interval": 5.0, "max_operations": 100_000},  # defaults too
        {"threshold": "p95", "std_multiplier": 3.0},  # as configured
    ],
    ids=["none", "same", "default", "defaults", "consistent"],
)
def test_consistent_or_default_keywords_defer_to_config(keywords: dict[str, object]) -> None:
    config = TrackerConfig(
        window_size=500, threshold="p95", std_multiplier=3.0, autosave_interval=None
    )
    tracker = PerformanceTracker(config=config, **keywords)  # type: ignore[arg-type]
    assert tracker.config is config
    assert not tracker.autosaving


def test_a_config_that_is_not_a_tracker_config_is_refused() -> None:
    with pytest.raises(ConfigurationError) as info:
        PerformanceTracker(config={"window_size": 10})  # type: ignore[arg-type]
    assert info.value.setting == "config"


def test_keywords_alone_build_the_config() -> None:
    tracker = PerformanceTracker(window_size=50, min_samples=5, autosave_interval=None)
    assert tracker.config == TrackerConfig(window_size=50, min_samples=5, autosave_interval=None)


# -- close() -----------------------------------------------------------------------------


def test_close_without_saving_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    tracker = PerformanceTracker(storage=path, autosave_interval=None, clock=FakeClock())
    establish(tracker)
    tracker.close(save=False)
    assert not path.exists()
    tracker.close()  # closed: a later close() saves nothing either
    assert not path.exists()


def test_close_saves_once_and_is_idempotent() -> None:
    store = CountingStore()
    tracker = PerformanceTracker(storage=store, autosave_interval=None, clock=FakeClock())
    establish(tracker)
    tracker.close()
    tracker.close()
    assert len(store.saved) == 1
    assert set(store.saved[0]) == {"op"}


def test_close_save_false_on_a_custom_store_calls_no_save() -> None:
    store = CountingStore()
    tracker = PerformanceTracker(storage=store, autosave_interval=None, clock=FakeClock())
    establish(tracker)
    tracker.close(save=False)
    assert store.saved == []


def test_the_context_manager_closes_and_saves(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    with PerformanceTracker(storage=path, autosave_interval=None, clock=FakeClock()) as tracker:
        establish(tracker)
        assert not path.exists()
    assert set(JsonFileStore(path).load()) == {"op"}


# -- storage properties ------------------------------------------------------------------


def test_in_memory_tracker_has_no_store() -> None:
    tracker = PerformanceTracker(clock=FakeClock())  # default autosave_interval, no storage
    assert tracker.store is None
    assert tracker.storage_location is None
    assert not tracker.autosaving
    tracker.close()


def test_a_path_becomes_a_json_file_store(tmp_path: Path) -> None:
    path = tmp_path / "b.json.gz"
    tracker = PerformanceTracker(storage=path, autosave_interval=None)
    assert isinstance(tracker.store, JsonFileStore)
    assert tracker.store.path == path and tracker.store.compressed
    assert tracker.storage_location == str(path)
    assert not tracker.autosaving  # autosave_interval=None: only save() and close()
    tracker.close(save=False)


def test_autosaving_while_open_with_storage_and_an_interval(tmp_path: Path) -> None:
    tracker = PerformanceTracker(storage=tmp_path / "b.json", autosave_interval=60.0)
    assert tracker.autosaving
    tracker.close(save=False)
    assert not tracker.autosaving


def test_a_given_store_is_used_as_is() -> None:
    store = CountingStore()
    tracker = PerformanceTracker(storage=store, autosave_interval=None)
    assert tracker.store is store
    assert tracker.storage_location == "memory://counting"
    tracker.close(save=False)


def test_the_clock_is_the_injected_one() -> None:
    clock = FakeClock()
    tracker = PerformanceTracker(autosave_interval=None, clock=clock)
    assert tracker.clock is clock
    start = clock.perf()
    timer_id = tracker.start("op")
    clock.advance(0.25)
    assert tracker.end(timer_id) == pytest.approx(0.25)
    assert clock.perf() == start + 0.25


# -- record() ----------------------------------------------------------------------------


def test_huge_or_infinite_durations_are_refused_and_change_nothing() -> None:
    tracker = PerformanceTracker(autosave_interval=None)
    tracker.record("op", 0.01)
    for bad in (10**400, 1e300, float("inf")):
        with pytest.raises(InvalidDurationError):
            tracker.record("op", bad)
    stats = tracker.stats("op")
    assert stats["sample_count"] == 1 and stats["window_count"] == 1


@pytest.mark.parametrize("bad", [True, False, -1e-9, float("nan"), "0.1", None, 1e12])
def test_record_refuses_what_is_not_a_duration(bad: object) -> None:
    tracker = PerformanceTracker(autosave_interval=None)
    with pytest.raises(InvalidDurationError) as info:
        tracker.record("op", bad)  # type: ignore[arg-type]
    assert info.value.operation == "op" and info.value.value is bad
    assert tracker.operations() == []  # refused before the operation is created


def test_record_accepts_zero_ints_and_durations_just_below_the_limit() -> None:
    tracker = PerformanceTracker(autosave_interval=None)
    for duration in (0, 0.0, 2, 1e12 - 1):
        tracker.record("op", duration)
    assert tracker.stats("op")["sample_count"] == 4
