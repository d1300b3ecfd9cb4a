"""Alertmanager sink: each degradation becomes an alert, resolved on recovery.

    from perfguard.alertmanager import AlertmanagerSink

    sink = AlertmanagerSink("http://alertmanager:9093", labels={"service": "checkout"})
    tracker.on_alert(sink)
    ...
    sink.close()            # flushes what is pending, within a deadline

An operation's degradation is posted to Alertmanager's v2 API (`POST /api/v2/alerts`)
as one alert labelled `alertname="PerfguardDegraded"`, `operation`, `kind` (the main
signal: latency, tail or errors) and your `labels`, annotated with the figures
(baseline and current p50/p95/p99, effect, since). Its recovery posts the same labels
with `endsAt` set to the moment of recovery, which resolves it.

While it lasts, the alert is re-sent every `resend_interval` (60 s, Prometheus's own
resend delay) with `endsAt` four intervals ahead, as Prometheus does: Alertmanager keeps
it firing through three lost re-sends, and if this process dies, the alert resolves by
itself four intervals later instead of firing forever (Alertmanager's resolve_timeout
does not apply to alerts that carry an endsAt).

Nothing is sent from the thread that recorded the call: `sink(event)` only puts the
event in a bounded queue (`queue_size`); a background thread posts, retrying failures
(network errors, 5xx, 429) with exponential backoff up to `max_backoff`. When the
queue is full the event is dropped, counted in `sink.dropped` and logged. Only the
standard library is used (urllib).
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from . import _hooks
from ._errors import ConfigurationError
from ._events import DegradationEvent

__all__ = ["AlertmanagerSink"]

logger = logging.getLogger("perfguard")
RESERVED = frozenset({"alertname", "operation", "kind"})
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_STOP = object()
Alert = dict[str, Any]


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds")


def _text(value: str) -> str:
    """Valid UTF-8 for the JSON body, whatever the name holds (lone surrogates)."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _seconds(value: float) -> str:
    return f"{value:.6g}s"


def annotations_of(event: DegradationEvent) -> dict[str, str]:
    notes = {"summary": _text(event.describe()), "signals": ",".join(event.signals)}
    for side, figures in (("baseline", event.baseline), ("current", event.current)):
        for key in ("p50", "p95", "p99"):
            if key in figures:
                notes[f"{side}_{key}"] = _seconds(figures[key])
        if "error_rate" in figures:
            notes[f"{side}_error_rate"] = f"{figures['error_rate']:.4g}"
    notes["effect"] = f"x{event.effect_ratio:.3g}"
    notes["since"] = rfc3339(event.started_at_time)
    notes["since_sample"] = str(event.started_at_sample)
    return notes


class Outbox:
    """What has to be told to Alertmanager, by operation: the firing alerts (re-sent
    periodically) and the posts not yet accepted. No I/O, no clock: times are passed in,
    so the rules are tested on their own."""

    def __init__(
        self,
        labels: Mapping[str, str],
        alertname: str,
        resend_interval: float,
        generator_url: str | None,
    ) -> None:
        self._labels = dict(labels)
        self._alertname = alertname
        self._interval = resend_interval
        self._generator_url = generator_url
        self.active: dict[str, Alert] = {}
        self.pending: dict[str, Alert] = {}

    def labels_of(self, event: DegradationEvent) -> dict[str, str]:
        return {
            **self._labels,
            "alertname": self._alertname,
            "operation": _text(event.operation),
            "kind": event.signal,
        }

    def apply(self, event: DegradationEvent, now: float) -> None:
        key = event.operation
        if event.kind == "degraded":
            previous = self.active.get(key)
            alert = {
                "labels": self.labels_of(event),
                "annotations": annotations_of(event),
                "startsAt": rfc3339(min(event.started_at_time, now)),
                "endsAt": rfc3339(now + 4 * self._interval),
            }
            if self._generator_url:
                alert["generatorURL"] = self._generator_url
            if previous is not None and previous["labels"] != alert["labels"]:
                # another main signal: the old alert ends, the new one starts
                self.pending[f"{key}\0ended"] = {**previous, "endsAt": rfc3339(now)}
            elif previous is not None:
                # the same alert, worse (a signal added, 2x slower again): it began when
                # the episode did, and its annotations say what it is now
                alert["startsAt"] = previous["startsAt"]
            self.active[key] = self.pending[key] = alert
            return
        firing = self.active.pop(key, None)
        if firing is None:  # the sink was attached after the degradation began
            firing = {
                "labels": self.labels_of(event),
                "startsAt": rfc3339(min(event.started_at_time, now)),
            }
        annotations = {**firing.get("annotations", {}), "recovered": _text(event.describe())}
        self.pending[key] = {**firing, "annotations": annotations, "endsAt": rfc3339(now)}

    def resend(self, now: float) -> None:
        """Every firing alert again, valid for four more intervals."""
        for key, alert in self.active.items():
            alert["endsAt"] = rfc3339(now + 4 * self._interval)
            self.pending.setdefault(key, alert)

    def batch(self) -> list[Alert]:
        return list(self.pending.values())

    def delivered(self, batch: list[Alert]) -> None:
        """The posted alerts were accepted: forget those not replaced meanwhile."""
        sent = {id(alert) for alert in batch}
        for key in [k for k, alert in self.pending.items() if id(alert) in sent]:
            del self.pending[key]


class DeliveryError(Exception):
    def __init__(self, reason: str, retry: bool) -> None:
        super().__init__(reason)
        self.retry = retry


def post_alerts(url: str, alerts: list[Alert], timeout: float) -> None:
    """POST the alerts; DeliveryError(retry=...) when Alertmanager did not accept them."""
    body = json.dumps(alerts).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:200].decode("utf-8", "replace")
        retry = exc.code >= 500 or exc.code == 429
        raise DeliveryError(f"HTTP {exc.code}: {detail}", retry) from None
    except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections
        raise DeliveryError(str(exc), True) from None


def alerts_url(url: str) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigurationError("url", url, "an http(s) URL of Alertmanager")
    base = url.rstrip("/")
    return base if base.endswith("/api/v2/alerts") else f"{base}/api/v2/alerts"


def checked_labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    result = {}
    for name, value in (labels or {}).items():
        if not isinstance(name, str) or not _LABEL_NAME.fullmatch(name) or name in RESERVED:
            raise ConfigurationError(
                "labels", name, f"a label name other than {sorted(RESERVED)}, [a-zA-Z_]\\w*"
            )
        if not isinstance(value, str) or not value:
            raise ConfigurationError(f"labels[{name!r}]", value, "a non-empty str")
        result[name] = value
    return result


def _positive(setting: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigurationError(setting, value, "a positive number of seconds")
    return float(value)


class AlertmanagerSink:
    """An alert sink (`tracker.on_alert(sink)`) that posts to Alertmanager from a thread.

    dropped: events dropped because the queue was full (or the sink closed).
    delivered: alerts Alertmanager accepted (firing, re-sent and resolved ones).
    failed_posts: posts that failed (each retried unless Alertmanager refused it as bad).
    """

    def __init__(
        self,
        url: str,
        labels: Mapping[str, str] | None = None,
        *,
        alertname: str = "PerfguardDegraded",
        resend_interval: float = 60.0,
        queue_size: int = 1000,
        timeout: float = 5.0,
        max_backoff: float = 60.0,
        generator_url: str | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.url = alerts_url(url)
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise ConfigurationError("queue_size", queue_size, "an int >= 1")
        if not isinstance(alertname, str) or not alertname:
            raise ConfigurationError("alertname", alertname, "a non-empty str")
        self.resend_interval = _positive("resend_interval", resend_interval)
        self.timeout = _positive("timeout", timeout)
        self.max_backoff = _positive("max_backoff", max_backoff)
        self._outbox = Outbox(checked_labels(labels), alertname, resend_interval, generator_url)
        self._wall = wall
        self._queue_size = queue_size
        self.dropped = 0
        self.delivered = 0
        self.failed_posts = 0
        self._closed = False
        self._start()
        _hooks.after_fork_in_child.register(self, AlertmanagerSink._start)
        _hooks.at_exit.register(self, lambda sink: sink.close(timeout=2.0))

    def _start(self) -> None:
        self._queue: queue.Queue[object] = queue.Queue(self._queue_size)
        self._lock = threading.Lock()
        self._dropping = False
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="perfguard-alertmanager")
        self._thread.daemon = True
        self._thread.start()

    def __call__(self, event: DegradationEvent) -> None:
        """Enqueue only; never blocks, never raises into the recording thread."""
        try:
            if self._closed:
                raise queue.Full
            self._queue.put_nowait(event)
        except queue.Full:
            with self._lock:
                self.dropped += 1
                first = not self._dropping
                self._dropping = True
            if first:
                logger.warning(
                    "perfguard Alertmanager sink dropped the %s event of %s: %s (%d dropped)",
                    event.kind,
                    event.operation,
                    "the sink is closed" if self._closed else "its queue is full",
                    self.dropped,
                )
            return
        self._dropping = False

    def close(self, timeout: float = 5.0) -> None:
        """Post what is pending (retrying until `timeout` seconds have passed), then stop."""
        if self._closed:
            return
        self._closed = True
        self._deadline = time.monotonic() + timeout
        self._closing.set()
        with contextlib.suppress(queue.Full):  # wakes the worker; if full, it drains first
            self._queue.put_nowait(_STOP)
        self._thread.join(timeout + 1.0)

    def __enter__(self) -> AlertmanagerSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the worker thread ---------------------------------------------------------------

    def _run(self) -> None:
        outbox = self._outbox
        next_resend = time.monotonic() + self.resend_interval
        retry_at = 0.0
        backoff = 0.0
        while True:
            closing = self._closing.is_set()
            now = time.monotonic()
            due = min(next_resend, retry_at) if outbox.pending else next_resend
            wait = 0.05 if closing else max(0.0, due - now)
            self._take(wait)
            now = time.monotonic()
            if now >= next_resend:
                outbox.resend(self._wall())
                next_resend = now + self.resend_interval
            if outbox.pending and now >= retry_at:
                if self._send(outbox):
                    backoff = 0.0
                else:
                    backoff = min(self.max_backoff, max(0.5, backoff * 2))
                    retry_at = now + backoff
            if closing and self._queue.empty():
                if not outbox.pending or time.monotonic() >= self._deadline:
                    if outbox.pending:
                        logger.warning(
                            "perfguard Alertmanager sink closed with %d alerts not delivered",
                            len(outbox.pending),
                        )
                    return
                retry_at = min(retry_at, time.monotonic() + 0.1)

    def _take(self, wait: float) -> None:
        """Apply the queued events: wait up to `wait` for the first, then take the rest."""
        try:
            item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
        except queue.Empty:
            return
        while True:
            if isinstance(item, DegradationEvent):
                try:
                    self._outbox.apply(item, self._wall())
                except Exception:  # a malformed event must not stop the sink
                    logger.exception("perfguard Alertmanager sink could not use %r", item)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return

    def _send(self, outbox: Outbox) -> bool:
        batch = outbox.batch()
        try:
            post_alerts(self.url, batch, self.timeout)
        except DeliveryError as exc:
            self.failed_posts += 1
            if not exc.retry:
                logger.error("Alertmanager refused %d alerts, dropped: %s", len(batch), exc)
                outbox.delivered(batch)
                return True
            if self.failed_posts == 1 or not self._failing:
                logger.warning("perfguard could not post alerts to %s: %s", self.url, exc)
            self._failing = True
            return False
        if self._failing:
            logger.info("perfguard posts alerts to %s again", self.url)
        self._failing = False
        outbox.delivered(batch)
        self.delivered += len(batch)
        return True

    _failing = False
