"""What a shared store still has to send, kept across failed flushes.

A flush that failed may have been applied in part (a Redis pipeline is not a
transaction; a reply can be lost after the server ran the script), so it is kept with its
sequence number and sent again first: where it already landed, the replay is ignored.
Deltas that arrive meanwhile are merged into one queued flush, so what is kept stays one
sketch per operation however long the store is unreachable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .._sketch import LogSketch, SketchDelta

Transmit = Callable[[int, Mapping[str, SketchDelta]], object]


class Outbox:
    def __init__(self) -> None:
        self.sequence = 0
        self.inflight: tuple[int, dict[str, SketchDelta]] | None = None
        self.queued: dict[str, SketchDelta] = {}

    def add(self, deltas: Mapping[str, SketchDelta]) -> None:
        for name, delta in deltas.items():
            if not (delta.sketch.count or delta.failures):
                continue
            kept = self.queued.get(name)
            if kept is None:
                kept = self.queued[name] = SketchDelta(LogSketch(delta.sketch.scale))
            kept.merge_in(delta)

    def send(self, transmit: Transmit) -> int:
        """Send the pending flush, then the queued one; returns how many were sent.
        An exception leaves the failed flush pending, with its sequence."""
        sent = 0
        if self.inflight is not None:
            transmit(*self.inflight)
            self.inflight = None
            sent += 1
        if self.queued:
            self.sequence += 1
            self.inflight = (self.sequence, self.queued)
            self.queued = {}
            transmit(*self.inflight)
            self.inflight = None
            sent += 1
        return sent

    def reset(self) -> None:
        """In a forked child: what is pending is the parent's to send."""
        self.sequence = 0
        self.inflight = None
        self.queued = {}
