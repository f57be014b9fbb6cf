"""Row leases: how replicas sharing one database split the work without driving a row twice.

A lease is ``(lease_owner, lease_expires_at)`` on the row. Claiming is one atomic UPDATE:
on PostgreSQL the candidate rows are picked with ``FOR UPDATE SKIP LOCKED`` so concurrent
claimers skip each other's rows instead of waiting; on SQLite the whole statement runs under
the single writer lock (``BEGIN IMMEDIATE``). A replica that dies simply stops renewing; once
its leases expire another replica claims the rows. Version checks on updates stop a replica
that wakes up late from overwriting the newer owner's work.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Column, Row, Table, bindparam, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from .engine import BoundDatabase, Database

Db = Database | BoundDatabase


def lease_free(table: Table, now: Any) -> ColumnElement[bool]:
    return or_(table.c.lease_expires_at.is_(None), table.c.lease_expires_at <= now)


def check(owner: str, lease_seconds: float) -> None:
    if not owner:
        raise ValueError("lease owner must be a non-empty replica id")
    if lease_seconds <= 0:
        raise ValueError(f"lease_seconds must be positive, got {lease_seconds}")


async def lease_due(
    db: Db,
    table: Table,
    key: Column[Any],
    *,
    due: Sequence[ColumnElement[bool]],
    order_by: Sequence[Column[Any]],
    owner: str,
    limit: int,
    lease_seconds: float,
    now: datetime,
) -> list[Row[Any]]:
    """Claim up to ``limit`` unleased rows matching ``due`` for ``owner``; returns them."""
    check(owner, lease_seconds)
    if limit <= 0:
        return []
    candidates = (
        select(key)
        .where(*due, lease_free(table, now))
        .order_by(*order_by)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .correlate(None)  # a self-contained subquery, not correlated to the UPDATE's table
    )
    stmt = (
        update(table)
        .where(key.in_(candidates.scalar_subquery()))
        .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds))
        .returning(*table.c)
    )
    async with db.write() as conn:
        rows = list((await conn.execute(stmt)).all())
    rows.sort(key=lambda r: tuple(getattr(r, c.name) for c in order_by))
    return rows


async def claim(
    db: Db,
    table: Table,
    key: Column[Any],
    value: Any,
    *,
    owner: str,
    lease_seconds: float,
    now: datetime,
    extra: Sequence[ColumnElement[bool]] = (),
) -> Row[Any] | None:
    """Lease one row if it is free, expired or already ours (renewal); None if someone holds it.
    ``extra`` conditions should be built once (the statement is cached per table, key and extra)."""
    check(owner, lease_seconds)
    params = {"k_key": value, "k_owner": owner, "k_now": now, "k_until": now + timedelta(seconds=lease_seconds)}
    async with db.write() as conn:
        return (await conn.execute(_claim(table, key, tuple(extra)), params, final=db.own_transaction)).first()


@cache
def _claim(table: Table, key: Column[Any], extra: tuple[ColumnElement[bool], ...]) -> Any:
    now = bindparam("k_now", type_=table.c.lease_expires_at.type)
    owner = bindparam("k_owner", type_=table.c.lease_owner.type)
    return (
        update(table)
        .where(key == bindparam("k_key", type_=key.type), or_(lease_free(table, now), table.c.lease_owner == owner),
               *extra)
        .values(lease_owner=owner, lease_expires_at=bindparam("k_until", type_=table.c.lease_expires_at.type))
        .returning(*table.c)
    )


@cache
def _release(table: Table, key: Column[Any]) -> Any:
    return (
        update(table)
        .where(key == bindparam("k_key", type_=key.type),
               table.c.lease_owner == bindparam("k_owner", type_=table.c.lease_owner.type))
        .values(lease_owner=None, lease_expires_at=None)
    )


async def release(db: Db, table: Table, key: Column[Any], value: Any, *, owner: str) -> bool:
    """Give a lease back early; False if ``owner`` no longer holds it."""
    async with db.write() as conn:
        return (await conn.execute(_release(table, key), {"k_key": value, "k_owner": owner},
                                   final=db.own_transaction)).rowcount == 1


async def release_all(db: Db, table: Table, *, owner: str) -> int:
    """Drop every lease ``owner`` holds: a replica restarting under a stable id calls this at
    startup (nothing of its old self is still running), so its rows resume at once instead
    of after lease expiry."""
    stmt = update(table).where(table.c.lease_owner == owner).values(lease_owner=None, lease_expires_at=None)
    async with db.write() as conn:
        return (await conn.execute(stmt)).rowcount
