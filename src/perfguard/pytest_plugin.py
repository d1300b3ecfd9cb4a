"""pytest plugin: a `perf` fixture that fails a test when its code got slower.

    def test_parse(perf):
        result = perf(parse, document)      # runs parse(document) repeatedly, returns a result

The first run on a machine stores the timings as the baseline, in
`.perfguard/<platform>-<machine>-<python>/<test>.json`; later runs compare against it
with a Mann-Whitney U test and a Hodges-Lehmann effect size (not a bare percentage) and
fail the test when the code is significantly slower by at least 10 %.

Options (pytest-benchmark users will recognise them): --perfguard-save (store this run as
the baseline, never fail), --perfguard-compare (a missing baseline is an error),
--perfguard-rounds N, --perfguard-dir PATH, --perfguard-disable (run the code once).
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ._clock import SYSTEM_CLOCK
from ._compare import Comparison, compare
from ._stores.files import write_atomically

R = TypeVar("R")
WARMUP = 3


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("perfguard", "performance baselines (perfguard)")
    group.addoption(
        "--perfguard-save",
        action="store_true",
        help="store this run's timings as the baseline; never fail",
    )
    group.addoption(
        "--perfguard-compare",
        action="store_true",
        help="compare with the stored baseline; a missing baseline fails",
    )
    group.addoption(
        "--perfguard-rounds", type=int, default=60, help="timed calls per test (default 60)"
    )
    group.addoption(
        "--perfguard-dir",
        default=".perfguard",
        help="where baselines are stored (default .perfguard)",
    )
    group.addoption(
        "--perfguard-disable", action="store_true", help="call the code once, time nothing"
    )


def machine_id() -> str:
    """Baselines are only comparable on the same platform and Python."""
    python = f"{platform.python_implementation()}{'.'.join(platform.python_version_tuple()[:2])}"
    raw = f"{platform.system()}-{platform.machine()}-{python}"
    return re.sub(r"[^A-Za-z0-9._-]", "_", raw)


class PerfFixture:
    """Times a callable and compares it with (or stores) its baseline, inside the test.
    Each call of the fixture in one test is a measurement of its own, with its own
    baseline (the second call's file ends in "-2", and so on)."""

    def __init__(self, nodeid: str, config: pytest.Config) -> None:
        self.nodeid = nodeid
        self.rounds: int = config.getoption("--perfguard-rounds")
        self.save: bool = config.getoption("--perfguard-save")
        self.require: bool = config.getoption("--perfguard-compare")
        self.disabled: bool = config.getoption("--perfguard-disable")
        folder = Path(config.rootpath) / config.getoption("--perfguard-dir") / machine_id()
        digest = hashlib.sha256(nodeid.encode()).hexdigest()[:12]
        readable = re.sub(r"[^A-Za-z0-9._-]", "_", nodeid)[-80:]
        self._stem = folder / f"{readable}-{digest}"
        self.path = self._stem.parent / f"{self._stem.name}.json"  # the stem holds dots
        self.clock: Callable[[], float] = SYSTEM_CLOCK.perf
        self.samples: list[float] = []
        self.comparison: Comparison | None = None
        self._calls = 0

    def __call__(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        if self.disabled:
            return fn(*args, **kwargs)
        self._calls += 1
        if self._calls > 1:
            self.path = self._stem.parent / f"{self._stem.name}-{self._calls}.json"
        self.samples = []
        result = fn(*args, **kwargs)
        for _ in range(WARMUP - 1):
            fn(*args, **kwargs)
        clock = self.clock
        for _ in range(self.rounds):
            start = clock()
            result = fn(*args, **kwargs)
            self.samples.append(clock() - start)
        self._judge()  # inside the test, so a regression is a test failure
        return result

    def _judge(self) -> None:
        stored = self._load()
        if self.save or (stored is None and not self.require):
            self._store()
            return
        if stored is None:
            pytest.fail(f"perfguard: no baseline for {self.nodeid} at {self.path}", False)
        self.comparison = compare(stored, self.samples)
        if self.comparison.regressed:
            pytest.fail(f"perfguard: {self.nodeid} got {self.comparison.describe()}", False)

    def _load(self) -> list[float] | None:
        try:
            document = json.loads(self.path.read_text())
            samples = [float(v) for v in document["samples"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return samples if len(samples) >= 2 else None

    def _store(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "schema": "perfguard.pytest-baseline",
            "version": 1,
            "test": self.nodeid,
            "machine": machine_id(),
            "saved_at": SYSTEM_CLOCK.wall(),
            "samples": self.samples,
        }
        write_atomically(self.path, json.dumps(document).encode())


@pytest.fixture
def perf(request: pytest.FixtureRequest) -> Iterator[PerfFixture]:
    yield PerfFixture(request.node.nodeid, request.config)
