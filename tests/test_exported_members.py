"""The public names of perfguard are pinned: adding or removing one is a decision."""

from __future__ import annotations

import perfguard
import perfguard.types

PUBLIC = {
    "AlertSink",
    "Baseline",
    "BaselineStore",
    "Clock",
    "CombineReport",
    "ConfigurationError",
    "DegradationEvent",
    "DetectorSettings",
    "IncompatibleStorageError",
    "InvalidArgumentError",
    "InvalidDurationError",
    "InvalidInputError",
    "InvalidOperationNameError",
    "JsonFileStore",
    "LogSketch",
    "MergeableStore",
    "OperationSnapshot",
    "OperationStats",
    "PerfguardError",
    "PerformanceTracker",
    "Recorder",
    "RedisStore",
    "ShardStore",
    "SketchDelta",
    "StorageError",
    "SystemClock",
    "Timer",
    "TimerAlreadyEndedError",
    "TooManyOpenTimersError",
    "TrackerConfig",
    "UnknownOperationError",
    "UnknownTimerError",
    "__version__",
}


def test_all_lists_exactly_the_public_names() -> None:
    assert set(perfguard.__all__) == PUBLIC
    assert len(perfguard.__all__) == len(PUBLIC)  # no name twice


def test_every_public_name_resolves_and_says_where_it_lives() -> None:
    for name in perfguard.__all__:
        member = getattr(perfguard, name)
        if name != "__version__":
            assert member.__module__.startswith("perfguard"), name
            assert member.__doc__, f"{name} has no docstring"


def test_redis_store_is_the_one_the_redis_url_builds() -> None:
    from perfguard._stores.redis_fleet import RedisStore

    assert perfguard.RedisStore is RedisStore


def test_unknown_attributes_are_attribute_errors() -> None:
    try:
        perfguard.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("perfguard.NoSuchThing resolved")


def test_the_contracts_module_exports_its_protocols() -> None:
    assert set(perfguard.types.__all__) == {
        "AlertSink",
        "BaselineStore",
        "Clock",
        "MergeableStore",
        "Recorder",
    }
    for name in perfguard.types.__all__:
        assert getattr(perfguard, name) is getattr(perfguard.types, name)
