"""Outbox (_stores/outbox.py): a failed flush is kept with its sequence and sent again
first, deltas queued meanwhile merge into one flush, and reset() forgets everything."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from perfguard._sketch import LogSketch, SketchDelta
from perfguard._stores.outbox import Outbox


def delta(*values: float, failures: int = 0, last_seen_at: float = 0.0) -> SketchDelta:
    sketch = LogSketch(6)
    sketch.add_many(list(values))
    return SketchDelta(sketch, failures, last_seen_at)


class Link:
    """A transmit function: records (sequence, {name: (count, failures)}), or raises."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, dict[str, tuple[int, int]]]] = []
        self.down = False

    def __call__(self, sequence: int, deltas: Mapping[str, SketchDelta]) -> None:
        if self.down:
            raise ConnectionError("store unreachable")
        self.sent.append(
            (sequence, {name: (d.sketch.count, d.failures) for name, d in deltas.items()})
        )


def test_nothing_to_send_sends_nothing() -> None:
    outbox, link = Outbox(), Link()
    assert outbox.send(link) == 0
    outbox.add({"a": delta()})  # empty deltas are not queued
    assert outbox.send(link) == 0
    assert link.sent == [] and outbox.sequence == 0


def test_each_flush_gets_the_next_sequence() -> None:
    outbox, link = Outbox(), Link()
    outbox.add({"a": delta(0.01)})
    assert outbox.send(link) == 1
    outbox.add({"b": delta(failures=2)})  # failures alone are worth sending
    assert outbox.send(link) == 1
    assert link.sent == [(1, {"a": (1, 0)}), (2, {"b": (0, 2)})]
    assert outbox.inflight is None and outbox.queued == {}


def test_a_failed_send_keeps_the_flush_with_its_sequence() -> None:
    outbox, link = Outbox(), Link()
    outbox.add({"a": delta(0.01, 0.02)})
    link.down = True
    with pytest.raises(ConnectionError):
        outbox.send(link)
    assert outbox.inflight is not None and outbox.inflight[0] == 1
    assert outbox.queued == {}
    with pytest.raises(ConnectionError):  # still down: the same flush, the same number
        outbox.send(link)
    assert outbox.inflight is not None and outbox.inflight[0] == 1
    assert outbox.sequence == 1
    link.down = False
    assert outbox.send(link) == 1
    assert link.sent == [(1, {"a": (2, 0)})]
    assert outbox.inflight is None


def test_deltas_queued_during_an_outage_merge_and_follow_the_replay() -> None:
    outbox, link = Outbox(), Link()
    outbox.add({"a": delta(0.01)})
    link.down = True
    with pytest.raises(ConnectionError):
        outbox.send(link)
    for _ in range(50):  # a long outage keeps one delta per operation
        outbox.add({"a": delta(0.03, failures=1, last_seen_at=5.0), "b": delta(0.02)})
        with pytest.raises(ConnectionError):
            outbox.send(link)
    assert set(outbox.queued) == {"a", "b"}
    assert outbox.queued["a"].sketch.count == 50 and outbox.queued["a"].failures == 50
    assert outbox.queued["a"].last_seen_at == 5.0
    link.down = False
    assert outbox.send(link) == 2  # the replay first, then the merged queue
    assert link.sent == [(1, {"a": (1, 0)}), (2, {"a": (50, 50), "b": (50, 0)})]


def test_queuing_copies_the_deltas_it_is_given() -> None:
    outbox = Outbox()
    given = delta(0.01)
    outbox.add({"a": given})
    outbox.add({"a": delta(0.02)})
    assert given.sketch.count == 1  # merged into the outbox's own delta, not the caller's
    assert outbox.queued["a"] is not given and outbox.queued["a"].sketch.count == 2


def test_reset_forgets_the_inflight_and_the_queued_flushes() -> None:
    outbox, link = Outbox(), Link()
    outbox.add({"a": delta(0.01)})
    link.down = True
    with pytest.raises(ConnectionError):
        outbox.send(link)
    outbox.add({"b": delta(0.02)})
    outbox.reset()
    assert (outbox.sequence, outbox.inflight, outbox.queued) == (0, None, {})
    link.down = False
    assert outbox.send(link) == 0
    outbox.add({"c": delta(0.03)})
    assert outbox.send(link) == 1
    assert link.sent == [(1, {"c": (1, 0)})]
