"""Bring a database to the newest schema at startup, safely from several replicas at once.

Runs inside one write transaction: on PostgreSQL it first takes a transaction-scoped
advisory lock, so a second replica waits and then finds nothing to do; on SQLite the
``BEGIN IMMEDIATE`` write lock does the same. DDL is transactional on both, so a failed
migration leaves the previous schema intact.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from .engine import Database

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: Arbitrary constant key for pg_advisory_xact_lock ("kakehashi" -> int64).
ADVISORY_LOCK_KEY = 0x4B414B4548415348


@cache
def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


@cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _upgrade(conn: Connection) -> bool:
    if current_revision(conn) == head_revision():
        return False
    cfg = _config()
    cfg.attributes["connection"] = conn
    try:
        command.upgrade(cfg, "head")
    finally:
        cfg.attributes.pop("connection", None)
    return True


async def upgrade_to_head(db: Database) -> bool:
    """Migrate to the newest revision; returns whether anything was applied."""
    async with db.sa_connection(write=False) as conn:
        if await conn.run_sync(current_revision) == head_revision():
            return False  # fast path: the common restart, no lock taken
    async with db.sa_connection(write=True) as conn:
        if db.is_postgres:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        return await conn.run_sync(_upgrade)
