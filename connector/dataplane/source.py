"""Where the PACT host reads footprints from.

The store keeps every footprint as PACT v2.3 JSON (the source of truth); v3 responses
are mapped on the way out. Sources page by id (keyset), never by offset, so serving page
1,000 of 100,000 footprints costs the same as page 1 and memory stays flat.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Collection, Iterable
from typing import Any, Protocol, runtime_checkable

Footprint = dict[str, Any]
Predicate = Callable[[Footprint], bool]


@runtime_checkable
class FootprintSource(Protocol):
    """Read access to the footprints a host publishes (v2.3 dicts, ordered by id)."""

    async def get(self, footprint_id: str) -> Footprint | None:
        """The footprint with this id, or None."""
        ...

    async def page(
        self,
        *,
        after: str | None,
        limit: int,
        where: Predicate | None = None,
        ids: Collection[str] | None = None,
    ) -> list[Footprint]:
        """Up to ``limit`` footprints with id > ``after`` in id order that satisfy ``where``
        and, when ``ids`` is given, whose id is in ``ids`` (an access scope)."""
        ...


class InMemoryFootprintSource:
    """A FootprintSource over a dict, for tests and small direct hosts."""

    def __init__(self, footprints: Iterable[Footprint] = ()) -> None:
        self._by_id: dict[str, Footprint] = {}
        self._ids: list[str] = []
        for fp in footprints:
            self.put(fp)

    def put(self, footprint: Footprint) -> None:
        """Add or replace a footprint (by id)."""
        fid = footprint["id"]
        if fid not in self._by_id:
            bisect.insort(self._ids, fid)
        self._by_id[fid] = footprint

    def remove(self, footprint_id: str) -> None:
        if self._by_id.pop(footprint_id, None) is not None:
            self._ids.remove(footprint_id)

    def __len__(self) -> int:
        return len(self._ids)

    async def get(self, footprint_id: str) -> Footprint | None:
        return self._by_id.get(footprint_id)

    async def page(
        self,
        *,
        after: str | None,
        limit: int,
        where: Predicate | None = None,
        ids: Collection[str] | None = None,
    ) -> list[Footprint]:
        out: list[Footprint] = []
        if limit <= 0:
            return out
        if ids is not None:
            candidates: Iterable[str] = sorted(i for i in ids if i in self._by_id and (after is None or i > after))
        else:
            start = bisect.bisect_right(self._ids, after) if after is not None else 0
            candidates = (self._ids[i] for i in range(start, len(self._ids)))
        for fid in candidates:
            fp = self._by_id[fid]
            if where is None or where(fp):
                out.append(fp)
                if len(out) >= limit:
                    break
        return out


class StoreFootprintSource:
    """A FootprintSource over the connector's footprint repository (published footprints).

    Scans in keyset batches and filters in Python, so at most one batch is in memory.
    Stored documents may be signed VCs; ``unwrap`` turns one into its PACT v2.3 body.
    """

    def __init__(
        self,
        repository: Any,
        *,
        direction: str = "PUBLISHED",
        batch: int = 500,
        unwrap: Callable[[dict[str, Any]], Footprint] | None = None,
    ) -> None:
        self._repo = repository
        self._direction = direction
        self._batch = batch
        self._unwrap = unwrap or unwrap_credential

    async def get(self, footprint_id: str) -> Footprint | None:
        rec = await self._repo.get(self._direction, footprint_id)
        return self._unwrap(rec.credential) if rec is not None else None

    async def page(
        self,
        *,
        after: str | None,
        limit: int,
        where: Predicate | None = None,
        ids: Collection[str] | None = None,
    ) -> list[Footprint]:
        out: list[Footprint] = []
        cursor = after
        while len(out) < limit:
            size = max(self._batch, limit + 1) if where is not None or ids is not None else limit - len(out)
            recs = await self._repo.page(self._direction, after_id=cursor, limit=size)
            for rec in recs:
                cursor = rec.id
                if ids is not None and rec.id not in ids:
                    continue
                fp = self._unwrap(rec.credential)
                if where is None or where(fp):
                    out.append(fp)
                    if len(out) >= limit:
                        return out
            if len(recs) < size:
                break
        return out


def unwrap_credential(document: dict[str, Any]) -> Footprint:
    """The PACT footprint inside a stored document: a VC's credentialSubject, else itself."""
    subject = document.get("credentialSubject")
    if isinstance(subject, dict) and "pcf" in subject:
        return subject
    return document
