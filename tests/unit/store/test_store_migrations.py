"""Migrations: build the schema the code expects, and are no-ops the second time."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from connector.store import Store, open_store
from connector.store.engine import Database, normalise_url
from connector.store.migrate import current_revision, head_revision, upgrade_to_head
from connector.store.tables import metadata


def _diff(conn: Any) -> list[Any]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return compare_metadata(ctx, metadata)


async def test_migrated_schema_matches_tables(store: Store) -> None:
    async with store._db.read() as conn:  # noqa: SLF001
        assert await conn.run_sync(_diff) == []
        assert await conn.run_sync(current_revision) == head_revision()


async def test_second_run_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    db = Database(url)
    try:
        assert await upgrade_to_head(db) is True
        assert await upgrade_to_head(db) is False
        async with db.read() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {t.name for t in metadata.sorted_tables} | {"alembic_version"} == tables
    finally:
        await db.dispose()


async def test_replicas_starting_together_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'together.db'}"
    stores = await asyncio.gather(*(open_store(url) for _ in range(3)))
    try:
        assert [await s.ping() for s in stores] == [True, True, True]
        async with stores[0]._db.read() as conn:  # noqa: SLF001
            versions = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).scalars().all()
        assert versions == [head_revision()]
    finally:
        for s in stores:
            await s.close()


async def test_sqlite_pragmas(tmp_path: Path) -> None:
    s = await open_store(f"sqlite:///{tmp_path / 'p.db'}")  # plain sqlite:// is upgraded to aiosqlite
    try:
        async with s._db.read() as conn:  # noqa: SLF001
            raw = await conn.exec_driver_sql("PRAGMA journal_mode")
            assert raw.scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() >= 1000
    finally:
        await s.close()


def test_url_normalisation() -> None:
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+asyncpg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    try:
        normalise_url("mysql://u@h/db")
    except ValueError as exc:
        assert "unsupported" in str(exc)
    else:
        raise AssertionError("mysql URL accepted")
