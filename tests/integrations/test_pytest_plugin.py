"""The pytest plugin, run in a throwaway pytest session (pytester): first run stores the
baseline, an unchanged run passes, a slower one fails with the statistics."""

from __future__ import annotations

import pytest

TEST_FILE = """
import random

COST = {cost}

class FakeClock:
    now = 0.0
    def __call__(self):
        return self.now

clock = FakeClock()
jitter = random.Random({seed})

def work():
    clock.now += COST * (1.0 + 0.2 * jitter.random())
    return "done"

def test_work(perf):
    perf.clock = clock
    assert perf(work) == "done"
"""


def write(pytester: pytest.Pytester, cost: float, seed: int) -> None:
    pytester.makepyfile(test_speed=TEST_FILE.format(cost=cost, seed=seed))


def test_baseline_then_pass_then_regression(pytester: pytest.Pytester) -> None:
    write(pytester, 0.010, 1)
    first = pytester.runpytest()
    first.assert_outcomes(passed=1)
    stored = list(pytester.path.glob(".perfguard/*/*.json"))
    assert len(stored) == 1

    write(pytester, 0.010, 2)  # same speed, other noise
    pytester.runpytest().assert_outcomes(passed=1)

    write(pytester, 0.013, 3)  # 30 % slower
    slower = pytester.runpytest()
    slower.assert_outcomes(failed=1)
    slower.stdout.fnmatch_lines(["*perfguard*test_work*slower: x1.*Mann-Whitney p=*"])

    write(pytester, 0.0104, 4)  # 4 % slower: statistically visible, practically nothing
    pytester.runpytest().assert_outcomes(passed=1)

    write(pytester, 0.013, 5)  # --perfguard-save accepts the new speed as the baseline
    pytester.runpytest("--perfguard-save").assert_outcomes(passed=1)
    write(pytester, 0.013, 6)
    pytester.runpytest().assert_outcomes(passed=1)


def test_compare_requires_a_baseline(pytester: pytest.Pytester) -> None:
    write(pytester, 0.010, 1)
    result = pytester.runpytest("--perfguard-compare")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no baseline for*test_work*"])


TWO_MEASUREMENTS = """
import random

class FakeClock:
    now = 0.0
    def __call__(self):
        return self.now

clock = FakeClock()
jitter = random.Random({seed})

def cost(seconds):
    def work():
        clock.now += seconds * (1.0 + 0.2 * jitter.random())
    return work

def test_two(perf):
    perf.clock = clock
    perf(cost(0.001))
    perf(cost({second}))
"""


def test_each_call_in_a_test_has_its_own_baseline(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_two=TWO_MEASUREMENTS.format(seed=1, second=0.050))
    pytester.runpytest().assert_outcomes(passed=1)
    assert len(list(pytester.path.glob(".perfguard/*/*.json"))) == 2
    pytester.makepyfile(test_two=TWO_MEASUREMENTS.format(seed=2, second=0.050))
    pytester.runpytest().assert_outcomes(passed=1)  # each compared with its own
    pytester.makepyfile(test_two=TWO_MEASUREMENTS.format(seed=3, second=0.080))
    pytester.runpytest().assert_outcomes(failed=1)  # the second one got slower


TWO_TESTS = """
import random

class FakeClock:
    now = 0.0
    def __call__(self):
        return self.now

clock = FakeClock()
jitter = random.Random(1)

def cost(seconds):
    def work():
        clock.now += seconds * (1.0 + 0.2 * jitter.random())
    return work

def test_fast(perf):
    perf.clock = clock
    perf(cost(0.001))

def test_slow(perf):
    perf.clock = clock
    perf(cost(0.050))
"""


def test_tests_of_one_module_have_separate_baselines(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_module=TWO_TESTS)
    pytester.runpytest().assert_outcomes(passed=2)
    assert len(list(pytester.path.glob(".perfguard/*/*.json"))) == 2
    pytester.runpytest().assert_outcomes(passed=2)


ASYNC_TEST = """
import asyncio
import random

COST = {cost}

class FakeClock:
    now = 0.0
    def __call__(self):
        return self.now

clock = FakeClock()
jitter = random.Random({seed})
awaited = []

async def fetch(page):
    await asyncio.sleep(0)  # really suspends: only an awaited run gets past here
    clock.now += COST * (1.0 + 0.2 * jitter.random())
    awaited.append(page)
    return page * 2

def test_fetch(perf):
    perf.clock = clock
    assert perf(fetch, 21) == 42
    assert len(awaited) == 3 + perf.rounds  # warm-up and timed rounds, each awaited
"""


def write_async(pytester: pytest.Pytester, cost: float, seed: int) -> None:
    pytester.makepyfile(test_fetch=ASYNC_TEST.format(cost=cost, seed=seed))


def test_coroutines_are_awaited_and_v_shows_the_figures(pytester: pytest.Pytester) -> None:
    write_async(pytester, 0.010, 1)
    first = pytester.runpytest("-v")
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines(["*test_fetch PASSED (baseline stored: median 1*ms)*"])

    write_async(pytester, 0.010, 2)
    same = pytester.runpytest("-v")
    same.assert_outcomes(passed=1)
    same.stdout.fnmatch_lines(["*test_fetch PASSED (median 1*ms, baseline 1*ms, x*, p=*)*"])

    write_async(pytester, 0.013, 3)  # 30 % slower
    slower = pytester.runpytest()
    slower.assert_outcomes(failed=1)
    slower.stdout.fnmatch_lines(["*slower: x1.*accept it as the baseline*--perfguard-save*"])
    # the same run, with the floor raised to 50 %: significant, but not by enough
    pytester.runpytest("--perfguard-threshold", "50").assert_outcomes(passed=1)
    pytester.runpytest("--perfguard-threshold", "5%").assert_outcomes(failed=1)
    refused = pytester.runpytest("--perfguard-threshold", "much")
    assert refused.ret != 0
    refused.stderr.fnmatch_lines(["*not a percentage: 'much'*"])


IN_A_LOOP = """
import asyncio

async def fetch():
    return 1

def test_inside_a_loop(perf):
    async def body():
        perf(fetch)
    asyncio.run(body())
"""


def test_a_coroutine_inside_a_running_loop_is_refused_clearly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_loop=IN_A_LOOP)
    result = pytester.runpytest("-W", "error::RuntimeWarning")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AsyncInRunningLoopError*inside a running event loop*"])
