"""Footprints we publish and footprints we received (after verification) from partners."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update

from .leases import Db
from .query import QuerySpec, apply_query, field_map
from .records import Footprint
from .rows import to_record, upsert_insert, values_of
from .tables import footprints

PUBLISHED, RECEIVED = "PUBLISHED", "RECEIVED"


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
            return (await conn.execute(stmt)).rowcount == 1

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
            return (await conn.execute(stmt)).rowcount == 1

    async def query(self, spec: QuerySpec) -> list[Footprint]:
        stmt = apply_query(select(footprints), footprints, spec, self._fields)
        async with self._db.read() as conn:
            return [to_record(Footprint, r) for r in (await conn.execute(stmt)).all()]
