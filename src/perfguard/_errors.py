"""The one error root of perfguard and its specific subclasses.

Every error names the offending value and, where there is one, the operation, so a
log line alone says what went wrong. Input errors are raised before any state changes.
"""

from __future__ import annotations

from typing import Any


class PerfguardError(Exception):
    """Root of every error perfguard raises on purpose."""


class InvalidInputError(PerfguardError, ValueError):
    """A value handed to perfguard is unusable; nothing was recorded."""

    def __init__(self, message: str, *, operation: str | None, value: Any) -> None:
        super().__init__(message)
        self.operation = operation
        self.value = value


class InvalidOperationNameError(InvalidInputError):
    """An operation name that is not a non-empty string."""

    def __init__(self, value: Any) -> None:
        super().__init__(
            f"operation name must be a non-empty str, got {value!r}",
            operation=None,
            value=value,
        )


class InvalidDurationError(InvalidInputError):
    """A duration that is NaN, infinite, negative or not a real number."""

    def __init__(self, operation: str, value: Any) -> None:
        super().__init__(
            f"invalid duration for operation {operation!r}: {value!r} "
            "(expected a finite, non-negative number of seconds, below 1e12)",
            operation=operation,
            value=value,
        )


class InvalidArgumentError(InvalidInputError):
    """`success` that is not a bool, `metadata` that is not a mapping."""

    def __init__(self, operation: str | None, argument: str, value: Any, expected: str) -> None:
        where = f" for {operation!r}" if operation is not None else ""
        super().__init__(
            f"{argument}{where} must be {expected}, got {value!r}",
            operation=operation,
            value=value,
        )


class UnknownTimerError(InvalidInputError):
    """A timer id this tracker never issued."""

    def __init__(self, timer_id: Any) -> None:
        super().__init__(
            f"unknown timer id {timer_id!r}: it was not issued by this tracker",
            operation=None,
            value=timer_id,
        )


class TimerAlreadyEndedError(InvalidInputError):
    """A timer id that was issued and has already been ended."""

    def __init__(self, timer_id: Any) -> None:
        super().__init__(
            f"timer id {timer_id!r} has already been ended",
            operation=None,
            value=timer_id,
        )


class TooManyOpenTimersError(InvalidInputError):
    """More timers are open at once than the configured cap allows (a leak). No longer
    raised: the oldest open timer is abandoned instead (tracker.abandoned_timers); kept
    so code that catches it still imports."""

    def __init__(self, operation: str, limit: int) -> None:
        super().__init__(
            f"cannot start a timer for operation {operation!r}: {limit} timers are "
            "already open (are end_operation() calls missing?)",
            operation=operation,
            value=limit,
        )


class UnknownOperationError(PerfguardError, KeyError):
    """An operation that has never recorded a sample."""

    def __init__(self, operation: Any) -> None:
        super().__init__(f"unknown operation {operation!r}: it has no recorded samples")
        self.operation = operation
        self.value = operation

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class ConfigurationError(PerfguardError, ValueError):
    """A tracker setting outside its allowed range."""

    def __init__(self, setting: str, value: Any, expected: str) -> None:
        super().__init__(f"invalid setting {setting}={value!r}: expected {expected}")
        self.setting = setting
        self.value = value


class StorageError(PerfguardError, OSError):
    """A baseline file could not be read or written."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"baseline storage {path!r}: {reason}")
        self.path = path
        self.reason = reason


class IncompatibleStorageError(StorageError):
    """A baseline file written by a newer perfguard; it is left untouched."""
