"""Several processes on one JSON path (_stores/contributions.py and JsonFileStore's
save_shares): contributions replace, fold, combine and survive damage."""

from __future__ import annotations

import json
import math
import random
import statistics
from pathlib import Path

import pytest

from perfguard import JsonFileStore
from perfguard._baseline import Baseline
from perfguard._stores.contributions import (
    FOLDED,
    Contribution,
    Share,
    combine,
    fold_exited,
    this_host,
)


def _baseline(level: float, seed: int, n: int = 1000) -> tuple[Baseline, list[float]]:
    rng = random.Random(seed)
    samples = [level * rng.lognormvariate(0.0, 0.3) for _ in range(n)]
    return Baseline.from_samples(samples, 0, now=1000.0), samples


def test_mean_and_std_combine_as_one_sample_of_all_calls() -> None:
    (a, xs), (b, ys) = _baseline(0.01, 1), _baseline(0.03, 2, n=500)
    combined = combine([Share(a, len(xs)), Share(b, len(ys))])
    everything = xs + ys
    assert combined.mean == pytest.approx(statistics.fmean(everything), rel=1e-9)
    assert combined.std == pytest.approx(statistics.pstdev(everything), rel=1e-3)
    assert combined.p50 <= combined.p75 <= combined.p95 <= combined.p99


def test_one_outlying_process_does_not_move_the_percentiles() -> None:
    shares = [Share(_baseline(0.01, seed)[0], 1000) for seed in range(3)]
    shares.append(Share(_baseline(0.05, 9)[0], 1000))  # learned during an incident
    combined = combine(shares)
    assert 0.0095 < combined.p50 < 0.0105
    assert combined.p99 < 0.03


def test_one_baseline_seen_by_several_processes_is_kept_exactly() -> None:
    baseline = _baseline(0.01, 3)[0]
    assert combine([Share(baseline, 10), Share(baseline.seen_at(2000.0), 5)]).p95 == baseline.p95


def _mine(store: JsonFileStore, **levels: float) -> None:
    store.save_shares({name: Share(_baseline(level, 4)[0], 100) for name, level in levels.items()})


@pytest.mark.parametrize("name", ["baselines.json", "baselines.json.gz"])
def test_two_processes_keep_both_their_operations(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    first, second = JsonFileStore(path), JsonFileStore(path)  # two identities, one path
    _mine(first, a=0.01, both=0.02)
    _mine(second, b=0.03, both=0.02)
    _mine(first, a=0.01, both=0.02)  # saving again replaces its own part, adds nothing
    assert set(JsonFileStore(path).load()) == {"a", "b", "both"}
    assert JsonFileStore(path).calls() == {"a": 100, "b": 100, "both": 200}
    assert JsonFileStore(path).contributors() == 2


def test_exited_processes_fold_into_one_part() -> None:
    baseline = _baseline(0.01, 5)[0]
    parts = {
        f"p{pid}": Contribution(this_host(), pid, 10.0, {"op": Share(baseline, 7)})
        for pid in (101, 102, 103)
    }
    parts["remote"] = Contribution("elsewhere", 5, 0.0, {"op": Share(baseline, 1)})
    parts["recent-remote"] = Contribution("elsewhere", 6, 99_000.0, {"op": Share(baseline, 1)})
    fold_exited(parts, now=100_000.0, alive=lambda pid: pid == 102)
    assert set(parts) == {FOLDED, "p102", "recent-remote"}
    assert parts[FOLDED].operations["op"].calls == 7 + 7 + 1


def test_a_file_from_before_sharing_becomes_the_folded_part(tmp_path: Path) -> None:
    path = tmp_path / "baselines.json"
    old = _baseline(0.01, 6)[0]
    JsonFileStore(path).save({"legacy": old})  # written whole, no contributions
    _mine(JsonFileStore(path), new=0.02)
    loaded = JsonFileStore(path).load()
    assert loaded["legacy"] == old
    assert JsonFileStore(path).calls()["legacy"] == old.sample_count


def test_retention_forgets_operations_nobody_has_seen(tmp_path: Path) -> None:
    path = tmp_path / "baselines.json"
    other = JsonFileStore(path)
    other.save_shares({"stale": Share(_baseline(0.01, 7)[0].seen_at(10.0), 5)})
    mine = JsonFileStore(path)
    mine.save_shares({"fresh": Share(_baseline(0.01, 8)[0].seen_at(5000.0), 5)}, cutoff=1000.0)
    assert set(JsonFileStore(path).load()) == {"fresh"}


def test_a_damaged_contributions_section_is_set_aside_and_the_save_goes_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "baselines.json"
    _mine(JsonFileStore(path), a=0.01)
    _mine(JsonFileStore(path), a=0.01)  # a backup exists now
    document = json.loads(path.read_text())
    parts = json.loads(document["contributions"])
    next(iter(parts.values()))["pid"] = -1
    document["contributions"] = json.dumps(parts)  # the checksum no longer matches
    path.write_text(json.dumps(document))
    _mine(JsonFileStore(path), b=0.02)
    assert list(tmp_path.glob("baselines.json.corrupt-*"))
    assert {"a", "b"} <= set(JsonFileStore(path).load())  # a from the backup


def test_combined_percentiles_stay_ordered_for_any_mix() -> None:
    rng = random.Random(11)
    for _ in range(200):
        shares = [
            Share(
                _baseline(math.exp(rng.uniform(-8, 0)), rng.randrange(10**6), n=50)[0],
                rng.randint(0, 50),
            )
            for _ in range(rng.randint(2, 6))
        ]
        combined = combine(shares)
        assert combined.p50 <= combined.p75 <= combined.p95 <= combined.p99


def test_an_accepted_baseline_is_the_shared_one_after_a_restart(tmp_path: Path) -> None:
    """accept_baseline() is a person's decision: it is not averaged with the history of
    the processes that shared the path before; the next process loads it."""
    from perfguard import PerformanceTracker

    path = tmp_path / "baselines.json"
    rng = random.Random(12)
    first = PerformanceTracker(storage=path, autosave_interval=None)
    for _ in range(5000):
        first.record("op", 0.010 * rng.lognormvariate(0.0, 0.2))
    first.close()
    second = PerformanceTracker(storage=path, autosave_interval=None)
    for _ in range(1200):
        second.record("op", 0.030 * rng.lognormvariate(0.0, 0.2))
    accepted = second.accept_baseline("op")
    second.close()
    third = PerformanceTracker(storage=path, autosave_interval=None)
    loaded = third.baseline("op")
    assert loaded is not None and loaded.p50 == accepted.p50
    third.close(save=False)
