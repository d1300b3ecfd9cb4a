"""TrackerConfig validation: every bad setting raises ConfigurationError naming it."""

from __future__ import annotations

import math
from typing import Any

import pytest

from perfguard import ConfigurationError, PerfguardError, PerformanceTracker, TrackerConfig

BAD_SETTINGS: list[tuple[str, Any]] = [
    ("window_size", 1),
    ("window_size", 0),
    ("window_size", -5),
    ("window_size", 10_000_001),
    ("window_size", 100.0),
    ("window_size", True),
    ("window_size", "100"),
    ("window_size", None),
    ("min_samples", 1),
    ("min_samples", 1001),  # above the default window_size
    ("min_samples", 10.0),
    ("min_samples", True),
    ("threshold", "p99"),
    ("threshold", "STDDEV"),
    ("threshold", ""),
    ("threshold", None),
    ("std_multiplier", 0),
    ("std_multiplier", -1.5),
    ("std_multiplier", math.nan),
    ("std_multiplier", math.inf),
    ("std_multiplier", True),
    ("std_multiplier", "2"),
    ("std_multiplier", None),
    ("retention_seconds", 0),
    ("retention_seconds", -60.0),
    ("retention_seconds", math.nan),
    ("retention_seconds", math.inf),
    ("retention_seconds", False),
    ("retention_seconds", "1h"),
    ("autosave_interval", 0.0),
    ("autosave_interval", -1),
    ("autosave_interval", math.nan),
    ("autosave_interval", math.inf),
    ("autosave_interval", True),
    ("warning_burst", 0),
    ("warning_burst", 1_000_001),
    ("warning_burst", 2.0),
    ("warning_burst", True),
    ("warning_interval", 0),
    ("warning_interval", -1.0),
    ("warning_interval", math.nan),
    ("warning_interval", None),
    ("max_open_timers", 0),
    ("max_open_timers", 100_000_001),
    ("max_open_timers", 10.0),
    ("exemplars", -1),
    ("exemplars", 1001),
    ("exemplars", 5.0),
    ("batch_size", 0),
    ("batch_size", 100_001),
    ("batch_size", None),
    ("improvement_ratio", 0),
    ("improvement_ratio", 1),
    ("improvement_ratio", 1.5),
    ("improvement_ratio", -0.1),
    ("improvement_ratio", math.nan),
    ("improvement_ratio", True),
]


def _assert_names(exc: ConfigurationError, setting: str, value: Any) -> None:
    assert exc.setting == setting
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(exc.value)
    else:
        assert exc.value is value
    assert f"{setting}={value!r}" in str(exc)


@pytest.mark.parametrize(("setting", "value"), BAD_SETTINGS, ids=lambda v: repr(v))
def test_bad_setting_raises_configuration_error_naming_it(setting: str, value: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        TrackerConfig(**{setting: value})
    _assert_names(info.value, setting, value)
    assert isinstance(info.value, PerfguardError)
    assert isinstance(info.value, ValueError)


def test_min_samples_is_bounded_by_window_size() -> None:
    assert TrackerConfig(window_size=50, min_samples=50).min_samples == 50
    with pytest.raises(ConfigurationError) as info:
        TrackerConfig(window_size=50, min_samples=51)
    _assert_names(info.value, "min_samples", 51)
    assert "[2, 50]" in str(info.value)


def test_defaults_and_boundary_values_are_accepted() -> None:
    TrackerConfig()
    TrackerConfig(
        window_size=2,
        min_samples=2,
        threshold="p95",
        std_multiplier=1e-9,
        retention_seconds=None,
        autosave_interval=None,
        warning_burst=1,
        warning_interval=0.001,
        max_open_timers=1,
        exemplars=0,
        batch_size=1,
        improvement_ratio=0.999,
    )
    TrackerConfig(
        window_size=10_000_000,
        warning_burst=1_000_000,
        max_open_timers=100_000_000,
        exemplars=1000,
        batch_size=100_000,
        retention_seconds=1,
        autosave_interval=0.5,
    )


def test_config_is_frozen() -> None:
    config = TrackerConfig()
    with pytest.raises(AttributeError):
        config.window_size = 5  # type: ignore[misc]


TRACKER_BAD_ARGUMENTS: list[tuple[str, Any]] = [
    ("window_size", 1),
    ("min_samples", 1),
    ("threshold", "median"),
    ("std_multiplier", 0.0),
    ("std_multiplier", math.inf),
    ("retention_seconds", -1.0),
    ("autosave_interval", 0),
]


@pytest.mark.parametrize(("setting", "value"), TRACKER_BAD_ARGUMENTS, ids=lambda v: repr(v))
def test_tracker_arguments_are_validated(setting: str, value: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        PerformanceTracker(**{setting: value})
    _assert_names(info.value, setting, value)


def test_tracker_min_samples_above_window_size(tmp_path) -> None:
    path = tmp_path / "never.json"
    with pytest.raises(ConfigurationError) as info:
        PerformanceTracker(storage=path, window_size=10, min_samples=11)
    _assert_names(info.value, "min_samples", 11)
    assert not path.exists()


def test_tracker_uses_a_given_config(make_tracker) -> None:
    config = TrackerConfig(window_size=20, min_samples=3, autosave_interval=None)
    tracker = make_tracker(config=config)
    assert tracker.config is config
