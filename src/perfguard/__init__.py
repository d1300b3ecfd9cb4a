"""perfguard: time named operations, learn their baselines, report real degradation.

from perfguard import PerformanceTracker

tracker = PerformanceTracker(storage="baselines.json")

@tracker.time_operation("load_user")
async def load_user(user_id): ...
"""

from typing import TYPE_CHECKING, Any

from ._baseline import Baseline
from ._clock import SystemClock
from ._config import TrackerConfig
from ._detect import DetectorSettings
from ._errors import (
    ConfigurationError,
    IncompatibleStorageError,
    InvalidArgumentError,
    InvalidDurationError,
    InvalidInputError,
    InvalidOperationNameError,
    PerfguardError,
    StorageError,
    TimerAlreadyEndedError,
    TooManyOpenTimersError,
    UnknownOperationError,
    UnknownTimerError,
)
from ._events import DegradationEvent
from ._sketch import LogSketch, SketchDelta
from ._stores import CombineReport, JsonFileStore, ShardStore
from ._timing import Timer
from ._tracker import PerformanceTracker
from ._version import __version__
from ._views import OperationSnapshot, OperationStats
from .types import AlertSink, BaselineStore, Clock, MergeableStore, Recorder

if TYPE_CHECKING:
    from ._stores.redis_fleet import RedisStore


def __getattr__(name: str) -> Any:
    """`RedisStore` is imported on first use: it needs the optional `redis` package, and
    `import perfguard` must pull in nothing beyond the standard library."""
    if name == "RedisStore":
        from ._stores.redis_fleet import RedisStore

        return RedisStore
    raise AttributeError(f"module 'perfguard' has no attribute {name!r}")


__all__ = [
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
]
