"""PostgreSQL without SQLAlchemy's asyncio layer on the store's own statements.

SQLAlchemy's asyncio engine runs every statement through a greenlet bridge, its pool, a
cursor adapter and a ``Result`` object; with asyncpg that was most of a connector's CPU per
negotiation (measured: 13-15 ms per side, against ~5 ms on SQLite). Here the repositories'
SQLAlchemy Core statements are compiled once per statement shape with the engine's own
PostgreSQL dialect (same SQL, same bind casts, same type processing: tz-aware timestamps,
JSON serialised by the engine's serializer) and executed directly on asyncpg connections
(which prepare and cache them server-side), from a small pool of our own. Results come back
as :class:`PgResult` with the methods the repositories use.

SQLAlchemy is still what builds every statement, and it still runs migrations and anything
that needs a SQLAlchemy connection (``run_sync``): see :meth:`Database.sa_connection`.

Transactions: a write is ``BEGIN`` ... ``COMMIT`` on one connection (durable commits unless
the URL opts out with ``synchronous_commit=off``); a read is one statement in autocommit.
A connection that fails with a connection-level error is dropped together with the idle
ones (they most likely died with the same server); a transaction interrupted by an error is
rolled back before its connection is reused, one interrupted by cancellation is closed.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque, namedtuple
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ClauseElement

#: Errors after which a connection is not used again.
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    ConnectionError,
    OSError,
)


_ROW_CLASSES: dict[tuple[str, ...], type] = {}


def _row_class(keys: tuple[str, ...]) -> type:
    """A named tuple with SQLAlchemy ``Row``'s ``_asdict`` / ``_mapping`` / attribute access
    (one class per column list, made once)."""
    cls = _ROW_CLASSES.get(keys)
    if cls is None:
        base = namedtuple("Row", keys, rename=True)  # type: ignore[misc]
        cls = type("Row", (base,), {
            "__slots__": (),
            "_keys": keys,
            "_mapping": property(lambda self: dict(zip(keys, self))),
            "_asdict": lambda self: dict(zip(keys, self)),
        })
        if len(_ROW_CLASSES) < 10_000:
            _ROW_CLASSES[keys] = cls
    return cls


_FETCH, _STATUS, _BOTH = 0, 1, 2


def _text_mode(sql: str) -> int:
    """How to run a textual statement: by its first keyword (and RETURNING for DML); a WITH
    query could end in either, so it is run the general way."""
    words = sql.lstrip(" \t\r\n(").split(None, 1)
    first = words[0].upper() if words else ""
    if first in ("SELECT", "VALUES", "SHOW", "TABLE", "EXPLAIN"):
        return _FETCH
    if first in ("INSERT", "UPDATE", "DELETE", "MERGE"):
        return _FETCH if "RETURNING" in sql.upper() else _STATUS
    return _BOTH


class _Shape:
    """What one compiled statement shape needs at execution, whatever its literal values:
    SQL, parameter order and bind processors, how to read its rows."""

    __slots__ = ("compiled", "sql", "names", "processors", "required", "mode", "row_cls", "result_procs",
                 "expanding")

    def __init__(self, compiled: Any, dialect: Dialect) -> None:
        self.compiled = compiled
        self.sql: str = compiled.string
        self.expanding = bool(compiled.post_compile_params or compiled.literal_execute_params)
        bind_procs = compiled._bind_processors  # noqa: SLF001 — the dialect's bind processing per name
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self.processors = tuple(bind_procs.get(n) for n in self.names)
        self.required = frozenset(n for n in self.names if compiled.binds[n].required)
        dml = compiled.isinsert or compiled.isupdate or compiled.isdelete
        cols = compiled._result_columns  # noqa: SLF001 — (key, name, objects, type) per result column
        #: FETCH: rows (SELECT, RETURNING); STATUS: a row count only; BOTH: unknown (DDL, other
        #: text), run through an uncached prepared statement
        if cols or (dml and compiled.effective_returning):
            self.mode = _FETCH
        elif dml:
            self.mode = _STATUS
        else:
            self.mode = _text_mode(self.sql)
        if cols:
            self.row_cls: type | None = _row_class(tuple(c[0] for c in cols))
            procs = [c[3]._cached_result_processor(dialect, None) for c in cols]  # noqa: SLF001
            self.result_procs: tuple[Any, ...] | None = tuple(procs) if any(procs) else None
        else:
            self.row_cls, self.result_procs = None, None


class _Plan:
    """A shape plus the literal values of one statement object."""

    __slots__ = ("shape", "sql", "args", "required", "mode", "expanding")

    def __init__(self, shape: _Shape, extracted: Any) -> None:
        self.shape = shape
        self.sql = shape.sql
        self.mode = shape.mode
        self.required = shape.required
        self.expanding = shape.expanding
        if shape.names:
            consts = shape.compiled.construct_params(None, extracted_parameters=extracted, _check=False)
            self.args = tuple((n, p, consts.get(n)) for n, p in zip(shape.names, shape.processors))
        else:
            self.args = ()

    def arguments(self, params: dict[str, Any] | None) -> tuple[str, list[Any]]:
        if self.expanding:
            return self._expanded(params)
        if params:
            missing = self.required.difference(params)
            if missing:
                raise sa_exc.ArgumentError(f"a value is required for bind parameter(s) {sorted(missing)}")
            return self.sql, [proc(params.get(n, c)) if proc is not None else params.get(n, c)
                              for n, proc, c in self.args]
        if self.required:
            raise sa_exc.ArgumentError(f"a value is required for bind parameter(s) {sorted(self.required)}")
        return self.sql, [proc(c) if proc is not None else c for _, proc, c in self.args]

    def _expanded(self, params: dict[str, Any] | None) -> tuple[str, list[Any]]:
        values = {n: c for n, _, c in self.args}
        if params:
            values.update(params)
        state = self.shape.compiled.construct_expanded_state(values)
        procs = state.processors
        out = []
        for n in state.positiontup or []:
            v = state.parameters[n]
            proc = procs.get(n)
            out.append(proc(v) if proc is not None else v)
        return state.statement, out

    def rows(self, records: list[Any]) -> list[Any]:
        cls = self.shape.row_cls
        if cls is None:
            if not records:
                return []
            cls = _row_class(tuple(records[0].keys()))
            return [tuple.__new__(cls, r) for r in records]
        procs = self.shape.result_procs
        if procs is None:
            return [tuple.__new__(cls, r) for r in records]
        return [tuple.__new__(cls, [v if p is None else p(v) for p, v in zip(procs, r)]) for r in records]


class StatementCache:
    """Compiled plans per statement *object* (the store's hot statements are built once) and
    per SQLAlchemy cache key (statements built per call, e.g. with literal values), each per
    set of parameter names (an INSERT or UPDATE compiles to the columns it is given)."""

    MAX_OBJECTS = 2000
    MAX_SHAPES = 2000

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._by_object: dict[int, tuple[Any, dict[tuple[str, ...], _Plan]]] = {}
        self._by_key: dict[Any, _Shape] = {}

    def plan(self, stmt: Any, keys: tuple[str, ...]) -> _Plan:
        entry = self._by_object.get(id(stmt))
        if entry is not None and entry[0] is stmt:
            found = entry[1].get(keys)
            if found is not None:
                return found
        else:
            if len(self._by_object) >= self.MAX_OBJECTS:
                self._by_object.clear()
            entry = (stmt, {})
            self._by_object[id(stmt)] = entry
        plan = self._compile(stmt, keys)
        entry[1][keys] = plan
        return plan

    def _compile(self, stmt: Any, keys: tuple[str, ...]) -> _Plan:
        ck = stmt._generate_cache_key()  # noqa: SLF001
        if ck is None:  # not cacheable: compile for this object only
            return _Plan(_Shape(stmt.compile(dialect=self.dialect, column_keys=list(keys)), self.dialect), None)
        key = (ck.key, keys)
        shape = self._by_key.get(key)
        if shape is None:
            if len(self._by_key) >= self.MAX_SHAPES:
                self._by_key.clear()
            shape = _Shape(stmt.compile(dialect=self.dialect, column_keys=list(keys), cache_key=ck), self.dialect)
            self._by_key[key] = shape
        return _Plan(shape, ck.bindparams)


class _Scalars:
    __slots__ = ("_values",)

    def __init__(self, values: list[Any]) -> None:
        self._values = values

    def all(self) -> list[Any]:
        return self._values

    def first(self) -> Any:
        return self._values[0] if self._values else None

    def one(self) -> Any:
        return _one(self._values)

    def one_or_none(self) -> Any:
        return _one_or_none(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)


def _one(rows: list[Any]) -> Any:
    if not rows:
        raise sa_exc.NoResultFound("No row was found when one was required")
    if len(rows) > 1:
        raise sa_exc.MultipleResultsFound("Multiple rows were found when exactly one was required")
    return rows[0]


def _one_or_none(rows: list[Any]) -> Any:
    if len(rows) > 1:
        raise sa_exc.MultipleResultsFound("Multiple rows were found when one or none was required")
    return rows[0] if rows else None


class PgResult:
    """The part of SQLAlchemy's ``Result`` the store uses; rows are fully fetched."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def all(self) -> list[Any]:
        return self._rows

    fetchall = all

    def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    def one(self) -> Any:
        return _one(self._rows)

    def one_or_none(self) -> Any:
        return _one_or_none(self._rows)

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return _one(self._rows)[0]

    def scalar_one_or_none(self) -> Any:
        row = _one_or_none(self._rows)
        return row[0] if row is not None else None

    def scalars(self) -> _Scalars:
        return _Scalars([r[0] for r in self._rows])

    def mappings(self) -> _Scalars:
        return _Scalars([r._asdict() for r in self._rows])

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


def _count(status: str | None) -> int:
    """Rows affected, from a command tag such as ``UPDATE 1`` or ``INSERT 0 1``."""
    if status:
        tail = status.rsplit(" ", 1)[-1]
        if tail.isdigit():
            return int(tail)
    return -1


#: PgConnection states: reads in autocommit; a write transaction not yet begun (BEGIN is
#: sent with its first statement), begun, or ended by a ``final`` statement.
_AUTOCOMMIT, _PENDING, _BEGUN, _ENDED, _ENDED_BEGUN = 0, 1, 2, 3, 4


class PgConnection:
    """The async-connection interface the repositories use, over one asyncpg connection.

    In a write transaction ``BEGIN`` is sent just before the first statement (a transaction
    that executes nothing costs no round trip). ``execute(..., final=True)`` declares that the
    transaction executes nothing after this statement: when it is also the first one, it runs
    without ``BEGIN`` / ``COMMIT`` (one statement is atomic and committed by itself, with the
    same durability); anything executed after a final statement is refused.
    """

    __slots__ = ("_conn", "_cache", "_fallback", "state")

    def __init__(self, conn: asyncpg.Connection, cache: StatementCache,
                 fallback: Callable[[], Any] | None = None, *, write: bool = False) -> None:
        self._conn = conn
        self._cache = cache
        self._fallback = fallback
        self.state = _PENDING if write else _AUTOCOMMIT

    async def _before(self, final: bool) -> None:
        state = self.state
        if state == _PENDING:
            if final:
                self.state = _ENDED
                return
            await self._conn.execute("BEGIN")
            self.state = _BEGUN
        elif state >= _ENDED:
            raise RuntimeError("a statement after the transaction's final statement")
        elif final and state == _BEGUN:
            self.state = _ENDED_BEGUN

    @property
    def dialect(self) -> Dialect:
        return self._cache.dialect

    @property
    def driver_connection(self) -> asyncpg.Connection:
        return self._conn

    @property
    def begun(self) -> bool:
        """Whether a BEGIN was sent (so the transaction ends with COMMIT or ROLLBACK)."""
        return self.state in (_BEGUN, _ENDED_BEGUN)

    async def execute(self, statement: Any, parameters: Any = None, *, final: bool = False, **_: Any) -> PgResult:
        if self.state != _AUTOCOMMIT:
            await self._before(final)
        if isinstance(parameters, list | tuple) and parameters and isinstance(parameters[0], dict):
            return await self._executemany(statement, parameters)
        plan = self._cache.plan(statement, tuple(parameters) if parameters else ())
        sql, args = plan.arguments(parameters)
        mode = plan.mode
        if mode == _FETCH:
            rows = plan.rows(await self._conn.fetch(sql, *args))
            return PgResult(rows, len(rows))
        if mode == _STATUS:
            return PgResult([], _count(await self._conn.execute(sql, *args)))
        prepared = await self._conn.prepare(sql)
        rows = plan.rows(await prepared.fetch(*args))
        return PgResult(rows, _count(prepared.get_statusmsg()))

    async def _executemany(self, statement: Any, parameters: Any) -> PgResult:
        plan = self._cache.plan(statement, tuple(parameters[0]))
        batch = [plan.arguments(p) for p in parameters]
        if plan.expanding and len({sql for sql, _ in batch}) > 1:
            for sql, args in batch:
                await self._conn.execute(sql, *args)
        else:
            await self._conn.executemany(batch[0][0], [args for _, args in batch])
        return PgResult([], -1)

    async def scalar(self, statement: Any, parameters: Any = None, **kw: Any) -> Any:
        return (await self.execute(statement, parameters, **kw)).scalar()

    async def exec_driver_sql(self, statement: str, parameters: Any = None, **_: Any) -> PgResult:
        """Driver SQL (``$1`` placeholders); ``parameters`` a tuple, or None."""
        if self.state != _AUTOCOMMIT:
            await self._before(False)
        args = list(parameters) if parameters else []
        records = await self._conn.fetch(statement, *args)
        if not records:
            return PgResult([], 0)
        cls = _row_class(tuple(records[0].keys()))
        return PgResult([tuple.__new__(cls, r) for r in records], len(records))

    async def run_sync(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """Run ``fn`` on a SQLAlchemy connection. Only for reads (it is a connection of its
        own, outside this one's transaction); writes that need SQLAlchemy use
        ``Database.sa_connection``."""
        if self._fallback is None:
            raise NotImplementedError("run_sync inside a PostgreSQL write: use Database.sa_connection(write=True)")
        async with self._fallback() as conn:
            return await conn.run_sync(fn, *args, **kw)

    def get_execution_options(self) -> dict[str, Any]:
        return {}


def _json_codecs(serializer: Callable[[Any], str] | None, deserializer: Callable[[str], Any] | None) -> Any:
    """The codecs SQLAlchemy's asyncpg dialect installs (binary JSON / JSONB); bind values
    arrive already serialised by the dialect's bind processors."""
    loads = deserializer or json.loads

    async def setup(conn: asyncpg.Connection) -> None:
        await conn.set_type_codec("json", encoder=str.encode, decoder=lambda b: loads(b.decode()),
                                  schema="pg_catalog", format="binary")
        await conn.set_type_codec("jsonb", encoder=lambda s: b"\x01" + s.encode(),
                                  decoder=lambda b: loads(b[1:].decode()), schema="pg_catalog", format="binary")

    return setup


#: How many pool connections the current task (and the tasks it starts) holds.
_HELD: ContextVar[int] = ContextVar("kakehashi_pg_connections_held", default=0)


class PgPool:
    """A minimal asyncpg pool: ``size`` kept connections plus up to ``overflow`` more under load.

    No reset queries on release (our connections carry no session state: every transaction
    ends in COMMIT or ROLLBACK, and nothing sets session variables), no pre-ping. Connections
    beyond ``size`` are closed once they have sat idle for ``OVERFLOW_IDLE_S``, not as soon as
    they are returned: under bursts, closing them at once meant opening a new connection
    (a new server backend, an SSL probe) for a good share of the transactions.

    A task that already holds a connection never waits for a second one (a read through the
    root store inside a transaction): it gets a new connection beyond the limit instead, so
    transactions that each wait for a second connection cannot starve the pool. Anyone else
    waits at most ``timeout`` seconds, then gets ``TimeoutError``.
    """

    OVERFLOW_IDLE_S = 30.0

    def __init__(self, connect_kwargs: dict[str, Any], *, size: int, overflow: int,
                 setup: Callable[[asyncpg.Connection], Any], timeout: float = 30.0) -> None:
        self._kwargs = connect_kwargs
        self._timeout = timeout
        self._size = size
        self._max = size + overflow
        self._setup = setup
        self._idle: list[tuple[asyncpg.Connection, float]] = []  # most recently used last
        self._count = 0
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self._closed = False

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(**self._kwargs)
        try:
            await self._setup(conn)
        except BaseException:
            conn.terminate()
            raise
        return conn

    async def acquire(self, *, nested: bool = False) -> asyncpg.Connection:
        """A connection; ``nested``: the caller already holds one (so it must not wait)."""
        if self._closed:
            raise asyncpg.exceptions.InterfaceError("the store's connection pool is closed")
        while self._idle:
            conn, _ = self._idle.pop()
            if not conn.is_closed():
                return conn
            self._count -= 1
        if self._count >= self._max and not nested:
            fut: asyncio.Future[asyncpg.Connection | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                async with asyncio.timeout(self._timeout):
                    conn_or_slot = await fut
            except BaseException as exc:
                if fut.done() and not fut.cancelled():
                    self._hand_back(fut.result())
                else:
                    fut.cancel()
                if isinstance(exc, TimeoutError):
                    raise TimeoutError(f"no PostgreSQL connection free within {self._timeout:g} s "
                                       f"({self._count} open)") from None
                raise
            if conn_or_slot is not None:
                return conn_or_slot
            # a slot was freed for us: connect below (the count already includes it)
        else:
            self._count += 1
        try:
            return await self._connect()
        except BaseException:
            self._count -= 1
            self._wake_slot()
            raise

    def _hand_back(self, conn: asyncpg.Connection | None) -> None:
        if conn is None:
            self._count -= 1
            self._wake_slot()
        else:
            self.release(conn)

    def _wake_slot(self) -> None:
        while self._waiters and self._count < self._max:
            w = self._waiters.popleft()
            if not w.done():
                self._count += 1
                w.set_result(None)
                return

    def release(self, conn: asyncpg.Connection) -> None:
        if self._closed or conn.is_closed():
            self.discard(conn)
            return
        while self._waiters:
            w = self._waiters.popleft()
            if not w.done():
                w.set_result(conn)
                return
        now = asyncio.get_running_loop().time()
        self._idle.append((conn, now))
        if len(self._idle) > self._size and self._idle[0][1] < now - self.OVERFLOW_IDLE_S:
            stale, _ = self._idle.pop(0)  # the longest idle: load has gone down
            self._count -= 1
            stale.terminate()

    def discard(self, conn: asyncpg.Connection) -> None:
        conn.terminate()
        self._count -= 1
        self._wake_slot()

    def discard_idle(self) -> None:
        """After a connection-level failure: the idle ones most likely died with it."""
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            conn.terminate()
            self._count -= 1
        self._wake_slot()

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            self._count -= 1
            try:
                await asyncio.wait_for(conn.close(), 5)
            except Exception:  # closing a dead connection: nothing to save
                conn.terminate()
        while self._waiters:
            w = self._waiters.popleft()
            if not w.done():
                w.set_exception(asyncpg.exceptions.InterfaceError("the store's connection pool is closed"))


class PgDatabase:
    """Read and write transactions on a :class:`PgPool`, with one statement cache."""

    def __init__(self, pool: PgPool, dialect: Dialect, fallback: Callable[[], Any]) -> None:
        self.pool = pool
        self.cache = StatementCache(dialect)
        self._fallback = fallback

    def _failed(self, conn: asyncpg.Connection, exc: BaseException) -> bool:
        """Whether ``conn`` must be dropped after ``exc`` (then the idle ones go too)."""
        if conn.is_closed() or isinstance(exc, _CONNECTION_ERRORS):
            self.pool.discard(conn)
            self.pool.discard_idle()
            return True
        return False

    @asynccontextmanager
    async def write(self) -> AsyncIterator[PgConnection]:
        held = _HELD.get()
        conn = await self.pool.acquire(nested=held > 0)
        token = _HELD.set(held + 1)
        try:
            pc = PgConnection(conn, self.cache, write=True)
            yield pc
            if pc.begun:
                await conn.execute("COMMIT")
        except asyncio.CancelledError:
            self.pool.discard(conn)  # mid-statement or mid-transaction: its state is unknown
            raise
        except BaseException as exc:
            if not self._failed(conn, exc):
                try:
                    if conn.is_in_transaction():
                        await conn.execute("ROLLBACK")
                except BaseException:
                    self.pool.discard(conn)
                    raise exc from None
                self.pool.release(conn)
            raise
        finally:
            _HELD.reset(token)
        self.pool.release(conn)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[PgConnection]:
        held = _HELD.get()
        conn = await self.pool.acquire(nested=held > 0)
        token = _HELD.set(held + 1)
        try:
            yield PgConnection(conn, self.cache, self._fallback)
        except asyncio.CancelledError:
            self.pool.discard(conn)
            raise
        except BaseException as exc:
            if not self._failed(conn, exc):
                if conn.is_in_transaction():  # a caller's own BEGIN through exec_driver_sql
                    self.pool.discard(conn)
                else:
                    self.pool.release(conn)
            raise
        finally:
            _HELD.reset(token)
        if conn.is_in_transaction():
            self.pool.discard(conn)
        else:
            self.pool.release(conn)
