"""Engines for the two backends, and the transaction discipline each needs.

SQLite (embedded default) runs *synchronously on the event-loop thread*, over two
connections per database: one writer, one reader. A local SQLite statement takes tens of
microseconds, far less than handing it to a worker thread and back (aiosqlite), which on a
busy loop also waits for the GIL's switch interval (5 ms) on every hop; measured, that hop
was the largest cost of a protocol step. Writers queue on one ``asyncio.Lock`` and open
their transaction with ``BEGIN IMMEDIATE``, so they never fail with "database is locked"
in this process; only another *process* writing the same file can make ``BEGIN IMMEDIATE``
busy, and then we wait for it asynchronously (short sleeps, up to the busy timeout) instead
of blocking the loop in SQLite's busy handler. Readers use their own connection: in WAL mode
they see the last committed state and never wait for the writer. WAL checkpoints (which
fsync) would otherwise run inside an occasional ``COMMIT`` and stall the loop for tens of
milliseconds; the writer has automatic checkpoints off, and a passive checkpoint runs on a
worker thread with its own connection every ``CHECKPOINT_EVERY`` commits.

Durability: ``journal_mode=WAL`` with ``synchronous=NORMAL``. A commit is appended to the WAL
before ``COMMIT`` returns, but the WAL is fsynced only at checkpoints. That survives the
crash we must survive — the connector process killed (``kill -9``) at any point: the
operating system still holds every written page, and the next open replays the WAL. It does
not promise that the last transactions survive a power loss or kernel crash (they may roll
back to a consistent earlier state, never corrupt). ``synchronous=FULL`` would add one
fsync per commit (~4 ms on this machine's disk) for that guarantee.

PostgreSQL: the store's statements run on asyncpg directly (``pg.py``: SQLAlchemy Core
statements compiled once per shape, our own small pool, reads in autocommit, no pre-ping);
SQLAlchemy's asyncio engine is kept for migrations and ``run_sync``. Concurrency is handled with row locks
(``FOR UPDATE SKIP LOCKED``) and advisory locks. Commits are durable (``synchronous_commit``
on) unless the URL opts out with ``?synchronous_commit=off`` — then a commit returns before
its WAL is flushed: still safe against a connector crash (the server keeps it), but a crash
of the database server itself may lose the last fraction of a second of commits.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool, StaticPool

from .pg import PgDatabase, PgPool, _json_codecs

SQLITE_BUSY_TIMEOUT_S = 10.0
#: Commits between background WAL checkpoints (a commit adds a few pages; SQLite's own
#: default checkpoints at 1000 pages).
CHECKPOINT_EVERY = 200
_READONLY = "kakehashi_readonly"
_PG_SERVER_SETTINGS = ("synchronous_commit",)


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


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def _sqlite_pragmas(dbapi_conn: Any, memory: bool) -> None:
    dbapi_conn.isolation_level = None  # autocommit at the driver: we emit BEGIN ourselves
    cur = dbapi_conn.cursor()
    if not memory:
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")  # see the module docstring: crash-safe, not power-loss-safe
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    cur.close()


def _sqlite_sync_engine(url: URL) -> Engine:
    memory = _is_memory(url)
    engine = create_engine(
        url.set(drivername="sqlite+pysqlite"),
        # One writer and one reader, opened once and kept; a pool would only add overhead.
        poolclass=StaticPool if memory else NullPool,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        json_serializer=_dumps,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        _sqlite_pragmas(dbapi_conn, memory)

    return engine


def _sqlite_async_engine(url: URL) -> AsyncEngine:
    """An aiosqlite engine on the same file, kept for code that asks for ``Database.engine``
    directly. The store's own reads and writes do not use it."""
    memory = _is_memory(url)
    kwargs: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}, "json_serializer": _dumps}
    if memory:
        kwargs["poolclass"] = StaticPool
    engine = create_async_engine(url, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        _sqlite_pragmas(dbapi_conn, memory)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get(_READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def _pg_server_settings(url: URL) -> tuple[URL, dict[str, Any]]:
    server_settings = {k: url.query[k] for k in _PG_SERVER_SETTINGS if k in url.query}
    return url.difference_update_query(_PG_SERVER_SETTINGS), server_settings


def _postgres_direct(url: URL, engine: AsyncEngine, pool_size: int) -> PgDatabase:
    """The asyncpg pool the store's own statements use (see ``pg.py``), connecting exactly as
    the SQLAlchemy engine would (same connect arguments, server settings, JSON codecs)."""
    url, server_settings = _pg_server_settings(url)
    dialect = engine.sync_engine.dialect
    _, kwargs = dialect.create_connect_args(url)
    kwargs.pop("prepared_statement_cache_size", None)
    kwargs.pop("async_fallback", None)
    if server_settings:
        kwargs["server_settings"] = {**kwargs.get("server_settings", {}), **server_settings}
    setup = _json_codecs(dialect._json_serializer, dialect._json_deserializer)  # noqa: SLF001
    # No overflow: on a small machine more connections than a few per core only add server
    # backends to warm up and contention (measured on 2 cores with 200 concurrent negotiations:
    # 5 or 10 connections 95-110/s, 20 88/s, 20 + 20 overflow 75-80/s). Waiting for a free
    # connection is cheap; a task already holding one never waits (see PgPool).
    pool = PgPool(kwargs, size=pool_size, overflow=0, setup=setup)

    def fallback() -> Any:
        return _autocommit(engine)

    return PgDatabase(pool, dialect, fallback)


@asynccontextmanager
async def _autocommit(engine: AsyncEngine) -> AsyncIterator[Any]:
    async with engine.connect() as aconn:
        await aconn.execution_options(isolation_level="AUTOCOMMIT")
        yield aconn


def _postgres_engine(url: URL, pool_size: int) -> AsyncEngine:
    url, server_settings = _pg_server_settings(url)
    connect_args = {"server_settings": server_settings} if server_settings else {}
    # No pool_pre_ping: with asyncpg it costs three round trips (BEGIN; ping; ROLLBACK) on
    # every checkout. A connection that died with the server fails its statement once; that
    # error invalidates the whole pool (SQLAlchemy's disconnect handling), the request is
    # answered 5xx and retried (outbox backoff, the peer's retry), and new connections follow.
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False, json_serializer=_dumps,
        connect_args=connect_args,
    )


class SyncConnection:
    """The async connection interface over a synchronous SQLAlchemy connection.

    Every call runs to completion on the calling (event-loop) thread without suspending,
    so a result is complete when ``execute`` returns.
    """

    __slots__ = ("sync_connection",)

    def __init__(self, conn: Connection) -> None:
        self.sync_connection = conn

    @property
    def dialect(self) -> Any:
        return self.sync_connection.dialect

    async def execute(self, statement: Any, parameters: Any = None, *, final: bool = False, **kw: Any) -> Any:
        # ``final`` (no statement follows in this transaction) only saves round trips on PostgreSQL
        return self.sync_connection.execute(statement, parameters, **kw)

    async def exec_driver_sql(self, statement: str, parameters: Any = None, **kw: Any) -> Any:
        return self.sync_connection.exec_driver_sql(statement, parameters, **kw)

    async def scalar(self, statement: Any, parameters: Any = None, **kw: Any) -> Any:
        return self.sync_connection.scalar(statement, parameters, **kw)

    async def run_sync(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        return fn(self.sync_connection, *args, **kw)

    def get_execution_options(self) -> Any:
        return self.sync_connection.get_execution_options()


def _is_busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


class _SqliteConnections:
    """The writer and the reader connection of one SQLite database, opened on first use."""

    def __init__(self, url: URL) -> None:
        self.memory = _is_memory(url)
        self.path = None if self.memory else url.database
        self.engine = _sqlite_sync_engine(url)
        self._writer: Connection | None = None
        self._reader: Connection | None = None
        self._commits = 0
        self._checkpoint: asyncio.Future[None] | None = None
        self._checkpointer: sqlite3.Connection | None = None

    def writer(self) -> Connection:
        if self._writer is None:
            conn = self.engine.connect()
            if not self.memory:
                # BEGIN IMMEDIATE must not block the event loop in SQLite's busy handler;
                # `begin_immediate` waits for another process's writer asynchronously instead.
                conn.exec_driver_sql("PRAGMA busy_timeout=0")
                conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")  # see `committed`
                conn.rollback()
            self._writer = conn
        return self._writer

    def reader(self) -> Connection:
        if self.memory:
            return self.writer()  # one in-memory database means one connection
        if self._reader is None:
            self._reader = self.engine.connect()
        return self._reader

    async def begin_immediate(self, conn: Connection) -> None:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SQLITE_BUSY_TIMEOUT_S
        delay = 0.0005
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or loop.time() >= deadline:
                    raise
            await asyncio.sleep(delay)  # another process holds the write lock
            delay = min(delay * 2, 0.05)

    def committed(self) -> None:
        """Count a commit; every ``CHECKPOINT_EVERY`` start a passive checkpoint off the loop."""
        if self.memory:
            return
        self._commits += 1
        if self._commits < CHECKPOINT_EVERY or (self._checkpoint is not None and not self._checkpoint.done()):
            return
        self._commits = 0
        self._checkpoint = asyncio.get_running_loop().run_in_executor(None, self._run_checkpoint)

    def _run_checkpoint(self) -> None:
        try:
            if self._checkpointer is None:
                self._checkpointer = sqlite3.connect(self.path or "", timeout=SQLITE_BUSY_TIMEOUT_S,
                                                     isolation_level=None, check_same_thread=False)
            # PASSIVE: copies what it can without waiting for, or blocking, readers and the writer.
            self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            pass  # the next one catches up; a failed checkpoint loses nothing

    async def aclose(self) -> None:
        if self._checkpoint is not None:
            await asyncio.gather(self._checkpoint, return_exceptions=True)
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        self.close()

    def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                conn.close()
        self._reader = self._writer = None
        self.engine.dispose()


class Database:
    """An engine plus the rule for opening read and write transactions on it."""

    def __init__(self, url: str | URL, *, pool_size: int = 10) -> None:
        self.url = normalise_url(url)
        self.dialect = self.url.get_backend_name()
        self._sqlite: _SqliteConnections | None = None
        self._pg: PgDatabase | None = None
        if self.dialect == "sqlite":
            self._sqlite = _SqliteConnections(self.url)
            self.engine = _sqlite_async_engine(self.url)  # compatibility only; connects lazily
            self._write_lock: asyncio.Lock | None = asyncio.Lock()
        else:
            self.engine = _postgres_engine(self.url, pool_size)  # migrations and run_sync; connects lazily
            self._pg = _postgres_direct(self.url, self.engine, pool_size)
            self._write_lock = None

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    #: Each ``write()`` is a transaction of its own: a repository whose write block runs one
    #: statement may mark it ``final`` (on PostgreSQL it then runs without BEGIN / COMMIT).
    own_transaction = True

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Any]:
        """One transaction that may write; committed on success, rolled back on error."""
        if self._pg is not None:
            async with self._pg.write() as conn:
                yield conn
            return
        assert self._sqlite is not None and self._write_lock is not None
        async with self._write_lock:
            conn = self._sqlite.writer()
            raw = conn.connection.dbapi_connection
            if conn.in_transaction():
                conn.rollback()  # a stale autobegun (read-only) SQLAlchemy transaction: no SQL
            await self._sqlite.begin_immediate(conn)
            conn.begin()  # bookkeeping only: pysqlite emits nothing for it
            try:
                yield SyncConnection(conn)
            except BaseException:
                conn.rollback()
                if raw is not None and raw.in_transaction:
                    raw.rollback()
                raise
            conn.commit()
            if raw is not None and raw.in_transaction:  # nothing was executed through SQLAlchemy
                raw.commit()
            self._sqlite.committed()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Any]:
        """Reads of committed data; on SQLite they never wait for the writer."""
        if self._pg is not None:
            # Autocommit: a read is one statement (its own snapshot of committed data), so no
            # BEGIN / ROLLBACK round trips around it.
            async with self._pg.read() as conn:
                yield conn
            return
        assert self._sqlite is not None
        conn = self._sqlite.reader()
        try:
            yield SyncConnection(conn)
        finally:
            if not self._sqlite.memory and conn.in_transaction():
                conn.rollback()  # ends SQLAlchemy's autobegin; the driver is in autocommit

    @asynccontextmanager
    async def sa_connection(self, *, write: bool) -> AsyncIterator[Any]:
        """A SQLAlchemy connection (``run_sync``, Alembic): a transaction when ``write``,
        autocommit reads otherwise. On SQLite the same as ``write()`` / ``read()``."""
        if self._pg is None:
            async with (self.write() if write else self.read()) as conn:
                yield conn
        elif write:
            async with self.engine.begin() as aconn:
                yield aconn
        else:
            async with _autocommit(self.engine) as aconn:
                yield aconn

    async def dispose(self) -> None:
        if self._sqlite is not None:
            await self._sqlite.aclose()
        if self._pg is not None:
            await self._pg.pool.close()
        await self.engine.dispose()


class BoundDatabase:
    """The same interface over one open transaction, so several repositories share it."""

    def __init__(self, parent: Database, conn: Any) -> None:
        self._parent = parent
        self._conn = conn
        self.dialect = parent.dialect

    @property
    def is_postgres(self) -> bool:
        return self._parent.is_postgres

    #: ``write()`` joins the caller's transaction: more statements may follow.
    own_transaction = False

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Any]:
        yield self._conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Any]:
        yield self._conn
