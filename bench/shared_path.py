"""Several processes on one JSON path: how long a save takes, and how long a host-wide
scrape takes, with 4 and 16 processes and 1,000 operations each.

Run: python bench/shared_path.py [--operations 1000] [--saves 5]

Each process (spawned) builds a tracker on the shared path, establishes a baseline for
every operation, then saves `--saves` times (each save takes the path's lock, reads the
file, replaces its own part and writes it back atomically, with fsync) and publishes
its host-wide figures once. The parent then times the scrape of the host-wide figures
(every live process's file read and summed) from a process of its own.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def _worker(path: str, operations: int, saves: int, ready: Any, done: Any, out: Any) -> None:
    from perfguard import PerformanceTracker
    from perfguard._hostwide import publisher_for

    tracker = PerformanceTracker(storage=path, autosave_interval=None)
    for index in range(operations):
        for call in range(12):
            tracker.record(f"op-{index}", 0.001 * (1 + (index + call) % 7))
    publisher = publisher_for(tracker)
    assert publisher is not None
    publisher.publish()
    ready.wait()  # every process starts saving together: the lock is contended
    times = []
    for _ in range(saves):
        start = time.perf_counter()
        tracker.save()
        times.append(time.perf_counter() - start)
    out.put(times)
    done.wait()  # stay alive while the parent scrapes
    tracker.close(save=False)


def run(processes: int, operations: int, saves: int) -> dict[str, float]:
    from perfguard import PerformanceTracker
    from perfguard._hostwide import publisher_for

    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "baselines.json")
        ready, done, out = spawn.Barrier(processes + 1), spawn.Event(), spawn.Queue()
        workers = [
            spawn.Process(target=_worker, args=(path, operations, saves, ready, done, out))
            for _ in range(processes)
        ]
        for worker in workers:
            worker.start()
        ready.wait()
        save_times = [t for _ in workers for t in out.get(timeout=600)]
        scraper = PerformanceTracker(storage=path, autosave_interval=None)
        publisher = publisher_for(scraper)
        assert publisher is not None
        scrape_times = []
        for _ in range(5):
            start = time.perf_counter()
            figures = publisher.host_figures()
            scrape_times.append(time.perf_counter() - start)
        assert len(figures) == operations, len(figures)
        assert figures["op-0"].calls == 12 * processes
        done.set()
        for worker in workers:
            worker.join(60)
        scraper.close(save=False)
        size = Path(path).stat().st_size
    return {
        "save median s": statistics.median(save_times),
        "save max s": max(save_times),
        "scrape median s": statistics.median(scrape_times),
        "file MB": size / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=1000)
    parser.add_argument("--saves", type=int, default=5)
    args = parser.parse_args()
    print(f"{args.operations} operations a process, {args.saves} saves each, all at once\n")
    print("| processes | save (median) | save (slowest) | host-wide scrape | file |")
    print("|---:|---:|---:|---:|---:|")
    for processes in (4, 16):
        r = run(processes, args.operations, args.saves)
        print(
            f"| {processes} | {r['save median s'] * 1e3:.0f} ms | {r['save max s'] * 1e3:.0f} ms "
            f"| {r['scrape median s'] * 1e3:.0f} ms | {r['file MB']:.1f} MB |"
        )


if __name__ == "__main__":
    main()
