"""Row <-> record mapping and the dialect-specific bits of INSERT ... ON CONFLICT."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

from sqlalchemy import Row, Table
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
