"""perfguard: time named operations, learn their baselines, report real degradation.

from perfguard import PerformanceTracker

tracker = PerformanceTracker(storage="baselines.json")

@tracker.time_operation("load_user")
async def load_user(user_id): ...
"""

from ._baseline import Baseline
from ._clock import SystemClock
from ._config import TrackerConfig
from ._detect import DetectorSettings
from ._errors import (
    ConfigurationError,
    IncompatibleStorageError,
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
from ._json_store import JsonFileStore
from ._protocols import AlertSink, BaselineStore, Clock, MergeableStore
from ._shards import CombineReport, ShardStore
from ._sketch import LogSketch, SketchDelta
from ._timing import Timer
from ._tracker import PerformanceTracker
from ._version import __version__

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
    "InvalidDurationError",
    "InvalidInputError",
    "InvalidOperationNameError",
    "JsonFileStore",
    "LogSketch",
    "MergeableStore",
    "PerfguardError",
    "PerformanceTracker",
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
