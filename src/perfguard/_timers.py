"""Timers of the start()/end() API: ids, open timers and their cap (the oldest open
timer is abandoned to make room; ending it later is TimerAlreadyEndedError).

An id is "<token>-<n>": the random token tells this tracker's ids from others', the
number tells an id that was issued and already ended from one never issued.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Mapping
from typing import Any

from ._errors import (
    InvalidOperationNameError,
    PerfguardError,
    TimerAlreadyEndedError,
    UnknownTimerError,
)

OpenTimer = tuple[str, float, Mapping[str, Any] | None]  # name, start, metadata


class TimerBook:
    """Open timers of one tracker (at most `limit`)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._token = secrets.token_hex(4)
        self._issued = 0
        self._issue_lock = threading.Lock()
        self._open: dict[str, OpenTimer] = {}
        self.abandoned = 0  # open timers closed at the cap to make room

    def start(self, name: str, started: float, metadata: Mapping[str, Any] | None) -> str:
        if not isinstance(name, str) or not name:
            raise InvalidOperationNameError(name)
        if len(self._open) >= self._limit:
            # At the cap the oldest open timer is abandoned (a cancelled task leaves its
            # timer open forever): start() never raises into the request path for what
            # another caller forgot. Counted in tracker.abandoned_timers.
            with contextlib.suppress(StopIteration, KeyError, RuntimeError):
                del self._open[next(iter(self._open))]
                self.abandoned += 1
        with self._issue_lock:
            number = self._issued
            self._issued = number + 1
        timer_id = f"{self._token}-{number}"
        self._open[timer_id] = (name, started, metadata)
        return timer_id

    def name_of(self, timer_id: object) -> str | None:
        """The operation of an open timer, None when the id is not one (finish() says why)."""
        try:
            entry = self._open.get(timer_id)  # type: ignore[call-overload]
        except TypeError:
            return None
        return None if entry is None else entry[0]

    def finish(self, timer_id: str) -> OpenTimer:
        """Close a timer; UnknownTimerError or TimerAlreadyEndedError naming the id."""
        try:
            entry = self._open.pop(timer_id, None)
        except TypeError:
            raise UnknownTimerError(timer_id) from None
        if entry is None:
            raise self._error_for(timer_id)
        return entry

    def _error_for(self, timer_id: object) -> PerfguardError:
        if isinstance(timer_id, str):
            token, _, number = timer_id.partition("-")
            ours = token == self._token and number.isascii() and number.isdigit()
            # an id of 20 digits or more was never issued (and int() of a huge one raises)
            if ours and len(number) < 20 and int(number) < self._issued:
                return TimerAlreadyEndedError(timer_id)
        return UnknownTimerError(timer_id)

    def renew_after_fork(self) -> None:
        self._issue_lock = threading.Lock()
