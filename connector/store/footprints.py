"""Footprints we publish and footprints we received (after verification) from partners.

One row per direction and id holds the newest credential. A credential that a newer version
replaces, or that is deleted, moves to ``footprint_archive`` in the same transaction, keyed by
its digest: the audit log names delivered credentials by sha256, and an evidence export must
still find the one that was delivered (:meth:`FootprintRepository.archived`)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update

from .leases import Db
from .query import QuerySpec, apply_query, field_map
from .records import Footprint, utcnow
from .rows import to_record, upsert_insert, values_of
from .tables import footprint_archive, footprints

PUBLISHED, RECEIVED = "PUBLISHED", "RECEIVED"


@cache
def _archive(dialect: str, *, replaced: bool) -> Any:
    """INSERT INTO footprint_archive the stored credential of ``:k_direction``/``:k_id``: the one a
    save of another credential (``:k_sha256``) at the same or a newer version (``:k_version``)
    replaces, or, with ``replaced`` False, the one about to be deleted. A digest is archived once."""
    a, f = footprint_archive, footprints
    where = [f.c.direction == bindparam("k_direction"), f.c.id == bindparam("k_id")]
    if replaced:
        where += [f.c.sha256 != bindparam("k_sha256"), f.c.version <= bindparam("k_version")]
    rows = select(f.c.direction, f.c.sha256, f.c.id, f.c.version, f.c.credential,
                  bindparam("k_now", type_=a.c.archived_at.type)).where(*where)
    return (upsert_insert(dialect, a).from_select(["direction", "sha256", "id", "version", "credential",
                                                   "archived_at"], rows).on_conflict_do_nothing())


class FootprintRepository:
    def __init__(self, db: Db) -> None:
        self._db = db
        self._fields = field_map(footprints)

    async def save(self, fp: Footprint) -> bool:
        """Insert, or replace a stored footprint with one of the same or a newer version.

        Returns False (and keeps the stored one) when ``fp`` is older than what we hold, so a
        late or replayed delivery never replaces a newer footprint.
        """
        if fp.direction not in (PUBLISHED, RECEIVED):
            raise ValueError(f"direction must be {PUBLISHED!r} or {RECEIVED!r}, got {fp.direction!r}")
        values = values_of(fp)
        ins = upsert_insert(self._db.dialect, footprints).values(**values)
        stmt = ins.on_conflict_do_update(
            index_elements=[footprints.c.direction, footprints.c.id],
            set_={k: v for k, v in values.items() if k not in ("direction", "id")},
            where=footprints.c.version <= ins.excluded.version,
        )
        async with self._db.write() as conn:
            await conn.execute(_archive(self._db.dialect, replaced=True),
                               {"k_direction": fp.direction, "k_id": fp.id, "k_sha256": fp.sha256,
                                "k_version": fp.version, "k_now": utcnow()})
            return (await conn.execute(stmt)).rowcount == 1

    async def archived(self, direction: str, sha256: str) -> Footprint | None:
        """A credential that was replaced or deleted, by its digest (as a record with that
        credential; ``status`` "Archived", ``updated_at`` when it was archived)."""
        a = footprint_archive
        stmt = select(a).where(a.c.direction == direction, a.c.sha256 == sha256)
        async with self._db.read() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        return Footprint(id=row.id, direction=row.direction, version=row.version, credential=row.credential,
                         sha256=row.sha256, status="Archived", updated_at=row.archived_at)

    async def set_status(self, direction: str, footprint_id: str, sha256: str, status: str) -> bool:
        """Change the status of the stored footprint, only if it is still exactly the credential
        ``sha256`` names (a newer one stored meanwhile keeps its own status)."""
        stmt = (update(footprints).where(footprints.c.direction == direction, footprints.c.id == footprint_id,
                                         footprints.c.sha256 == sha256).values(status=status))
        async with self._db.write() as conn:
            return (await conn.execute(stmt)).rowcount == 1

    async def get(self, direction: str, footprint_id: str) -> Footprint | None:
        stmt = select(footprints).where(footprints.c.direction == direction, footprints.c.id == footprint_id)
        async with self._db.read() as conn:
            row = (await conn.execute(stmt)).first()
        return to_record(Footprint, row) if row is not None else None

    async def page(
        self, direction: str, *, after_id: str | None = None, limit: int = 100, status: str | None = None
    ) -> list[Footprint]:
        """Keyset page ordered by id: cost stays flat however deep the client pages."""
        stmt = select(footprints).where(footprints.c.direction == direction)
        if after_id is not None:
            stmt = stmt.where(footprints.c.id > after_id)
        if status is not None:
            stmt = stmt.where(footprints.c.status == status)
        stmt = stmt.order_by(footprints.c.id).limit(max(0, limit))
        async with self._db.read() as conn:
            return [to_record(Footprint, r) for r in (await conn.execute(stmt)).all()]

    async def count(self, direction: str) -> int:
        stmt = select(func.count()).select_from(footprints).where(footprints.c.direction == direction)
        async with self._db.read() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def delete(self, direction: str, footprint_id: str) -> bool:
        stmt = delete(footprints).where(footprints.c.direction == direction, footprints.c.id == footprint_id)
        async with self._db.write() as conn:
            await conn.execute(_archive(self._db.dialect, replaced=False),
                               {"k_direction": direction, "k_id": footprint_id, "k_now": utcnow()})
            return (await conn.execute(stmt)).rowcount == 1

    async def query(self, spec: QuerySpec) -> list[Footprint]:
        stmt = apply_query(select(footprints), footprints, spec, self._fields)
        async with self._db.read() as conn:
            return [to_record(Footprint, r) for r in (await conn.execute(stmt)).all()]
