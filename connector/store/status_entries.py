"""Status-list bits for footprint revocation (W3C Bitstring Status List v1.0).

Each published footprint version gets one bit: ``(list_id, index)``. A list takes new
entries until it holds ``FILL`` of them, then the next list id is used. Within a list the
index is drawn at random, so a bit's position says nothing about when or in which order
footprints were published (the spec's herd privacy), and half of every list stays unused
noise.

Replicas sharing one database allocate without locks: the primary key (list_id, idx) stops
two of them taking the same bit, the unique (footprint_id, version) makes allocation
idempotent. The insert is ``ON CONFLICT DO NOTHING``, so a collision raises nothing (an
error would abort a PostgreSQL transaction the caller may have open); a row that does not
appear is either someone else's allocation of the same version (read it back) or a taken
bit (draw again). Concurrent replicas may each add the FILL-th entry, so a list can end a
few entries over FILL; LIST_SIZE is twice FILL, so that never runs out of bits.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, not_, select, update

from .errors import StoreError
from .leases import Db
from .records import StatusEntry
from .rows import by, insert_returning, select_by
from .tables import footprint_status as t

#: (list id, entries in it) of the newest list; no row when there are no entries yet.
_CURRENT = (select(t.c.list_id, func.count()).where(t.c.list_id == select(func.max(t.c.list_id)).scalar_subquery())
            .group_by(t.c.list_id))
_OF_FOOTPRINT = select(t).where(t.c.footprint_id == bindparam("k_footprint_id")).order_by(t.c.version)
_REVOKE_ALL = (update(t).where(t.c.footprint_id == bindparam("k_footprint_id"), not_(t.c.revoked))
               .values(revoked=True, revoked_at=bindparam("k_now", type_=t.c.revoked_at.type)))
_REVOKE_ONE = _REVOKE_ALL.where(t.c.version == bindparam("k_version"))
_REVOKED = select(t.c.idx).where(t.c.list_id == bindparam("k_list_id"), t.c.revoked).order_by(t.c.idx)
_REVISION = select(func.count(), func.max(t.c.revoked_at)).where(t.c.list_id == bindparam("k_list_id"), t.c.revoked)
_LIST_IDS = select(t.c.list_id).distinct().order_by(t.c.list_id)


def _entry(row: Any) -> StatusEntry:
    return StatusEntry(list_id=row.list_id, index=row.idx, footprint_id=row.footprint_id, version=row.version,
                       revoked=bool(row.revoked), revoked_at=row.revoked_at)


class FootprintStatusRepository:
    #: Bits per list: the spec's minimum of 16 KiB, so a list does not reveal how few entries it has.
    LIST_SIZE = 131_072
    #: Entries a list takes before the next one is started (half: random draws stay cheap).
    FILL = LIST_SIZE // 2
    #: Random draws before giving up; at most half a list is taken, so 64 misses are ~2^-64 likely.
    MAX_DRAWS = 64

    def __init__(self, db: Db, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock

    async def allocate(self, footprint_id: str, version: int) -> StatusEntry:
        """The bit of ``footprint_id`` at ``version``: the stored one, else a new random one."""
        found = await self.get(footprint_id, version)
        if found is not None:
            return found
        key = by(footprint_id=footprint_id, version=version)
        stmt = insert_returning(self._db.dialect, t, ignore_conflict=True)
        async with self._db.write() as conn:
            current = (await conn.execute(_CURRENT)).first()
            list_id = 1 if current is None else current[0] + (current[1] >= self.FILL)
            for _ in range(self.MAX_DRAWS):
                values = {"list_id": list_id, "idx": secrets.randbelow(self.LIST_SIZE), "footprint_id": footprint_id,
                          "version": version, "revoked": False, "revoked_at": None, "created_at": self._clock()}
                row = (await conn.execute(stmt, values)).first()
                if row is None:  # the bit is taken, or another replica allocated this version
                    row = (await conn.execute(select_by(t, "footprint_id", "version"), key)).first()
                if row is not None:
                    return _entry(row)
        raise StoreError(f"no free status-list bit in list {list_id} after {self.MAX_DRAWS} draws")

    async def get(self, footprint_id: str, version: int) -> StatusEntry | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select_by(t, "footprint_id", "version"),
                                      by(footprint_id=footprint_id, version=version))).first()
        return _entry(row) if row is not None else None

    async def revoke(self, footprint_id: str, version: int | None = None) -> list[StatusEntry]:
        """Set the bit of one version (or, with ``version`` None, of every version); a bit
        already set keeps its first ``revoked_at``. Returns the entries as they now are."""
        params = {"k_footprint_id": footprint_id, "k_now": self._clock()}
        if version is not None:
            params["k_version"] = version
        async with self._db.write() as conn:
            await conn.execute(_REVOKE_ALL if version is None else _REVOKE_ONE, params)
            rows = (await conn.execute(_OF_FOOTPRINT, {"k_footprint_id": footprint_id})).all()
        return [_entry(r) for r in rows if version is None or r.version == version]

    async def revoked_indexes(self, list_id: int) -> list[int]:
        """The set bits of a list, ascending: what its published bitstring encodes."""
        async with self._db.read() as conn:
            return list((await conn.execute(_REVOKED, {"k_list_id": list_id})).scalars().all())

    async def list_ids(self) -> list[int]:
        """Lists holding at least one entry, ascending (the lists there is anything to publish for)."""
        async with self._db.read() as conn:
            return list((await conn.execute(_LIST_IDS)).scalars().all())

    async def revision(self, list_id: int) -> tuple[int, datetime | None]:
        """(revoked entries, latest ``revoked_at``) of a list: bits are only ever set, so a
        signed list stays valid while this is unchanged."""
        async with self._db.read() as conn:
            count, latest = (await conn.execute(_REVISION, {"k_list_id": list_id})).one()
        return int(count), latest
