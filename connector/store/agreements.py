"""Contract agreements: written once when a negotiation concludes, then only read."""

from __future__ import annotations


from .errors import AlreadyExists
from .leases import Db
from .query import QuerySpec, field_map, query_statement
from .records import Agreement
from .rows import by, insert_returning, select_by, to_record, values_of
from .tables import agreements


class AgreementRepository:
    kind = "contract agreement"

    def __init__(self, db: Db) -> None:
        self._db = db
        self._fields = field_map(agreements, {"contractSigningDate": "signed_at", "assetId": "asset_id"})

    async def create(self, agreement: Agreement) -> Agreement:
        """Store an agreement; AlreadyExists if the id is taken (agreements are immutable)."""
        stmt = insert_returning(self._db.dialect, agreements, ignore_conflict=True)
        async with self._db.write() as conn:
            row = (await conn.execute(stmt, values_of(agreement), final=self._db.own_transaction)).first()
        if row is None:
            raise AlreadyExists(self.kind, agreement.id)
        return to_record(Agreement, row)

    async def get(self, agreement_id: str) -> Agreement | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select_by(agreements, "id"), by(id=agreement_id))).first()
        return to_record(Agreement, row) if row is not None else None

    async def for_negotiation(self, negotiation_id: str) -> Agreement | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select_by(agreements, "negotiation_id"), by(negotiation_id=negotiation_id))).first()
        return to_record(Agreement, row) if row is not None else None

    async def query(self, spec: QuerySpec) -> list[Agreement]:
        stmt, params = query_statement(agreements, spec, self._fields)
        async with self._db.read() as conn:
            return [to_record(Agreement, r) for r in (await conn.execute(stmt, params)).all()]
