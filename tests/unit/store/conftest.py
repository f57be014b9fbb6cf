"""Run every store test against SQLite and PostgreSQL with a controllable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.store import Store, open_store
from connector.store.tables import ALL_TABLES
from tests.pgutil import pg_url  # noqa: F401  (fixture)
from tests.unit.store.factories import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=123456))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")


async def empty_tables(store: Store) -> None:
    async with store._db.write() as conn:  # noqa: SLF001 — test-only reset of the shared database
        for t in reversed(ALL_TABLES):  # DELETE beats TRUNCATE on a handful of rows
            await conn.execute(t.delete())


async def emptied_store(url: str, clock: FakeClock) -> AsyncIterator[Store]:
    """For a fixture: the store at ``url`` with every table emptied, closed afterwards."""
    s = await open_store(url, clock=clock)
    await empty_tables(s)
    yield s
    await s.close()


@pytest.fixture
async def store(store_url: str, clock: FakeClock) -> AsyncIterator[Store]:
    async for s in emptied_store(store_url, clock):
        yield s


@pytest.fixture
async def replica(store_url: str, clock: FakeClock, store: Store) -> AsyncIterator[Store]:
    """A second Store object on the same database: another replica (or process) of the connector."""
    s = await open_store(store_url, clock=clock)
    yield s
    await s.close()
