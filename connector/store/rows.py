"""Row <-> record mapping and the dialect-specific bits of INSERT ... ON CONFLICT."""

from __future__ import annotations

from dataclasses import fields
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Row, Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

R = TypeVar("R")


def to_record(cls: type[R], row: Row[Any]) -> R:
    return cls(**row._asdict())


def values_of(record: Any, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """Column values of a record (all dataclass fields except ``exclude``)."""
    return {f.name: getattr(record, f.name) for f in fields(record) if f.name not in exclude}


def upsert_insert(dialect: str, table: Table) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing/do_update`` for ``dialect``."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# Statements on the hot paths are built once and executed with a parameter dict: building a
# statement with literal ``.values(...)`` costs more than running it on SQLite (SQLAlchemy
# makes a bind parameter and a cache key per value on every call).

@cache
def insert_returning(dialect: str, table: Table, *, ignore_conflict: bool = False) -> Any:
    """``INSERT ... [ON CONFLICT DO NOTHING] RETURNING *``; the columns come from the params."""
    stmt = upsert_insert(dialect, table)
    if ignore_conflict:
        stmt = stmt.on_conflict_do_nothing()
    return stmt.returning(*table.c)


@cache
def select_by(table: Table, *names: str) -> Any:
    """``SELECT * FROM table WHERE a = :k_a AND ...`` (parameters named ``k_<column>``)."""
    return select(table).where(*(table.c[n] == bindparam(f"k_{n}") for n in names))


def by(**values: Any) -> dict[str, Any]:
    """Parameters for :func:`select_by` / keyed updates."""
    return {f"k_{k}": v for k, v in values.items()}
