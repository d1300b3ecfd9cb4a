"""perfguard.sqlalchemy on a real PostgreSQL (a throwaway cluster started here): psycopg
(sync) and asyncpg (AsyncEngine), each driver's paramstyle fingerprinted to the same
names, executemany as one call, a constraint violation as a failure."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
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
    insert,
    select,
)

import perfguard.sqlalchemy  # noqa: E402
from perfguard import PerformanceTracker  # noqa: E402
from tests.postgres_server import PostgresServer, postgres_bindir  # noqa: E402

metadata = MetaData()
orders = Table(
    "orders", metadata, Column("id", Integer, primary_key=True), Column("item", String(40))
)
INSERT = "INSERT INTO orders (id, item) VALUES (?)"
BY_ID = "SELECT FROM orders WHERE orders.id = ?"
BY_IDS = "SELECT FROM orders WHERE orders.id IN (?)"
ROWS = 100


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    bindir = postgres_bindir()
    if bindir is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the PostgreSQL tests: initdb is missing (apt postgresql)")
        pytest.skip("PostgreSQL's server binaries are not installed")
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _exercise(conn: Any) -> None:
    metadata.drop_all(conn)
    metadata.create_all(conn)
    conn.execute(insert(orders), [{"id": i, "item": f"item {i}"} for i in range(ROWS)])
    for i in range(10):
        assert conn.execute(select(orders).where(orders.c.id == i)).one().item == f"item {i}"
    for size in (2, 5, 11):
        found = conn.execute(select(orders).where(orders.c.id.in_(list(range(size))))).all()
        assert len(found) == size
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        conn.execute(insert(orders).values(id=1, item="duplicate"))


def _assert_exercised(tracker: PerformanceTracker) -> None:
    assert tracker.stats(INSERT)["sample_count"] == 2  # the executemany, the duplicate
    assert tracker.stats(INSERT)["failure_count"] == 1
    error = tracker.stats(INSERT)["recent_errors"][0]["metadata"]
    assert error["error"] == "IntegrityError" and "UniqueViolation" in error["driver_error"]
    assert tracker.stats(BY_ID)["sample_count"] == 10
    assert tracker.stats(BY_IDS)["sample_count"] == 3
    names = tracker.operations()
    assert {INSERT, BY_ID, BY_IDS} <= set(names)
    # neither a value sent nor a driver's placeholder (%(id_1)s, $1) is in any name
    assert [n for n in names if "item 1" in n or "%(" in n or "$" in n or "'" in n] == []


def test_psycopg_engine(
    postgres: PostgresServer, make_tracker: Callable[..., PerformanceTracker]
) -> None:
    pytest.importorskip("psycopg")
    tracker = make_tracker(min_samples=2)
    engine = create_engine(postgres.url("psycopg"))
    try:
        perfguard.sqlalchemy.instrument(engine, tracker)
        with engine.connect() as conn:
            _exercise(conn)
    finally:
        engine.dispose()
    _assert_exercised(tracker)


def test_asyncpg_async_engine(
    postgres: PostgresServer, make_tracker: Callable[..., PerformanceTracker]
) -> None:
    pytest.importorskip("asyncpg")
    from sqlalchemy.ext.asyncio import create_async_engine

    tracker = make_tracker(min_samples=2)

    async def main() -> None:
        engine = create_async_engine(postgres.url("asyncpg"))
        try:
            perfguard.sqlalchemy.instrument(engine, tracker)
            async with engine.connect() as conn:
                await conn.run_sync(_exercise)
        finally:
            await engine.dispose()

    asyncio.run(main())
    _assert_exercised(tracker)
