"""Where the PACT host reads footprints from.

The store keeps every footprint as PACT v2.3 JSON (the source of truth); v3 responses
are mapped on the way out. Sources page by id (keyset), never by offset, so serving page
1,000 of 100,000 footprints costs the same as page 1 and memory stays flat.
"""

from __future__ import annotations

import bisect
import json
import os
import sqlite3
import urllib.parse
from collections.abc import Callable, Collection, Hashable, Iterable
from typing import Any, Protocol, runtime_checkable

Footprint = dict[str, Any]
Predicate = Callable[[Footprint], bool]
Unwrap = Callable[[dict[str, Any]], Footprint]


class Entry:
    """One footprint as a source holds it, for the serving hot path.

    ``key`` identifies this stored version of the footprint (it changes whenever the
    stored document does), so renderings can be cached under it without decoding the
    document. ``raw`` is the stored JSON text when the source has it; the footprint dict
    is decoded from it only when something needs it (a cache miss, a filter).
    """

    __slots__ = ("id", "key", "raw", "_fp", "_unwrap")

    def __init__(self, fid: str, key: Hashable, *, raw: str | bytes | None = None, footprint: Footprint | None = None,
                 unwrap: Unwrap | None = None) -> None:
        self.id, self.key, self.raw, self._fp, self._unwrap = fid, key, raw, footprint, unwrap

    @property
    def loaded(self) -> bool:
        """False for an entry listed without its document (``documents=False``)."""
        return self.raw is not None or self._fp is not None

    @classmethod
    def of(cls, fp: Footprint) -> Entry:
        """An entry for an already-decoded footprint, keyed by id + version + updated."""
        return cls(fp["id"], (fp["id"], fp.get("version"), fp.get("updated")), footprint=fp)

    def footprint(self) -> Footprint:
        """The PACT v2.3 footprint (decoded and unwrapped on first use, then kept)."""
        if self._fp is None:
            if self.raw is None:
                raise LookupError(f"footprint {self.id}: listed without its document")
            doc = json.loads(self.raw)
            self._fp = (self._unwrap or unwrap_credential)(doc)
        return self._fp

    def plain_bytes(self) -> bytes | None:
        """The stored UTF-8 JSON when it *is* the PACT v2.3 JSON to serve, without decoding it.

        True when the stored document is not a VC to unwrap: its text then cannot contain
        the key ``credentialSubject`` (checked with no backslash present, so the key cannot
        hide as ``\\u`` escapes). Only for the default unwrapping, or one that declares it
        returns such documents unchanged (``unwrap.keeps_plain = True``).
        """
        raw = self.raw
        if raw is None or (self._unwrap not in (None, unwrap_credential)
                           and not getattr(self._unwrap, "keeps_plain", False)):
            return None
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        if b"\\" in raw or b"credentialSubject" in raw:  # (a single-byte search first: memchr)
            return None
        return raw


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


@runtime_checkable
class EntrySource(Protocol):
    """Optional fast path: the same listing as :meth:`FootprintSource.page`, as
    :class:`Entry` objects whose documents are decoded only on demand."""

    async def entries(
        self,
        *,
        after: str | None,
        limit: int,
        where: Predicate | None = None,
        ids: Collection[str] | None = None,
        documents: bool = True,
    ) -> list[Entry]:
        """``documents=False``: the source may leave entries unloaded (id and key only)
        when ``where`` is None; :meth:`documents` loads them."""
        ...

    async def documents(self, ids: Collection[str]) -> dict[str, Entry]:
        """Fresh, loaded entries for these ids (absent: no longer there)."""
        ...

    async def get_entry(self, footprint_id: str) -> Entry | None: ...


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

    async def entries(
        self,
        *,
        after: str | None,
        limit: int,
        where: Predicate | None = None,
        ids: Collection[str] | None = None,
        documents: bool = True,
    ) -> list[Entry]:
        return [Entry.of(fp) for fp in await self.page(after=after, limit=limit, where=where, ids=ids)]

    async def documents(self, ids: Collection[str]) -> dict[str, Entry]:
        return {i: Entry.of(self._by_id[i]) for i in ids if i in self._by_id}

    async def get_entry(self, footprint_id: str) -> Entry | None:
        fp = self._by_id.get(footprint_id)
        return Entry.of(fp) if fp is not None else None


class StoreFootprintSource:
    """A FootprintSource over the connector's footprint repository (published footprints).

    Scans in keyset batches and filters in Python, so at most one batch is in memory.
    Stored documents may be signed VCs; ``unwrap`` turns one into its PACT v2.3 body.

    Listing (:meth:`entries`) reads the footprints table directly, read-only, through the
    store's database (``db``; by default the repository's own): id, version, update time,
    digest and the stored JSON *text*, so a page whose renderings are cached is served
    without decoding a single document or building ORM records. Without a database handle
    it falls back to the repository's ``page``.
    """

    def __init__(
        self,
        repository: Any,
        *,
        direction: str = "PUBLISHED",
        batch: int = 500,
        unwrap: Unwrap | None = None,
        db: Any | None = None,
    ) -> None:
        self._repo = repository
        self._direction = direction
        self._batch = batch
        self._unwrap = unwrap or unwrap_credential
        self._db = db if db is not None else getattr(repository, "_db", None)
        self._queries: dict[Any, Any] | None = None
        self._ro: sqlite3.Connection | None = None
        self._generation = 0  # read connections opened so far (see listing_version)

    def close(self) -> None:
        """Close the source's own read connection (reopened on next use)."""
        if self._ro is not None:
            self._ro.close()
            self._ro, self._queries = None, None

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
        return [e.footprint() for e in await self.entries(after=after, limit=limit, where=where, ids=ids)]

    # ---- raw rows -----------------------------------------------------------------------
    #
    # On SQLite every SQLAlchemy read costs several hops to the aiosqlite thread (BEGIN,
    # execute, fetch, ROLLBACK), each more expensive than the query itself: a keyset page
    # of keys is ~0.1 ms of SQLite work. A single SELECT needs no transaction (it reads one
    # consistent snapshot by itself; WAL readers never wait for the writer), so for a
    # database file the source keeps its own read-only connection and runs the page query
    # inline. In-memory databases use one ``execute_fetchall`` on a pooled driver
    # connection. Documents come back as their UTF-8 bytes (``CAST AS BLOB``: no
    # transcoding to ``str`` and back). Other backends go through SQLAlchemy Core (no ORM
    # records, no JSON decoding: documents as text).

    def _sql(self) -> dict[str, Any]:
        if self._queries is None:
            from sqlalchemy import String, Text, bindparam, cast, select, type_coerce

            from connector.store.tables import footprints as t

            engine = getattr(self._db, "engine", None)
            if engine is not None and engine.dialect.name == "sqlite" and engine.dialect.driver == "aiosqlite":
                q = engine.dialect.identifier_preparer.quote
                c = t.c
                keys = f"{q(c.id.name)}, {q(c.version.name)}, {q(c.updated_at.name)}, {q(c.sha256.name)}"
                doc = f", CAST({q(c.credential.name)} AS BLOB)"
                where = f" FROM {q(t.name)} WHERE {q(c.direction.name)} = ?"
                after, tail = f" AND {q(c.id.name)} > ?", f" ORDER BY {q(c.id.name)} LIMIT ?"
                self._ro = _readonly_sqlite(engine.url.database)
                self._generation += 1
                self._queries = {
                    "sqlite": True,
                    (False, False): f"SELECT {keys}{where}{tail}",
                    (False, True): f"SELECT {keys}{where}{after}{tail}",
                    (True, False): f"SELECT {keys}{doc}{where}{tail}",
                    (True, True): f"SELECT {keys}{doc}{where}{after}{tail}",
                    "ids": f"SELECT {keys}{doc}{where} AND {q(c.id.name)} IN ",
                }
            else:
                sqlite = getattr(self._db, "dialect", "sqlite") == "sqlite"
                text = type_coerce(t.c.credential, Text) if sqlite else cast(t.c.credential, Text)
                updated = type_coerce(t.c.updated_at, String) if sqlite else t.c.updated_at
                keys = (t.c.id, t.c.version, updated, t.c.sha256)
                queries: dict[Any, Any] = {"sqlite": False}
                for documents in (False, True):
                    base = select(*keys, *((text,) if documents else ())).where(t.c.direction == bindparam("direction"))
                    queries[(documents, False)] = base.order_by(t.c.id).limit(bindparam("n"))
                    queries[(documents, True)] = base.where(t.c.id > bindparam("after")).order_by(t.c.id).limit(
                        bindparam("n"))
                    if documents:
                        queries["ids"] = base.where(t.c.id.in_(bindparam("ids", expanding=True)))
                self._queries = queries
        return self._queries

    async def _fetch(self, query: Any, params: tuple[Any, ...] | dict[str, Any]) -> list[Any]:
        if self._sql()["sqlite"]:
            if self._ro is not None:
                return self._ro.execute(query, params).fetchall()
            async with self._db.engine.connect() as conn:
                raw = await conn.get_raw_connection()
                return list(await raw.driver_connection.execute_fetchall(query, params))
        async with self._db.read() as conn:
            return list((await conn.execute(query, params)).all())

    async def _rows(self, after: str | None, n: int, documents: bool) -> list[Any]:
        sql = self._sql()
        query = sql[(documents, after is not None)]
        if sql["sqlite"]:
            params: Any = (self._direction, n) if after is None else (self._direction, after, n)
        else:
            params = {"direction": self._direction, "n": n} | ({} if after is None else {"after": after})
        return await self._fetch(query, params)

    def _entry(self, row: Any) -> Entry:
        fid, version, updated, sha256, *raw = row
        return Entry(fid, ("store", fid, version, updated, sha256), raw=raw[0] if raw else None, unwrap=self._unwrap)

    async def documents(self, ids: Collection[str]) -> dict[str, Entry]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        if self._db is None:
            found = [await self.get_entry(i) for i in wanted]
            return {e.id: e for e in found if e is not None}
        sql = self._sql()
        out: dict[str, Entry] = {}
        for lo in range(0, len(wanted), 500):
            chunk = wanted[lo:lo + 500]
            if sql["sqlite"]:
                rows = await self._fetch(sql["ids"] + "(" + ",".join("?" * len(chunk)) + ")", (self._direction, *chunk))
            else:
                rows = await self._fetch(sql["ids"], {"direction": self._direction, "ids": chunk})
            out.update((e.id, e) for e in map(self._entry, rows))
        return out

    async def get_entry(self, footprint_id: str) -> Entry | None:
        if self._db is None:
            fp = await self.get(footprint_id)
            return Entry.of(fp) if fp is not None else None
        return (await self.documents([footprint_id])).get(footprint_id)

    async def listing(
        self, *, after: str | None, limit: int, ids: Collection[str] | None = None
    ) -> list[tuple[Any, ...]] | None:
        """The unfiltered listing as its key rows ``(id, version, updated, sha256)``, no
        documents and no :class:`Entry` objects (None without a database handle).

        The rows are what identifies each listed footprint's stored version, so a page
        of them is the cache key of the rendered page (the host's page cache); entries
        for a miss come from :meth:`entry_from_row`. Same order and scoping (``ids``) as
        :meth:`entries` with ``where=None``."""
        if self._db is None:
            return None
        if ids is None:  # one query, rows as they come (sqlite3 gives tuples already)
            rows = await self._rows(after, limit, False)
            if self._ro is not None:  # the source's own sqlite3 connection: no row factory, tuples
                return rows
            return rows if all(r.__class__ is tuple for r in rows) else [tuple(r) for r in rows]
        out: list[tuple[Any, ...]] = []
        cursor = after
        while len(out) < limit:
            size = max(self._batch, limit + 1)
            rows = await self._rows(cursor, size, False)
            for row in rows:
                cursor = row[0]
                if ids is not None and cursor not in ids:
                    continue
                out.append(row if row.__class__ is tuple else tuple(row))
                if len(out) >= limit:
                    return out
            if len(rows) < size:
                break
        return out

    def listing_version(self) -> tuple[int, int] | None:
        """A number that changes whenever the stored footprints may have changed since the
        last call, or None when the source cannot tell (then every listing is read).

        On a SQLite file it is ``PRAGMA data_version`` of the source's own read connection
        (a couple of microseconds): SQLite changes it whenever another connection has
        committed to the database, and that read connection never writes. A listing read
        after a given value was returned is therefore still the listing while the value
        stays the same (read the value *before* the listing: a commit in between only
        makes the next value differ). The value is paired with the read connection's
        generation, since a reopened connection (after :meth:`close`) counts afresh.
        Other backends: None."""
        if self._db is None or not self._sql()["sqlite"] or self._ro is None:
            return None
        return self._generation, self._ro.execute("PRAGMA data_version").fetchone()[0]

    def entry_from_row(self, row: tuple[Any, ...]) -> Entry:
        """The (unloaded) entry for a :meth:`listing` row."""
        return self._entry(row)

    async def entries(
        self,
        *,
        after: str | None,
        limit: int,
        where: Predicate | None = None,
        ids: Collection[str] | None = None,
        documents: bool = True,
    ) -> list[Entry]:
        out: list[Entry] = []
        cursor = after
        documents = documents or where is not None
        while len(out) < limit:
            size = max(self._batch, limit + 1) if where is not None or ids is not None else limit - len(out)
            if self._db is not None:
                batch = [self._entry(r) for r in await self._rows(cursor, size, documents)]
            else:
                recs = await self._repo.page(self._direction, after_id=cursor, limit=size)
                batch = [Entry(r.id, ("store", r.id, r.version, r.updated_at, r.sha256),
                               footprint=self._unwrap(r.credential)) for r in recs]
            for entry in batch:
                cursor = entry.id
                if ids is not None and entry.id not in ids:
                    continue
                if where is None or where(entry.footprint()):
                    out.append(entry)
                    if len(out) >= limit:
                        return out
            if len(batch) < size:
                break
        return out


READ_CACHE_KIB = 8192


def _readonly_sqlite(database: str | None) -> sqlite3.Connection | None:
    """A read-only, autocommit connection to a SQLite database file (None for in-memory)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    uri = f"file:{urllib.parse.quote(os.path.abspath(database))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=5000")
    # Room for the pages a busy host lists again and again (the key columns of a page of
    # 100 footprints sit behind each row's ~2-3 KiB document, so ~2.5 MB per 1,000
    # footprints): the default 2 MB cache would re-read them from the OS on every request.
    conn.execute(f"PRAGMA cache_size=-{READ_CACHE_KIB}")
    return conn


def unwrap_credential(document: dict[str, Any]) -> Footprint:
    """The PACT footprint inside a stored document: a VC's credentialSubject, else itself."""
    subject = document.get("credentialSubject")
    if isinstance(subject, dict) and "pcf" in subject:
        return subject
    return document
