"""A saving process killed with SIGKILL at many points: the file is always whole."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from pathlib import Path

from perfguard import JsonFileStore
from perfguard._baseline import Baseline
from tests.conftest import fixed_baseline

KILLS = 25


def baselines(generation: int) -> dict[str, Baseline]:
    """A recognizable set: every operation's sample_count is the generation number."""
    return {f"operation-{index:03d}": fixed_baseline(generation) for index in range(300)}


def saver(path: str, ready: multiprocessing.synchronize.Event) -> None:
    store = JsonFileStore(path)
    generation = 1
    while True:
        store.save(baselines(generation))
        ready.set()
        generation += 1


def test_sigkill_at_random_points_never_leaves_a_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "baselines.json"
    context = multiprocessing.get_context("fork")
    rng = random.Random(20261127)
    last_seen = 0
    interrupted = 0  # kills that caught a save half-way (a temp file left behind)
    for _ in range(KILLS):
        ready = context.Event()
        process = context.Process(target=saver, args=(str(path), ready))
        process.start()
        assert ready.wait(30)  # at least one complete save happened
        time.sleep(rng.uniform(0.0, 0.02))  # a random point in the middle of some save
        os.kill(process.pid, signal.SIGKILL)
        process.join()
        interrupted += any(".tmp-" in p.name for p in tmp_path.iterdir())
        loaded = JsonFileStore(path).load()  # also removes the dead writer's temp file
        assert len(loaded) == 300
        generations = {b.sample_count for b in loaded.values()}
        assert len(generations) == 1  # one complete generation, never a mix
        last_seen = generations.pop()
        assert last_seen >= 1
        assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    assert not list(tmp_path.glob("*.corrupt-*"))
    print(f"{interrupted} of {KILLS} kills interrupted a save")


CRASH_POINTS = ("open", "half_written", "before_fsync", "before_replace", "after_replace")


def crashing_saver(path: str, point: str) -> None:
    """Save generation 2 over generation 1, dying by SIGKILL at `point`."""

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    real_open, real_fsync, real_replace = os.open, os.fsync, os.replace
    main_temp: dict[str, int] = {}  # the temp file of the baseline file itself (not .bak)
    name = Path(path).name

    def fake_open(file: str, flags: int, mode: int = 0o777) -> int:
        is_main_temp = Path(file).name.startswith(f".{name}.tmp-")
        if point == "open" and is_main_temp:
            die()
        descriptor = real_open(file, flags, mode)
        if is_main_temp:
            main_temp["fd"] = descriptor
        return descriptor

    def fake_fsync(descriptor: int) -> None:
        if descriptor == main_temp.get("fd"):
            if point == "half_written":
                size = os.fstat(descriptor).st_size
                os.ftruncate(descriptor, size // 2)  # as if the write stopped half-way
                die()
            if point == "before_fsync":
                die()
        real_fsync(descriptor)

    def fake_replace(source: str, target: str) -> None:
        is_main = Path(target).name == name
        if point == "before_replace" and is_main:
            die()
        real_replace(source, target)
        if point == "after_replace" and is_main:
            die()

    os.open, os.fsync, os.replace = fake_open, fake_fsync, fake_replace  # type: ignore[assignment]
    JsonFileStore(path).save(baselines(2))
    os._exit(0)


def test_sigkill_at_every_step_of_a_save(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for point in CRASH_POINTS:
        path = tmp_path / f"{point}.json"
        JsonFileStore(path).save(baselines(1))
        process = context.Process(target=crashing_saver, args=(str(path), point))
        process.start()
        process.join()
        assert process.exitcode == -signal.SIGKILL, point
        loaded = JsonFileStore(path).load()
        generations = {b.sample_count for b in loaded.values()}
        expected = {2} if point == "after_replace" else {1}
        assert generations == expected, point
        assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name], point
