"""Management API resources kept as JSON bodies: assets, policy and contract definitions."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from dataclasses import dataclass

from sqlalchemy import Table, bindparam, delete, or_, select, update

from .errors import AlreadyExists, NotFound
from .leases import Db
from .query import QuerySpec, field_map, query_statement
from .records import ContractDefinition, Document
from .rows import by, select_by, to_record, upsert_insert, values_of
from .tables import assets, contract_definitions, policy_definitions

D = TypeVar("D", Document, ContractDefinition)


class DocumentRepository(Generic[D]):
    """Create / read / replace / delete / query; ``created_at`` survives replacement."""

    def __init__(self, db: Db, table: Table, record: type[D], kind: str) -> None:
        self._db = db
        self._t = table
        self._record = record
        self.kind = kind
        self._fields = field_map(table)

    def _rec(self, row: Any) -> D:
        return to_record(self._record, row)

    async def create(self, record: D) -> D:
        stmt = upsert_insert(self._db.dialect, self._t).values(**values_of(record)).on_conflict_do_nothing()
        async with self._db.write() as conn:
            row = (await conn.execute(stmt.returning(*self._t.c))).first()
        if row is None:
            raise AlreadyExists(self.kind, record.id)
        return self._rec(row)

    async def get(self, record_id: str) -> D | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select_by(self._t, "id"), by(id=record_id))).first()
        return self._rec(row) if row is not None else None

    async def update(self, record: D) -> D:
        """Replace an existing record's content (NotFound if absent)."""
        stmt = (
            update(self._t)
            .where(self._t.c.id == record.id)
            .values(**values_of(record, exclude=("id", "created_at")))
            .returning(*self._t.c)
        )
        async with self._db.write() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            raise NotFound(self.kind, record.id)
        return self._rec(row)

    async def delete(self, record_id: str) -> bool:
        async with self._db.write() as conn:
            return (await conn.execute(delete(self._t).where(self._t.c.id == record_id))).rowcount == 1

    async def query(self, spec: QuerySpec) -> list[D]:
        stmt, params = query_statement(self._t, spec, self._fields)
        async with self._db.read() as conn:
            return [self._rec(r) for r in (await conn.execute(stmt, params)).all()]


class AssetRepository(DocumentRepository[Document]):
    def __init__(self, db: Db) -> None:
        super().__init__(db, assets, Document, "asset")


class PolicyDefinitionRepository(DocumentRepository[Document]):
    def __init__(self, db: Db) -> None:
        super().__init__(db, policy_definitions, Document, "policy definition")


@dataclass(frozen=True, slots=True)
class DefinitionWithPolicies:
    """A contract definition with the bodies of its two policies (None: the policy is gone)
    and, if one was asked for, the asset (None: no such asset)."""

    definition: ContractDefinition
    access_policy: Document | None
    contract_policy: Document | None
    asset: Document | None


def _offerable_statement(limit: int, with_asset: bool) -> object:
    cd, ap, cp, a = (contract_definitions, policy_definitions.alias("access_policy"),
                     policy_definitions.alias("contract_policy"), assets.alias("asset"))
    joined = (cd.outerjoin(ap, ap.c.id == cd.c.access_policy_id)
              .outerjoin(cp, cp.c.id == cd.c.contract_policy_id))
    cols = [*cd.c, ap.c.body.label("ap_body"), ap.c.created_at.label("ap_created_at"),
            cp.c.body.label("cp_body"), cp.c.created_at.label("cp_created_at")]
    if with_asset:
        joined = joined.outerjoin(a, a.c.id == bindparam("k_asset_id"))
        cols += [a.c.id.label("a_id"), a.c.body.label("a_body"), a.c.created_at.label("a_created_at")]
    return select(*cols).select_from(joined).order_by(cd.c.id).limit(limit)


class ContractDefinitionRepository(DocumentRepository[ContractDefinition]):
    def __init__(self, db: Db) -> None:
        super().__init__(db, contract_definitions, ContractDefinition, "contract definition")
        self._offerable: dict[tuple[int, bool], object] = {}

    async def with_policies(self, limit: int, asset_id: str | None = None) -> list[DefinitionWithPolicies]:
        """Up to ``limit`` contract definitions (by id) with their policies and the asset
        ``asset_id`` in one statement (one round trip instead of 2 + 2 per definition)."""
        key = (limit, asset_id is not None)
        stmt = self._offerable.get(key)
        if stmt is None:
            stmt = self._offerable[key] = _offerable_statement(limit, asset_id is not None)
        async with self._db.read() as conn:
            rows = (await conn.execute(stmt, {"k_asset_id": asset_id} if asset_id is not None else None)).all()
        out = []
        for r in rows:
            m = r._asdict()
            definition = ContractDefinition(id=m["id"], access_policy_id=m["access_policy_id"],
                                            contract_policy_id=m["contract_policy_id"], body=m["body"],
                                            created_at=m["created_at"])
            access = (Document(id=definition.access_policy_id, body=m["ap_body"], created_at=m["ap_created_at"])
                      if m["ap_body"] is not None else None)
            contract = (Document(id=definition.contract_policy_id, body=m["cp_body"], created_at=m["cp_created_at"])
                        if m["cp_body"] is not None else None)
            asset = (Document(id=m["a_id"], body=m["a_body"], created_at=m["a_created_at"])
                     if asset_id is not None and m["a_id"] is not None else None)
            out.append(DefinitionWithPolicies(definition, access, contract, asset))
        return out

    async def referencing_policy(self, policy_id: str) -> list[ContractDefinition]:
        """Contract definitions that use ``policy_id`` (a policy in use must not be deleted)."""
        t = self._t
        stmt = (
            select(t)
            .where(or_(t.c.access_policy_id == policy_id, t.c.contract_policy_id == policy_id))
            .order_by(t.c.id)
        )
        async with self._db.read() as conn:
            return [self._rec(r) for r in (await conn.execute(stmt)).all()]
