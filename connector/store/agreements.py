"""Contract agreements: written once when a negotiation concludes, then only read."""

from __future__ import annotations

from sqlalchemy import select

from .errors import AlreadyExists
from .leases import Db
from .query import QuerySpec, apply_query, field_map
from .records import Agreement
from .rows import to_record, upsert_insert, values_of
from .tables import agreements


class AgreementRepository:
    kind = "contract agreement"

    def __init__(self, db: Db) -> None:
        self._db = db
        self._fields = field_map(agreements, {"contractSigningDate": "signed_at", "assetId": "asset_id"})

    async def create(self, agreement: Agreement) -> Agreement:
        """Store an agreement; AlreadyExists if the id is taken (agreements are immutable)."""
        stmt = upsert_insert(self._db.dialect, agreements).values(**values_of(agreement)).on_conflict_do_nothing()
        async with self._db.write() as conn:
            row = (await conn.execute(stmt.returning(*agreements.c))).first()
        if row is None:
            raise AlreadyExists(self.kind, agreement.id)
        return to_record(Agreement, row)

    async def get(self, agreement_id: str) -> Agreement | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select(agreements).where(agreements.c.id == agreement_id))).first()
        return to_record(Agreement, row) if row is not None else None

    async def for_negotiation(self, negotiation_id: str) -> Agreement | None:
        stmt = select(agreements).where(agreements.c.negotiation_id == negotiation_id)
        async with self._db.read() as conn:
            row = (await conn.execute(stmt)).first()
        return to_record(Agreement, row) if row is not None else None

    async def query(self, spec: QuerySpec) -> list[Agreement]:
        stmt = apply_query(select(agreements), agreements, spec, self._fields)
        async with self._db.read() as conn:
            return [to_record(Agreement, r) for r in (await conn.execute(stmt)).all()]
