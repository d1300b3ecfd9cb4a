"""Operation (_operation.py): the absorb loop decides at fixed block boundaries, however
the stream is cut into batches, and a forked child renews its lock (and drops what is
the parent's to send)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from perfguard._config import TrackerConfig
from perfguard._detect import DetectorSettings
from perfguard._notifications import BaselineChange, Notification, StateChange
from perfguard._operation import Operation
from perfguard._window import encode_failure
from tests.streams import Sample, degrade, healthy

NOW = 1_700_000_000.0  # one wall time for every absorb: only the cut differs
CONFIG = TrackerConfig(autosave_interval=None)


def stream() -> list[Sample]:
    """Healthy, then twice as slow with more failures, then healthy again."""
    samples = healthy("lognormal", 9000, seed=7)
    return degrade(samples, 3000, seed=8, factor=lambda i: 2.0, error_rate=0.05, end=5500)


@dataclass
class Outcome:
    notes: list[Notification]
    state: str
    window: list[float]
    sample_count: int
    failure_count: int
    episodes: int


def absorb_in_batches(samples: list[Sample], sizes: list[int]) -> Outcome:
    """Feed `samples` to a fresh operation, absorbing after each batch of `sizes`."""
    op = Operation("op", CONFIG, DetectorSettings())
    notes: list[Notification] = []
    position = 0
    for size in sizes:
        for value, ok in samples[position : position + size]:
            if ok:
                op.pending.append(value)
            else:  # as the hot path records a failure: its mark, then the sample
                op.failure_notes.append(None)
                op.pending.append(encode_failure(value))
        position += size
        with op.lock:
            notes.extend(op.absorb(NOW))
    assert position >= len(samples)
    return Outcome(
        notes, op.state, op.window.encoded(), op.sample_count, op.failure_count, op.episodes
    )


def random_sizes(total: int, seed: int, largest: int) -> list[int]:
    rng = random.Random(seed)
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(rng.randint(1, largest))
    return sizes


def test_one_at_a_time_decides_a_degradation_and_its_recovery() -> None:
    samples = stream()
    outcome = absorb_in_batches(samples, [1] * len(samples))
    verdicts = [n.verdict for n in outcome.notes if isinstance(n, StateChange)]
    reasons = [n.reason for n in outcome.notes if isinstance(n, BaselineChange)]
    # slower, then its failures worsen the same episode, then one recovery
    assert [(v.kind, v.signals, v.worsened) for v in verdicts] == [
        ("degraded", ("latency",), False),
        ("degraded", ("latency", "errors"), True),
        ("recovered", ("latency", "errors"), False),
    ]
    assert reasons[0] == "established" and "matured" in reasons
    assert outcome.state == "ok" and outcome.episodes == 1
    assert outcome.sample_count == len(samples)
    assert outcome.failure_count == sum(not ok for _, ok in samples)
    assert len(outcome.window) == CONFIG.window_size


@pytest.mark.parametrize(
    "sizes",
    [
        pytest.param(random_sizes(9000, seed=1, largest=40), id="small"),
        pytest.param(random_sizes(9000, seed=2, largest=1500), id="large"),
        pytest.param([64] * 141, id="batch_size"),
        pytest.param([9000], id="one-batch"),
    ],
)
def test_block_boundaries_do_not_depend_on_the_batch_cut(sizes: list[int]) -> None:
    samples = stream()
    one_at_a_time = absorb_in_batches(samples, [1] * len(samples))
    assert absorb_in_batches(samples, sizes) == one_at_a_time


def test_absorbing_nothing_changes_nothing() -> None:
    op = Operation("op", CONFIG, DetectorSettings())
    with op.lock:
        assert op.absorb(NOW) == []
    assert op.last_seen == 0.0 and op.sample_count == 0 and op.state == "learning"


def test_the_baseline_is_established_at_the_sample_completing_min_samples() -> None:
    op = Operation("op", CONFIG, DetectorSettings())
    # 9 successes, 2 failures, then 20 more: the 10th success is sample 12 (index 11)
    op.failure_notes.extend([None] * 2)  # the failures' marks (the hot path's)
    op.pending.extend([0.01] * 9 + [encode_failure(0.5)] * 2 + [0.02] * 20)
    with op.lock:
        notes = op.absorb(NOW)
    assert [type(n) for n in notes] == [BaselineChange]
    baseline = notes[0].baseline  # type: ignore[union-attr]
    assert baseline.sample_count == 10  # successes up to that sample, not the batch's 29
    assert baseline.error_rate == pytest.approx(2 / 12)
    assert op.baseline == baseline and op.state == "ok"


def test_renew_after_fork_gives_a_fresh_lock_and_keeps_a_file_tracker_s_samples() -> None:
    op = Operation("op", CONFIG, DetectorSettings())
    op.pending.extend([0.01, 0.02])
    parent_lock = op.lock
    parent_lock.acquire()  # a parent's thread held it when the process forked
    op.renew_after_fork(discard_unsent=False)
    assert op.lock is not parent_lock
    assert op.lock.acquire(blocking=False)
    op.lock.release()
    assert op.pending == [0.01, 0.02]  # no shared store: the child keeps them


def test_renew_after_fork_with_a_shared_store_drops_what_the_parent_will_send() -> None:
    op = Operation("op", CONFIG, DetectorSettings(), sketch_scale=6)
    op.pending.extend([0.01, 0.02, 0.03])
    with op.lock:
        op.absorb(NOW)
    op.pending.extend([0.04, encode_failure(0.05)])
    op.failure_notes.append(None)
    assert op.delta is not None and op.delta.sketch.count == 3
    op.renew_after_fork(discard_unsent=True)
    assert op.pending == [] and not op.failure_notes
    assert op.delta is not None
    assert op.delta.sketch.count == 0 and op.delta.failures == 0
    assert op.sample_count == 3  # what was already absorbed stays in the statistics
    with op.lock:
        assert op.absorb(NOW) == []
