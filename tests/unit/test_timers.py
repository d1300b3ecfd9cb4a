"""TimerBook (_timers.py): "<token>-<n>" ids, an ended id told from one never issued,
and the cap on open timers."""

from __future__ import annotations

import asyncio
import re

import pytest

from perfguard import (
    InvalidOperationNameError,
    PerformanceTracker,
    TimerAlreadyEndedError,
    TrackerConfig,
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


def test_at_the_cap_the_oldest_open_timer_is_abandoned_and_counted() -> None:
    """Issue 11, item 5: timers a cancelled task never ended must not make start()
    raise into the request path once the cap is reached."""
    book = TimerBook(limit=2)
    oldest = book.start("op", 1.0, None)
    kept = book.start("op", 2.0, None)
    newest = book.start("fresh", 3.0, None)  # no error: the oldest makes room
    assert book.abandoned == 1
    with pytest.raises(TimerAlreadyEndedError):
        book.finish(oldest)  # it was ended by the cap
    assert book.finish(kept)[1] == 2.0 and book.finish(newest)[0] == "fresh"


def test_a_tracker_counts_abandoned_timers_of_cancelled_tasks() -> None:
    async def scenario() -> None:
        config = TrackerConfig(max_open_timers=5, autosave_interval=None)
        tracker = PerformanceTracker(config=config)

        async def request() -> None:
            timer = await tracker.start_operation("handler")
            await asyncio.sleep(3600)  # cancelled before end_operation: a leaked timer
            await tracker.end_operation(timer)

        tasks = [asyncio.ensure_future(request()) for _ in range(8)]
        await asyncio.sleep(0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        timer = await tracker.start_operation("handler")  # never TooManyOpenTimersError
        await tracker.end_operation(timer)
        assert tracker.abandoned_timers == 8 + 1 - 5
        assert tracker.stats("handler")["sample_count"] == 1

    asyncio.run(scenario())


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
