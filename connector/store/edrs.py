"""EDR entries: the tokens that open a provider's data plane for one transfer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import delete, update

from .leases import Db
from .query import QuerySpec, field_map, query_statement
from .records import Edr
from .rows import by, select_by, to_record, upsert_insert, values_of
from .tables import edrs


@cache
def _save(dialect: str) -> Any:
    ins = upsert_insert(dialect, edrs)
    return ins.on_conflict_do_update(
        index_elements=[edrs.c.transfer_id],
        set_={c.name: ins.excluded[c.name] for c in edrs.c if c.name not in ("transfer_id", "created_at")},
    ).returning(*edrs.c)


class EdrRepository:
    def __init__(self, db: Db, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock
        self._fields = field_map(edrs, {"transferProcessId": "transfer_id", "contractId": "agreement_id"})

    async def save(self, edr: Edr) -> Edr:
        """Insert or replace the EDR of a transfer (a resumed transfer gets a fresh token)."""
        async with self._db.write() as conn:
            row = (await conn.execute(_save(self._db.dialect), values_of(edr), final=self._db.own_transaction)).one()
        return to_record(Edr, row)

    async def get(self, transfer_id: str) -> Edr | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select_by(edrs, "transfer_id"), by(transfer_id=transfer_id))).first()
        return to_record(Edr, row) if row is not None else None

    async def find_by_token_id(self, token_id: str) -> Edr | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select_by(edrs, "token_id"), by(token_id=token_id))).first()
        return to_record(Edr, row) if row is not None else None

    async def active_by_token_id(self, token_id: str) -> Edr | None:
        """The EDR for a presented token only if it is neither revoked nor expired."""
        edr = await self.find_by_token_id(token_id)
        if edr is None or edr.revoked or edr.expires_at <= self._clock():
            return None
        return edr

    async def revoke(self, transfer_id: str) -> bool:
        stmt = update(edrs).where(edrs.c.transfer_id == transfer_id, edrs.c.revoked.is_(False)).values(revoked=True)
        async with self._db.write() as conn:
            return (await conn.execute(stmt)).rowcount == 1

    async def revoke_for_agreement(self, agreement_id: str) -> int:
        """Stop every token of an agreement at once (agreement terminated mid-transfer)."""
        stmt = update(edrs).where(edrs.c.agreement_id == agreement_id, edrs.c.revoked.is_(False)).values(revoked=True)
        async with self._db.write() as conn:
            return (await conn.execute(stmt)).rowcount

    async def delete(self, transfer_id: str) -> bool:
        async with self._db.write() as conn:
            return (await conn.execute(delete(edrs).where(edrs.c.transfer_id == transfer_id))).rowcount == 1

    async def query(self, spec: QuerySpec) -> list[Edr]:
        stmt, params = query_statement(edrs, spec, self._fields)
        async with self._db.read() as conn:
            return [to_record(Edr, r) for r in (await conn.execute(stmt, params)).all()]
