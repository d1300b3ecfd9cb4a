"""perfguard.sqlalchemy on real SQLite engines, sync and async (aiosqlite): statement
fingerprints as names, durations from the tracker's clock, executemany as one call,
driver errors as failures, the cap on names, and nothing raised into a query."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

sqlalchemy = pytest.importorskip("sqlalchemy")

from sqlalchemy import (  # noqa: E402
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
    select,
    text,
)

import perfguard.sqlalchemy  # noqa: E402
from perfguard import ConfigurationError, PerformanceTracker  # noqa: E402
from perfguard.sqlalchemy import OVERFLOW_NAME, fingerprint  # noqa: E402
from perfguard.testing import FakeClock  # noqa: E402

metadata = MetaData()
users = Table(
    "users", metadata, Column("id", Integer, primary_key=True), Column("name", String(50))
)
BY_ID = "SELECT FROM users WHERE users.id = ?"
BY_IDS = "SELECT FROM users WHERE users.id IN (?)"
INSERT = "INSERT INTO users (id, name) VALUES (?)"


def _exercise(conn: Any) -> None:
    """The same statements on every engine: 1 executemany, 5 lookups, 3 IN-lists of
    different lengths, one error."""
    conn.execute(insert(users), [{"id": i, "name": f"user {i}"} for i in range(20)])
    for i in range(5):
        assert conn.execute(select(users).where(users.c.id == i)).one().name == f"user {i}"
    for size in (1, 3, 7):
        ids = list(range(size))
        assert len(conn.execute(select(users).where(users.c.id.in_(ids))).all()) == size
    with pytest.raises(sqlalchemy.exc.OperationalError):
        conn.execute(text("SELECT * FROM no_such_table WHERE id = 4"))


def _assert_exercised(tracker: PerformanceTracker) -> None:
    assert tracker.stats(INSERT)["sample_count"] == 1  # executemany: one call
    assert tracker.stats(BY_ID)["sample_count"] == 5
    assert tracker.stats(BY_IDS)["sample_count"] == 3  # IN-lists of 1, 3, 7: one name
    failed = tracker.stats("SELECT FROM no_such_table WHERE id = ?")
    assert failed["sample_count"] == failed["failure_count"] == 1
    assert failed["recent_errors"][0]["metadata"] == {
        "error": "OperationalError",
        "driver_error": "OperationalError",
    }


def test_sync_sqlite_statements_are_named_by_fingerprint_and_timed(
    make_tracker: Callable[..., PerformanceTracker], clock: FakeClock
) -> None:
    tracker = make_tracker(min_samples=2)
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    perfguard.sqlalchemy.instrument(engine, tracker)
    # a listener after perfguard's: each statement "takes" 50 ms of the fake clock
    event.listen(engine, "before_cursor_execute", lambda *args: clock.advance(0.05))
    with engine.begin() as conn:
        _exercise(conn)
    _assert_exercised(tracker)
    stats = tracker.stats(BY_ID)
    assert stats["recent_min"] == stats["recent_max"] == pytest.approx(0.05)
    engine.dispose()


def test_async_sqlite_engine_is_instrumented_through_its_sync_engine(
    make_tracker: Callable[..., PerformanceTracker],
) -> None:
    pytest.importorskip("aiosqlite")
    from sqlalchemy.ext.asyncio import create_async_engine

    tracker = make_tracker(min_samples=2)

    async def main() -> None:
        engine = create_async_engine("sqlite+aiosqlite://")
        perfguard.sqlalchemy.instrument(engine, tracker)
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.run_sync(_exercise)
            rows = await conn.execute(select(users).where(users.c.id == 9))
            assert rows.one().id == 9
        await engine.dispose()

    asyncio.run(main())
    _assert_exercised_async(tracker)


def _assert_exercised_async(tracker: PerformanceTracker) -> None:
    assert tracker.stats(INSERT)["sample_count"] == 1
    assert tracker.stats(BY_ID)["sample_count"] == 6
    assert tracker.stats(BY_IDS)["sample_count"] == 3
    assert tracker.stats("SELECT FROM no_such_table WHERE id = ?")["failure_count"] == 1


def test_names_past_the_cap_share_the_overflow_operation(
    make_tracker: Callable[..., PerformanceTracker], caplog: Any
) -> None:
    tracker = make_tracker()
    engine = create_engine("sqlite://")
    hooks = perfguard.sqlalchemy.instrument(engine, tracker, max_names=3)
    with caplog.at_level(logging.WARNING, logger="perfguard"), engine.connect() as conn:
        for table in range(6):  # generated names: each a distinct statement shape
            conn.execute(text(f"CREATE TEMP TABLE scratch_{table} (x INTEGER)"))
        conn.execute(text("CREATE TEMP TABLE scratch_0b (x INTEGER)"))
    assert len(tracker.operations()) == 4
    assert tracker.stats(OVERFLOW_NAME)["sample_count"] == hooks.overflow_count == 4
    assert sum("more than 3 distinct statements" in r.message for r in caplog.records) == 1
    engine.dispose()


def test_name_callable_and_uninstrument(make_tracker: Callable[..., PerformanceTracker]) -> None:
    tracker = make_tracker()
    engine = create_engine("sqlite://")
    hooks = perfguard.sqlalchemy.instrument(
        engine, tracker, name=lambda statement: "db " + fingerprint(statement)
    )
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        hooks.uninstrument()
        conn.execute(text("SELECT 2"))
    assert tracker.operations() == ["db SELECT ?"]
    assert tracker.stats("db SELECT ?")["sample_count"] == 1
    engine.dispose()


def test_a_broken_name_callable_never_reaches_the_query(
    make_tracker: Callable[..., PerformanceTracker], caplog: Any
) -> None:
    tracker = make_tracker()
    engine = create_engine("sqlite://")

    def broken(statement: str) -> str:
        raise RuntimeError("name callable bug")

    perfguard.sqlalchemy.instrument(engine, tracker, name=broken)
    with caplog.at_level(logging.ERROR, logger="perfguard"), engine.connect() as conn:
        assert conn.execute(text("SELECT 41 + 1")).scalar() == 42
        assert conn.execute(text("SELECT 43")).scalar() == 43
    assert tracker.operations() == []
    assert sum("could not time a SQL statement" in r.message for r in caplog.records) == 1
    engine.dispose()


FINGERPRINTS = [  # (statement, name)
    ("SELECT users.id, users.name \nFROM users \nWHERE users.id = ?", BY_ID),
    (
        "select * from t where a = 'it''s' and b = 5 -- note",
        "select from t where a = ? and b = ?",
    ),
    (
        "INSERT INTO t (a, b) VALUES (%(a)s, %(b)s), (%(a1)s, %(b1)s);",
        "INSERT INTO t (a, b) VALUES (?)",
    ),
    (
        "UPDATE t SET x = :x WHERE t.id IN (:id_1, :id_2, :id_3)",
        "UPDATE t SET x = ? WHERE t.id IN (?)",
    ),
    (
        "SELECT t.x FROM t WHERE t.id = ANY($1::INTEGER[]) AND t.y = $2",
        "SELECT FROM t WHERE t.id = ANY(?) AND t.y = ?",
    ),
    (
        "SELECT count(*) FROM (SELECT t.id FROM t /* inner */ WHERE t.v > 1.5e3) AS a",
        "SELECT FROM (SELECT FROM t WHERE t.v > ?) AS a",
    ),
    (
        "SELECT DISTINCT a FROM t UNION SELECT b FROM u",
        "SELECT DISTINCT FROM t UNION SELECT FROM u",
    ),
    ("SELECT 1", "SELECT ?"),
    (
        'SELECT "weird col" FROM "My Table" WHERE x = $tag$lit$tag$',
        'SELECT FROM "My Table" WHERE x = ?',
    ),
]


@pytest.mark.parametrize(("statement", "name"), FINGERPRINTS)
def test_fingerprint_rule(statement: str, name: str) -> None:
    assert fingerprint(statement) == name


def test_fingerprint_is_bounded_in_length() -> None:
    long = "SELECT a FROM t WHERE " + " AND ".join(f"col_{i} = {i}" for i in range(200))
    name = fingerprint(long)
    assert len(name) <= 200 and name.endswith(" ...")
    assert name == fingerprint(long.replace("= 1", "= 9"))  # literals never split a name


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"engine": "sqlite://"}, "engine"),
        ({"tracker": object()}, "tracker"),
        ({"name": "queries"}, "name"),
        ({"max_names": 0}, "max_names"),
        ({"max_names": True}, "max_names"),
    ],
)
def test_bad_arguments_are_configuration_errors(
    make_tracker: Callable[..., PerformanceTracker], kwargs: dict[str, Any], setting: str
) -> None:
    arguments: dict[str, Any] = {"engine": create_engine("sqlite://"), "tracker": make_tracker()}
    arguments.update(kwargs)
    with pytest.raises(ConfigurationError) as raised:
        perfguard.sqlalchemy.instrument(**arguments)
    assert raised.value.setting == setting
