"""Negotiation and transfer process repositories: idempotent create, CAS update, leases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from functools import cache

from sqlalchemy import Table, bindparam, select, update

from . import leases
from .errors import AlreadyExists, ConcurrentUpdate, NotFound
from .leases import Db
from .query import QuerySpec, field_map, query_statement
from .records import Negotiation, Transfer
from .rows import by, insert_returning, select_by, to_record, values_of
from .tables import negotiations, transfers

P = TypeVar("P", Negotiation, Transfer)

#: Columns that ``update`` never writes: identity, CAS version and the lease (lease methods own it).
_NOT_UPDATED = ("id", "role", "version", "lease_owner", "lease_expires_at", "created_at", "updated_at")


@cache
def _cas_update(table: Table) -> object:
    """``UPDATE ... SET <params> WHERE id = :k_id AND version = :k_version RETURNING *``."""
    return (update(table).where(table.c.id == bindparam("k_id"), table.c.version == bindparam("k_version"))
            .returning(*table.c))


@cache
def _fill_provider_pid(table: Table) -> object:
    """Set the providerPid of a process that has none yet (a new version, like any update)."""
    return (update(table)
            .where(table.c.id == bindparam("k_id"), table.c.provider_pid.is_(None))
            .values(provider_pid=bindparam("k_provider_pid"), version=table.c.version + 1,
                    updated_at=bindparam("k_updated_at")))


class ProcessRepository(Generic[P]):
    kind = "process"

    def __init__(self, db: Db, table: Table, record: type[P], clock: Callable[[], datetime]) -> None:
        self._db = db
        self._t = table
        self._record = record
        self._clock = clock
        self._fields = field_map(table, {"counterPartyAddress": "counter_party_address"})

    def _rec(self, row: Any) -> P:
        return to_record(self._record, row)

    async def create(self, record: P) -> P:
        """Insert a new process; AlreadyExists if its id or (role, pid) is taken."""
        stored, created = await self._insert(record)
        if not created:
            raise AlreadyExists(self.kind, record.id, "id or (role, consumerPid/providerPid) already used")
        return stored

    async def create_or_get(self, record: P) -> tuple[P, bool]:
        """Idempotent create for incoming requests: the same consumerPid/providerPid from the
        same counter-party returns the existing process (``created`` False).

        The pid is chosen by the partner, so a pid already used by a *different*
        counter-party is refused (AlreadyExists) rather than handing over someone else's process.
        """
        stored, created = await self._insert(record)
        if created:
            return stored, True
        existing = None
        if record.consumer_pid is not None:
            existing = await self.find_by_pid(record.role, consumer_pid=record.consumer_pid)
        if existing is None and record.provider_pid is not None:
            existing = await self.find_by_pid(record.role, provider_pid=record.provider_pid)
        if existing is None:
            raise AlreadyExists(self.kind, record.id)
        if existing.counter_party_id != record.counter_party_id:
            raise AlreadyExists(
                self.kind,
                record.consumer_pid or record.provider_pid or record.id,
                "process id already used by another participant",
            )
        return existing, False

    async def _insert(self, record: P) -> tuple[P, bool]:
        if record.role not in ("consumer", "provider"):
            raise ValueError(f"role must be 'consumer' or 'provider', got {record.role!r}")
        values = values_of(record)
        now = self._clock()
        values.update(version=0, lease_owner=None, lease_expires_at=None, created_at=now, updated_at=now)
        stmt = insert_returning(self._db.dialect, self._t, ignore_conflict=True)
        async with self._db.write() as conn:
            row = (await conn.execute(stmt, values, final=self._db.own_transaction)).first()
        return (self._rec(row), True) if row is not None else (record, False)

    async def get(self, process_id: str) -> P | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select_by(self._t, "id"), by(id=process_id))).first()
        return self._rec(row) if row is not None else None

    async def require(self, process_id: str) -> P:
        found = await self.get(process_id)
        if found is None:
            raise NotFound(self.kind, process_id)
        return found

    async def find_by_pid(
        self, role: str, *, consumer_pid: str | None = None, provider_pid: str | None = None
    ) -> P | None:
        """Look a process up by the protocol ids a message carries (either or both)."""
        if consumer_pid is None and provider_pid is None:
            raise ValueError("give consumer_pid or provider_pid")
        keys = {"role": role}
        if consumer_pid is not None:
            keys["consumer_pid"] = consumer_pid
        if provider_pid is not None:
            keys["provider_pid"] = provider_pid
        async with self._db.read() as conn:
            row = (await conn.execute(select_by(self._t, *keys), by(**keys))).first()
        return self._rec(row) if row is not None else None

    async def update(self, record: P, *, release_lease: bool = False) -> P:
        """Write ``record`` if the stored version is still ``record.version`` (compare-and-set).

        Returns the stored record with the new version. Raises ConcurrentUpdate when
        someone else wrote first (re-read, re-apply), NotFound when the row is gone.
        ``release_lease`` also drops the lease in the same statement.
        """
        values = values_of(record, exclude=_NOT_UPDATED)
        values.update(version=record.version + 1, updated_at=self._clock())
        if release_lease:
            values.update(lease_owner=None, lease_expires_at=None)
        values.update(by(id=record.id, version=record.version))
        async with self._db.write() as conn:
            row = (await conn.execute(_cas_update(self._t), values)).first()
            if row is None:
                actual = (
                    await conn.execute(select(self._t.c.version).where(self._t.c.id == record.id))
                ).scalar_one_or_none()
        if row is None:
            if actual is None:
                raise NotFound(self.kind, record.id)
            raise ConcurrentUpdate(self.kind, record.id, record.version, actual)
        return self._rec(row)

    async def fill_provider_pid(self, process_id: str, provider_pid: str) -> bool:
        """Record ``provider_pid`` on a process that has none yet, in one statement (no read
        first); False if the process is gone or already has one. A writer holding the old
        version gets ConcurrentUpdate, as after any update."""
        async with self._db.write() as conn:
            result = await conn.execute(_fill_provider_pid(self._t), {
                "k_id": process_id, "k_provider_pid": provider_pid, "k_updated_at": self._clock()},
                final=self._db.own_transaction)
        return result.rowcount == 1

    async def query(self, spec: QuerySpec) -> list[P]:
        stmt, params = query_statement(self._t, spec, self._fields)
        async with self._db.read() as conn:
            return [self._rec(r) for r in (await conn.execute(stmt, params)).all()]

    async def lease_due(self, owner: str, limit: int, lease_seconds: float) -> list[P]:
        """Atomically claim up to ``limit`` processes whose ``due_at`` has passed and that
        nobody holds (or whose holder's lease expired), oldest due first."""
        t = self._t
        now = self._clock()
        rows = await leases.lease_due(
            self._db, t, t.c.id,
            due=(t.c.due_at.is_not(None), t.c.due_at <= now),
            order_by=(t.c.due_at, t.c.id),
            owner=owner, limit=limit, lease_seconds=lease_seconds, now=now,
        )
        return [self._rec(r) for r in rows]

    async def claim(self, process_id: str, owner: str, lease_seconds: float) -> P | None:
        """Lease one process to drive it now (e.g. right after a message arrived), or renew
        our own lease; None if another replica holds it."""
        row = await leases.claim(
            self._db, self._t, self._t.c.id, process_id,
            owner=owner, lease_seconds=lease_seconds, now=self._clock(),
        )
        return self._rec(row) if row is not None else None

    async def release(self, process_id: str, owner: str) -> bool:
        return await leases.release(self._db, self._t, self._t.c.id, process_id, owner=owner)

    async def release_all(self, owner: str) -> int:
        """Free all of ``owner``'s leases (at startup under a stable replica id)."""
        return await leases.release_all(self._db, self._t, owner=owner)


class NegotiationRepository(ProcessRepository[Negotiation]):
    kind = "contract negotiation"

    def __init__(self, db: Db, clock: Callable[[], datetime]) -> None:
        super().__init__(db, negotiations, Negotiation, clock)


class TransferRepository(ProcessRepository[Transfer]):
    kind = "transfer process"

    def __init__(self, db: Db, clock: Callable[[], datetime]) -> None:
        super().__init__(db, transfers, Transfer, clock)
