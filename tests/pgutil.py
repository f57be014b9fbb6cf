"""PostgreSQL for tests: one fresh database per session, dropped afterwards.

Import the ``pg_url`` fixture into a test module (``from tests.pgutil import pg_url``) or
use :func:`fresh_database` directly. When no server answers, tests skip with a clear
message — unless ``CI`` is set, where a missing database is a broken CI setup and fails.

The server is found at ``KAKEHASHI_TEST_PG`` (an admin DSN such as
``postgresql://postgres@127.0.0.1:5432/test``) or, by default, on 127.0.0.1:5432 as user
``postgres`` then ``root``, database ``test``.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url

ENV_DSN = "KAKEHASHI_TEST_PG"
DEFAULT_DSNS = (
    "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql://root@127.0.0.1:5432/test",
)
CONNECT_TIMEOUT_S = 3.0
T = TypeVar("T")


def _run(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on a private loop in a helper thread (safe inside a running loop)."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(factory())  # type: ignore[arg-type]
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="pgutil")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def _candidates() -> tuple[str, ...]:
    override = os.environ.get(ENV_DSN)
    return (override,) if override else DEFAULT_DSNS


@cache
def _probe() -> tuple[str | None, str]:
    """(working admin DSN, or None with the reasons each candidate failed)."""
    errors = []
    for dsn in _candidates():
        async def attempt(dsn: str = dsn) -> None:
            conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_S)
            await conn.close()
        try:
            _run(attempt)
            return dsn, ""
        except Exception as exc:  # noqa: BLE001 — every failure is a reason to report
            errors.append(f"{make_url(dsn).render_as_string(hide_password=True)}: {type(exc).__name__}: {exc}")
    return None, "; ".join(errors)


def admin_dsn() -> str | None:
    return _probe()[0]


def require_postgres() -> str:
    """The admin DSN; otherwise skip (developer machine) or fail (CI set)."""
    dsn, why = _probe()
    if dsn is not None:
        return dsn
    message = f"PostgreSQL not reachable ({why}); set {ENV_DSN} to a server's admin DSN"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {message}", pytrace=False)
    pytest.skip(message)


def sqlalchemy_url(dsn: str, database: str) -> str:
    """The ``postgresql+asyncpg://`` URL for ``database`` on the server of ``dsn``."""
    url = make_url(dsn).set(drivername="postgresql+asyncpg", database=database)
    return url.render_as_string(hide_password=False)


def create_database(prefix: str = "kk_test") -> str:
    """Create an empty, uniquely named database; returns its SQLAlchemy URL."""
    dsn = require_postgres()
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_S)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    _run(create)
    return sqlalchemy_url(dsn, name)


def drop_database(url: str) -> None:
    """Drop a database made by :func:`create_database`, disconnecting leftover sessions."""
    dsn = require_postgres()
    name = make_url(url).database
    if not name or '"' in name:
        raise ValueError(f"refusing to drop database {name!r}")

    async def drop() -> None:
        conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_S)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    _run(drop)


@contextmanager
def fresh_database(prefix: str = "kk_test") -> Iterator[str]:
    """A new empty database for the ``with`` block (SQLAlchemy URL), dropped afterwards."""
    url = create_database(prefix)
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (``postgresql+asyncpg://`` URL)."""
    with fresh_database("kk_session") as url:
        yield url
