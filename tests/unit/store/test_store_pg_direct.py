"""The PostgreSQL connection adapter (``connector/store/pg.py``): transactions, final
statements, results and the pool, against a real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text

from connector.store import Store
from connector.store.engine import Database
from connector.store.tables import replay_cache
from tests.unit.store.conftest import emptied_store
from tests.unit.store.factories import FakeClock

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_store(pg_url: str, clock: FakeClock) -> AsyncIterator[Store]:
    """A store on PostgreSQL only (the adapter has no SQLite counterpart to compare)."""
    async for s in emptied_store(pg_url, clock):
        yield s


def _db(store: Store) -> Database:
    db = store._db  # noqa: SLF001
    assert isinstance(db, Database)
    return db


async def test_a_write_that_runs_nothing_sends_nothing(pg_store: Store) -> None:
    db = _db(pg_store)
    async with db.write() as conn:
        assert not conn.begun
    async with db.write() as conn:
        await conn.execute(select(replay_cache.c.jti).limit(1))
        assert conn.begun


async def test_a_final_first_statement_commits_on_its_own(pg_store: Store, clock: FakeClock) -> None:
    db = _db(pg_store)
    ins = text("INSERT INTO replay_cache (jti, expires_at) VALUES (:j, now() + interval '1 minute')")
    async with db.write() as conn:
        await conn.execute(ins, {"j": "final-1"}, final=True)
        assert not conn.begun
        with pytest.raises(RuntimeError):
            await conn.execute(ins, {"j": "final-2"})
    assert await pg_store.replay.seen("final-1")
    assert not await pg_store.replay.seen("final-2")


async def test_final_after_other_statements_is_part_of_the_transaction(pg_store: Store) -> None:
    db = _db(pg_store)
    ins = text("INSERT INTO replay_cache (jti, expires_at) VALUES (:j, now() + interval '1 minute')")
    with pytest.raises(ZeroDivisionError):
        async with db.write() as conn:
            await conn.execute(ins, {"j": "tx-1"})
            await conn.execute(ins, {"j": "tx-2"}, final=True)
            assert conn.begun
            raise ZeroDivisionError  # rolled back: neither row stays
    assert not await pg_store.replay.seen("tx-1")
    assert not await pg_store.replay.seen("tx-2")


async def test_errors_roll_back_and_the_connection_is_reused(pg_store: Store) -> None:
    db = _db(pg_store)
    ins = text("INSERT INTO replay_cache (jti, expires_at) VALUES (:j, now() + interval '1 minute')")
    with pytest.raises(Exception, match="duplicate key"):
        async with db.write() as conn:
            await conn.execute(ins, {"j": "dup"})
            await conn.execute(ins, {"j": "dup"})
    assert not await pg_store.replay.seen("dup")
    async with db.read() as conn:
        assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1


async def test_result_shapes(pg_store: Store) -> None:
    db = _db(pg_store)
    async with db.read() as conn:
        res = await conn.execute(text("SELECT 1 AS a, 'x' AS b UNION ALL SELECT 2, 'y' ORDER BY 1"))
        rows = res.all()
        assert [tuple(r) for r in rows] == [(1, "x"), (2, "y")]
        assert rows[0].a == 1 and rows[1]._asdict() == {"a": 2, "b": "y"} and rows[0]._mapping["b"] == "x"
        assert (await conn.execute(text("SELECT 1 WHERE false"))).first() is None
        assert (await conn.execute(text("SELECT 3"))).scalars().all() == [3]
        assert (await conn.exec_driver_sql("SELECT $1::int + 1", (41,))).scalar() == 42
        with pytest.raises(Exception):
            (await conn.execute(text("SELECT 1 UNION ALL SELECT 2"))).one()


async def test_cancelled_transaction_closes_its_connection(pg_store: Store) -> None:
    db = _db(pg_store)

    async def slow() -> None:
        async with db.write() as conn:
            await conn.execute(text("SELECT pg_sleep(5)"))

    task = asyncio.create_task(slow())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with db.write() as conn:  # the pool still hands out working connections
        assert (await conn.execute(text("SELECT 7"))).scalar() == 7


async def test_a_small_pool_never_deadlocks_on_nested_reads_and_times_out_otherwise(pg_store: Store,
                                                                                   pg_url: str) -> None:
    db = Database(pg_url, pool_size=1)
    try:
        async with db.write() as conn:  # holds the only connection ...
            await conn.execute(text("SELECT 1"))
            async with db.read() as inner:  # ... and reads through the root: a second one, no wait
                assert (await inner.execute(text("SELECT 2"))).scalar() == 2
    finally:
        await db.dispose()
    db = Database(pg_url, pool_size=1)
    try:
        db._pg.pool._timeout = 0.2  # type: ignore[union-attr]  # noqa: SLF001
        release = asyncio.Event()

        async def hold() -> None:
            async with db.write() as conn:
                await conn.execute(text("SELECT 1"))
                await release.wait()

        holder = asyncio.create_task(hold())
        await asyncio.sleep(0.05)
        with pytest.raises(TimeoutError, match="no PostgreSQL connection free"):
            async with db.read():
                pass
        waiter = asyncio.create_task(_read_one(db))
        await asyncio.sleep(0.05)
        release.set()
        await holder
        assert await waiter == 1  # handed over when the holder finished
    finally:
        await db.dispose()


async def _read_one(db: Database) -> int:
    async with db.read() as conn:
        return (await conn.execute(text("SELECT 1"))).scalar()
