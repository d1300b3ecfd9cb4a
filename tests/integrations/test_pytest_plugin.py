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
