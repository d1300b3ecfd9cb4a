"""pytest plugin: a `perf` fixture that fails a test when its code got slower.

    def test_parse(perf):
        result = perf(parse, document)      # runs parse(document) repeatedly, returns a result

    async def test_fetch(perf):             # a plain (sync) test
        page = perf(fetch, url)             # a coroutine function is awaited each round

The first run on a machine stores the timings as the baseline, in
`.perfguard/<platform>-<machine>-<python>/<test>.json`; later runs compare against it
with a Mann-Whitney U test and a Hodges-Lehmann effect size (not a bare percentage) and
fail the test when the code is significantly slower by at least 10 %
(--perfguard-threshold). A coroutine function (or a callable returning an awaitable) is
run in an event loop of the fixture's own, kept for the measurement; each round times
the awaited call alone, inside the loop. Called from a test that already runs in an
event loop, perf() refuses a coroutine function (it cannot block that loop).

Options (pytest-benchmark users will recognise them): --perfguard-save (store this run as
the baseline, never fail), --perfguard-compare (a missing baseline is an error),
--perfguard-rounds N, --perfguard-threshold PERCENT (the smallest slowdown that fails,
default 10), --perfguard-dir PATH, --perfguard-disable (run the code once). With -v, a
passing test's line shows its figures (median, baseline median, effect, p-value).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import inspect
import json
import platform
import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ._clock import SYSTEM_CLOCK
from ._compare import Comparison, compare
from ._errors import PerfguardError
from ._stores.files import write_atomically

R = TypeVar("R")
WARMUP = 3
FIGURES = "perfguard"  # the user_properties key of a measurement's summary
ACCEPT_HINT = "if the new speed is expected, accept it as the baseline: rerun with --perfguard-save"


class AsyncInRunningLoopError(PerfguardError, RuntimeError):
    """perf() was handed a coroutine function from inside a running event loop."""


def _threshold(text: str) -> float:
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}") from None
    if not 0.0 <= value < 1000.0:
        raise argparse.ArgumentTypeError(f"expected a percentage in [0, 1000), got {text!r}")
    return value


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
        "--perfguard-threshold",
        type=_threshold,
        default=10.0,
        metavar="PERCENT",
        help="the smallest significant slowdown that fails a test, in percent (default 10)",
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

    def __init__(
        self,
        nodeid: str,
        config: pytest.Config,
        properties: list[tuple[str, object]] | None = None,
    ) -> None:
        self.nodeid = nodeid
        self._properties = properties if properties is not None else []
        self.rounds: int = config.getoption("--perfguard-rounds")
        self.save: bool = config.getoption("--perfguard-save")
        self.require: bool = config.getoption("--perfguard-compare")
        self.disabled: bool = config.getoption("--perfguard-disable")
        self.floor = 1.0 + config.getoption("--perfguard-threshold") / 100.0
        folder = Path(config.rootpath) / config.getoption("--perfguard-dir") / machine_id()
        digest = hashlib.sha256(nodeid.encode()).hexdigest()[:12]
        readable = re.sub(r"[^A-Za-z0-9._-]", "_", nodeid)[-80:]
        self._stem = folder / f"{readable}-{digest}"
        self.path = self._stem.parent / f"{self._stem.name}.json"  # the stem holds dots
        self.clock: Callable[[], float] = SYSTEM_CLOCK.perf
        self.samples: list[float] = []
        self.comparison: Comparison | None = None
        self._calls = 0

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if inspect.iscoroutinefunction(fn):
            return self._measure_async(fn, None, args, kwargs)
        if self.disabled:
            result = fn(*args, **kwargs)
            return self._run_once(result) if inspect.isawaitable(result) else result
        first = fn(*args, **kwargs)
        if inspect.isawaitable(first):  # a partial or lambda around a coroutine function
            return self._measure_async(fn, first, args, kwargs)
        self._begin()
        for _ in range(WARMUP - 1):
            fn(*args, **kwargs)
        clock = self.clock
        result = first
        for _ in range(self.rounds):
            start = clock()
            result = fn(*args, **kwargs)
            self.samples.append(clock() - start)
        self._judge()  # inside the test, so a regression is a test failure
        return result

    def _begin(self) -> None:
        self._calls += 1
        if self._calls > 1:
            self.path = self._stem.parent / f"{self._stem.name}-{self._calls}.json"
        self.samples = []

    def _loop(self, pending: Awaitable[Any] | None) -> asyncio.AbstractEventLoop:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.new_event_loop()
        if inspect.iscoroutine(pending):
            pending.close()  # never awaited: no "never awaited" warning on top
        raise AsyncInRunningLoopError(
            f"perfguard: {self.nodeid} called perf() with a coroutine function from inside a "
            "running event loop; perf() runs its own loop and cannot block this one. Make "
            "the test a plain (sync) def and pass the coroutine function: perf(fn, *args)"
        )

    def _run_once(self, awaitable: Awaitable[Any]) -> Any:
        loop = self._loop(awaitable)
        try:
            return loop.run_until_complete(_awaited(awaitable))
        finally:
            loop.close()

    def _measure_async(
        self,
        fn: Callable[..., Any],
        first: Awaitable[Any] | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        loop = self._loop(first)
        try:
            if self.disabled:
                return loop.run_until_complete(_awaited(first or fn(*args, **kwargs)))
            self._begin()
            result = loop.run_until_complete(self._timed_rounds(fn, first, args, kwargs))
        finally:
            loop.close()
        self._judge()
        return result

    async def _timed_rounds(
        self,
        fn: Callable[..., Any],
        first: Awaitable[Any] | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        result = await (first if first is not None else fn(*args, **kwargs))
        for _ in range(WARMUP - 1):
            await fn(*args, **kwargs)
        clock = self.clock
        for _ in range(self.rounds):
            start = clock()
            result = await fn(*args, **kwargs)
            self.samples.append(clock() - start)
        return result

    def _judge(self) -> None:
        stored = self._load()
        if self.save or (stored is None and not self.require):
            self._store()
            median = sorted(self.samples)[len(self.samples) // 2] if self.samples else 0.0
            self._properties.append((FIGURES, f"baseline stored: median {median * 1e3:.3f}ms"))
            return
        if stored is None:
            pytest.fail(f"perfguard: no baseline for {self.nodeid} at {self.path}", False)
        self.comparison = compare(stored, self.samples, floor=self.floor)
        if self.comparison.regressed:
            pytest.fail(
                f"perfguard: {self.nodeid} got {self.comparison.describe()}; {ACCEPT_HINT}",
                False,
            )
        c = self.comparison
        summary = (
            f"median {c.current_median * 1e3:.3f}ms, baseline {c.baseline_median * 1e3:.3f}ms, "
            f"x{c.ratio:.3f}, p={c.p_value:.2g}"
        )
        self._properties.append((FIGURES, summary))  # read by pytest_report_teststatus

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


async def _awaited(awaitable: Awaitable[R]) -> R:
    return await awaitable


@pytest.fixture
def perf(request: pytest.FixtureRequest) -> Iterator[PerfFixture]:
    yield PerfFixture(request.node.nodeid, request.config, request.node.user_properties)


def pytest_report_teststatus(
    report: pytest.TestReport, config: pytest.Config
) -> tuple[str, str, str] | None:
    """With -v, a passing measured test reads `PASSED (median ..., baseline ..., p=...)`."""
    if report.when != "call" or not report.passed or config.get_verbosity() < 1:
        return None
    figures = [str(value) for key, value in report.user_properties if key == FIGURES]
    if not figures:
        return None
    return "passed", ".", f"PASSED ({'; '.join(figures)})"
