"""Engines for the two backends, and the transaction discipline each needs.

SQLite (embedded default): WAL so readers never wait for the writer, foreign keys on,
a busy timeout for other processes, and every write transaction opened with
``BEGIN IMMEDIATE`` behind one in-process lock, so writers queue instead of failing with
"database is locked" when a read lock would need upgrading. PostgreSQL: a plain pool;
concurrency is handled with row locks (``FOR UPDATE SKIP LOCKED``) and advisory locks.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

SQLITE_BUSY_TIMEOUT_S = 10.0
_READONLY = "kakehashi_readonly"


def normalise_url(url: str | URL) -> URL:
    """Accept ``sqlite:///x.db`` / ``postgresql://...`` and pick the async drivers."""
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite" and u.drivername != "sqlite+aiosqlite":
        u = u.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres") and u.drivername != "postgresql+asyncpg":
        u = u.set(drivername="postgresql+asyncpg")
    elif backend not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported store URL {u.render_as_string(hide_password=True)!r}: use sqlite or postgresql")
    return u


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _sqlite_engine(url: URL) -> AsyncEngine:
    memory = url.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}, "json_serializer": _dumps}
    if memory:
        kwargs["poolclass"] = StaticPool  # one shared in-memory database, not one per connection
    engine = create_async_engine(url, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get(_READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def _postgres_engine(url: URL, pool_size: int) -> AsyncEngine:
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, json_serializer=_dumps
    )


class Database:
    """An engine plus the rule for opening read and write transactions on it."""

    def __init__(self, url: str | URL, *, pool_size: int = 10) -> None:
        self.url = normalise_url(url)
        self.dialect = self.url.get_backend_name()
        if self.dialect == "sqlite":
            self.engine = _sqlite_engine(self.url)
            self._write_lock: asyncio.Lock | None = asyncio.Lock()
        else:
            self.engine = _postgres_engine(self.url, pool_size)
            self._write_lock = None

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One transaction that may write; committed on success, rolled back on error."""
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only snapshot; on SQLite it never waits for the writer."""
        async with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn = await conn.execution_options(**{_READONLY: True})
            yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()


class BoundDatabase:
    """The same interface over one open transaction, so several repositories share it."""

    def __init__(self, parent: Database, conn: AsyncConnection) -> None:
        self._parent = parent
        self._conn = conn
        self.dialect = parent.dialect

    @property
    def is_postgres(self) -> bool:
        return self._parent.is_postgres

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        yield self._conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        yield self._conn
