"""Append-only audit log rows, hash-chained (see hashchain.py for the chain rule).

Appends are serialised so each row links to the one before: on PostgreSQL with a
transaction-scoped advisory lock (replicas share one chain), taken and followed by the head
read in one round trip (``kakehashi_audit_head``, migration 0002: its VOLATILE body reads the
head with a snapshot taken after the lock is granted); on SQLite by the writer lock.
There is no update or delete method on purpose.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text

from .hashchain import GENESIS_HASH, ChainBreak, entry_hash, verify_chain
from .leases import Db
from .records import AuditEntry, JsonObject
from .rows import to_record
from .tables import audit_log

ADVISORY_LOCK_KEY = 0x4B4B415544495431  # "KKAUDIT1"
_INSERT = insert(audit_log)
#: PostgreSQL: take the chain's lock, then read the head (see migration 0002)
_LOCKED_HEAD = text("SELECT seq, hash FROM kakehashi_audit_head(:k)")
_LAST = select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)


class AuditRepository:
    def __init__(self, db: Db, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock

    async def append(self, kind: str, payload: JsonObject) -> AuditEntry:
        at = self._clock()
        async with self._db.write() as conn:
            if self._db.is_postgres:
                last = (await conn.execute(_LOCKED_HEAD, {"k": ADVISORY_LOCK_KEY})).first()
            else:
                last = (await conn.execute(_LAST)).first()
            seq, prev = (last.seq + 1, last.hash) if last is not None else (1, GENESIS_HASH)
            entry = AuditEntry(
                seq=seq, prev_hash=prev, hash=entry_hash(prev, seq, kind, payload, at), kind=kind,
                payload=payload, at=at,
            )
            await conn.execute(_INSERT, _values(entry))
        return entry

    async def head(self) -> AuditEntry | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select(audit_log).order_by(audit_log.c.seq.desc()).limit(1))).first()
        return to_record(AuditEntry, row) if row is not None else None

    async def entries(self, from_seq: int = 1, to_seq: int | None = None, *, kind: str | None = None,
                      limit: int = 1000) -> list[AuditEntry]:
        stmt = select(audit_log).where(audit_log.c.seq >= from_seq)
        if to_seq is not None:
            stmt = stmt.where(audit_log.c.seq <= to_seq)
        if kind is not None:
            stmt = stmt.where(audit_log.c.kind == kind)
        stmt = stmt.order_by(audit_log.c.seq).limit(limit)
        async with self._db.read() as conn:
            return [to_record(AuditEntry, r) for r in (await conn.execute(stmt)).all()]

    async def iterate(self, batch: int = 1000) -> AsyncIterator[AuditEntry]:
        """Every entry in order, read in batches so a long log never sits in memory at once."""
        next_seq = 1
        while True:
            rows = await self.entries(next_seq, limit=batch)
            for row in rows:
                yield row
            if len(rows) < batch:
                return
            next_seq = rows[-1].seq + 1

    async def verify(self) -> ChainBreak | None:
        """Check the whole stored chain; the first broken seq and why, or None if intact."""
        prev_hash, next_seq = GENESIS_HASH, 1
        while True:
            rows = await self.entries(next_seq, limit=1000)
            if not rows:
                return None
            broken = verify_chain(rows, expected_prev=prev_hash, expected_seq=next_seq)
            if broken is not None:
                return broken
            prev_hash, next_seq = rows[-1].hash, rows[-1].seq + 1


def _values(entry: AuditEntry) -> dict[str, Any]:
    return {"seq": entry.seq, "prev_hash": entry.prev_hash, "hash": entry.hash, "kind": entry.kind,
            "payload": entry.payload, "at": entry.at}
