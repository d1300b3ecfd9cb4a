"""TimerBook (_timers.py): "<token>-<n>" ids, an ended id told from one never issued,
and the cap on open timers."""

from __future__ import annotations

import re

import pytest

from perfguard import (
    InvalidOperationNameError,
    PerformanceTracker,
    TimerAlreadyEndedError,
    TooManyOpenTimersError,
    UnknownTimerError,
)
from perfguard._timers import TimerBook


def test_ids_share_a_token_and_count_up() -> None:
    book = TimerBook(limit=10)
    ids = [book.start("op", 1.0, None) for _ in range(3)]
    tokens = {timer_id.split("-")[0] for timer_id in ids}
    assert len(tokens) == 1 and re.fullmatch(r"[0-9a-f]{8}", tokens.pop())
    assert [timer_id.split("-")[1] for timer_id in ids] == ["0", "1", "2"]


def test_finish_hands_back_what_start_was_given() -> None:
    book = TimerBook(limit=10)
    metadata = {"user": 7}
    first = book.start("a", 1.5, metadata)
    second = book.start("b", 2.5, None)
    assert book.finish(second) == ("b", 2.5, None)
    assert book.finish(first) == ("a", 1.5, metadata)


def test_an_ended_id_is_already_ended_and_a_never_issued_one_unknown() -> None:
    book = TimerBook(limit=10)
    timer_id = book.start("op", 1.0, None)
    book.finish(timer_id)
    with pytest.raises(TimerAlreadyEndedError) as ended:
        book.finish(timer_id)
    assert ended.value.value == timer_id
    token = timer_id.split("-")[0]
    for never in (f"{token}-1", f"{token}-99", f"{token}-", f"{token}--0", "nonsense", ""):
        with pytest.raises(UnknownTimerError) as unknown:
            book.finish(never)
        assert unknown.value.value == never


@pytest.mark.parametrize("bad", [None, 0, ["list"], {"a": 1}])
def test_ids_that_are_not_strings_are_unknown(bad: object) -> None:
    book = TimerBook(limit=10)
    book.start("op", 1.0, None)
    with pytest.raises(UnknownTimerError):
        book.finish(bad)  # type: ignore[arg-type]


def test_another_book_s_id_is_unknown_even_once_ended() -> None:
    ours, theirs = TimerBook(limit=10), TimerBook(limit=10)
    for _ in range(3):
        ours.finish(ours.start("op", 1.0, None))
    foreign = theirs.start("op", 1.0, None)
    theirs.finish(foreign)
    with pytest.raises(UnknownTimerError):
        ours.finish(foreign)


def test_the_cap_counts_open_timers_only() -> None:
    book = TimerBook(limit=2)
    first = book.start("op", 1.0, None)
    book.start("op", 1.0, None)
    with pytest.raises(TooManyOpenTimersError) as info:
        book.start("refused", 1.0, None)
    assert info.value.operation == "refused" and info.value.value == 2
    book.finish(first)
    third = book.start("op", 1.0, None)  # room again once one ended
    with pytest.raises(TooManyOpenTimersError):
        book.start("op", 1.0, None)
    assert book.finish(third)[0] == "op"


@pytest.mark.parametrize("bad", ["", None, 42])
def test_a_bad_name_opens_no_timer(bad: object) -> None:
    book = TimerBook(limit=1)
    with pytest.raises(InvalidOperationNameError):
        book.start(bad, 1.0, None)  # type: ignore[arg-type]
    book.start("op", 1.0, None)  # the one slot is still free


def test_a_non_ascii_digit_timer_id_is_an_unknown_timer() -> None:
    tracker = PerformanceTracker(autosave_interval=None)
    token = tracker.start("op").split("-")[0]
    with pytest.raises(UnknownTimerError):
        tracker.end(f"{token}-\u00b2")


def test_an_id_of_our_token_with_a_huge_number_is_unknown_not_a_value_error() -> None:
    book = TimerBook(limit=10)
    token = book.start("op", 1.0, None).split("-")[0]
    with pytest.raises(UnknownTimerError):
        book.finish(f"{token}-" + "9" * 5000)
