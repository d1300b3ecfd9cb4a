"""Persistence, one strategy chosen when the tracker is built (as prometheus_client's
`values.get_value_class()` chooses once), so nothing else tests which kind of store it
has:

- `InMemory`: no storage; save and refresh do nothing.
- `BaselineFile`: a `BaselineStore` (the JSON file) is written every baseline,
  debounced: a save only when a baseline changed.
- `SharedSketches`: a `MergeableStore` (shards, Redis) is fed what each operation
  recorded since the last flush, every interval, and read back for the fleet's baselines.

Both also write the process's status record (_status.py) when their store keeps one:
the JSON file with every save (and the saver saves once a minute while calls come in,
so the record's minutes stay current), a shared store at most every STATUS_EVERY seconds
in the background unless a state changed, and at every explicit save.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ._baseline import Baseline
from ._clock import SYSTEM_CLOCK
from ._registry import OperationRegistry
from ._sketch import DEFAULT_SCALE, SketchDelta
from ._stores import AnyStore, make_store
from ._stores.contributions import Share
from .types import BaselineStore, Clock, MergeableStore

StatusSource = Callable[[], dict[str, Any]]
STATUS_EVERY = 10.0  # seconds between a shared store's status writes in the background


class Persistence:
    """The interface, and the strategy for no storage at all (everything a no-op)."""

    periodic = False  # True: flush every interval; False: save when a baseline changed
    sketch_scale: int | None = None  # operations keep a sketch at this scale when set
    location: str | None = None
    store: AnyStore | None = None

    def __init__(self) -> None:
        self._save_lock = threading.Lock()
        self._calls_at_status = 0  # calls of every operation when the status was written

    def load(self) -> Mapping[str, Baseline]:
        return {}

    def save(
        self,
        registry: OperationRegistry,
        cutoff: float | None,
        status: StatusSource | None = None,
        *,
        background: bool = False,
    ) -> None:
        return None

    def status_stale(self, registry: OperationRegistry) -> bool:
        """Whether calls were recorded since the status record was last written."""
        return self.keeps_status and _total_calls(registry) != self._calls_at_status

    @property
    def keeps_status(self) -> bool:
        return False

    def refresh(self, registry: OperationRegistry) -> int:
        """Adopt the stored baselines where an operation is healthy; how many were."""
        return sum(registry.adopt(name, b) for name, b in self.load().items())

    def renew_after_fork(self, registry: OperationRegistry) -> None:
        self._save_lock = threading.Lock()


class InMemory(Persistence):
    """No storage: the interface's do-nothing defaults."""


class BaselineFile(Persistence):
    """Baselines written to a file: merged with the other processes sharing the path
    when the store can (`shares_path`, the JSON file), else written whole."""

    def __init__(self, store: BaselineStore) -> None:
        super().__init__()
        self.store = self._file = store
        self.location = store.location
        self._shares_path = bool(getattr(store, "shares_path", False))
        # calls each operation had when this process was forked: its parent's to count
        self._calls_before_fork: dict[str, int] = {}

    def load(self) -> Mapping[str, Baseline]:
        return self._file.load()

    @property
    def keeps_status(self) -> bool:
        return self._shares_path

    def save(
        self,
        registry: OperationRegistry,
        cutoff: float | None,
        status: StatusSource | None = None,
        *,
        background: bool = False,
    ) -> None:
        with self._save_lock:
            if not self._shares_path:
                self._file.save(snapshot_baselines(registry, cutoff))
                return
            calls = _total_calls(registry)
            record = status() if status is not None else None
            before = self._calls_before_fork
            # an operation this process only restored (no calls) is in the file already
            accepted = dict(registry.each_absorbed(lambda op: op.accepted_at))
            shares = {
                name: Share(baseline, calls - before.get(name, 0), accepted.get(name, 0.0))
                for name, (baseline, calls) in _baselines_and_calls(registry, cutoff).items()
                if calls > before.get(name, 0) or accepted.get(name, 0.0)
            }
            self._file.save_shares(shares, cutoff, record)  # type: ignore[attr-defined]
            if record is not None:
                self._calls_at_status = calls

    def renew_after_fork(self, registry: OperationRegistry) -> None:
        super().renew_after_fork(registry)
        self._calls_before_fork = {
            name: calls for name, calls in registry.each_absorbed(lambda op: op.sample_count)
        }


class SharedSketches(Persistence):
    """Deltas flushed to a store many processes share, every autosave interval."""

    periodic = True

    def __init__(self, store: MergeableStore) -> None:
        super().__init__()
        self.store = self._shared = store
        self.location = store.location
        # declared capabilities, read once (defaults when a custom store leaves them out)
        self.sketch_scale = int(getattr(store, "scale", DEFAULT_SCALE))
        self._keeps_unsent = bool(getattr(store, "keeps_unsent", False))
        self._save_status = getattr(store, "save_status", None)
        self._status_written_at = -float("inf")
        self._states_written: dict[str, str] = {}

    def load(self) -> Mapping[str, Baseline]:
        return self._shared.load()

    @property
    def keeps_status(self) -> bool:
        return self._save_status is not None

    def save(
        self,
        registry: OperationRegistry,
        cutoff: float | None,
        status: StatusSource | None = None,
        *,
        background: bool = False,
    ) -> None:
        self._flush(registry)
        if status is None or self._save_status is None:
            return
        with self._save_lock:
            calls, now = _total_calls(registry), SYSTEM_CLOCK.perf()
            if background and calls == self._calls_at_status:
                return
            record = status()
            states = {name: entry["state"] for name, entry in record["operations"].items()}
            due = now - self._status_written_at >= STATUS_EVERY
            if background and not due and states == self._states_written:
                return
            self._save_status(record)
            self._status_written_at, self._states_written = now, states
            self._calls_at_status = calls

    def _flush(self, registry: OperationRegistry) -> None:
        """Hand what every operation recorded since the last flush to the store. A store
        that keeps what it failed to send replays it first (stores/outbox.py); for one
        that does not, the deltas go back into their operations for the next flush."""
        with self._save_lock:
            deltas: dict[str, SketchDelta] = {}
            for name, delta in registry.each_absorbed(lambda op: op.take_delta()):
                if delta is not None and (delta.sketch.count or delta.failures):
                    deltas[name] = delta
            try:
                self._shared.save_deltas(deltas)
            except BaseException:
                if not self._keeps_unsent:
                    for name, delta in deltas.items():
                        op = registry.operations[name]
                        with op.lock:
                            if op.delta is not None:
                                op.delta.merge_in(delta)
                raise


def persistence_for(storage: str | os.PathLike[str] | AnyStore | None) -> Persistence:
    """The strategy for a `storage=` argument, chosen once: a store that declares
    `mergeable = True` is shared, any other is written whole."""
    store = make_store(storage)
    if store is None:
        return InMemory()
    if bool(getattr(store, "mergeable", False)):
        return SharedSketches(store)  # type: ignore[arg-type]
    return BaselineFile(store)  # type: ignore[arg-type]


def snapshot_baselines(registry: OperationRegistry, cutoff: float | None) -> dict[str, Baseline]:
    """Every established baseline, stamped with when its operation was last seen, except
    those not seen since `cutoff` (retention)."""
    result: dict[str, Baseline] = {}
    for name, (baseline, last_seen) in registry.each_absorbed(
        lambda op: (op.baseline, op.last_seen)
    ):
        if baseline is None:
            continue
        stamped = baseline.seen_at(max(last_seen, baseline.last_seen_at))
        if cutoff is None or stamped.last_seen_at >= cutoff:
            result[name] = stamped
    return result


def _baselines_and_calls(
    registry: OperationRegistry, cutoff: float | None
) -> dict[str, tuple[Baseline, int]]:
    """snapshot_baselines, with the calls each operation saw in this process."""
    calls = dict(registry.each_absorbed(lambda op: op.sample_count))
    baselines = snapshot_baselines(registry, cutoff)
    return {name: (b, calls.get(name, 0)) for name, b in baselines.items()}


def _total_calls(registry: OperationRegistry) -> int:
    """Calls of every operation, absorbed or pending (read without the locks: a count
    a batch old is good enough to tell whether anything happened)."""
    return sum(op.sample_count + len(op.pending) for op in list(registry.operations.values()))


def retention_cutoff(retention_seconds: float | None, clock: Clock) -> float | None:
    return None if retention_seconds is None else clock.wall() - retention_seconds
