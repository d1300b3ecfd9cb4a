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
from ._protocols import AlertSink, BaselineStore, Clock
from ._timing import Timer
from ._tracker import PerformanceTracker
from ._version import __version__

__all__ = [
    "AlertSink",
    "Baseline",
    "BaselineStore",
    "Clock",
    "ConfigurationError",
    "DegradationEvent",
    "DetectorSettings",
    "IncompatibleStorageError",
    "InvalidDurationError",
    "InvalidInputError",
    "InvalidOperationNameError",
    "JsonFileStore",
    "PerfguardError",
    "PerformanceTracker",
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
