"""Cached ListFootprints pages found without reading the listing again: while the SQLite
store's ``PRAGMA data_version`` says nothing was committed since, the host reuses the
page key it read last time for the same (version, format, cursor, limit, access scope).
Anything committed to the store, by any connection, makes the next request read the
listing, so a changed footprint on a cached page is served fresh."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connector.dataplane import PACT_HOST, ClientCredentialsAuth, create_pact_app
from connector.dataplane import pact_app as pact_module
from connector.dataplane.pact_app import PageKey
from connector.dataplane.source import StoreFootprintSource
from connector.footprints import make_footprints
from connector.store import open_store
from tests.unit.dataplane.published import T0, published_store, record

FOOTPRINTS = sorted(make_footprints("jp", 6, seed=21) + make_footprints("tw", 6, seed=22), key=lambda f: f["id"])
KEY = b"m" * 32
FEW = [FOOTPRINTS[i]["id"] for i in (0, 2, 3, 7, 11)]


@pytest.fixture
async def store(tmp_path):
    async for store in published_store(tmp_path / "memo.db", FOOTPRINTS):
        yield store


class Signer:
    def __call__(self, fp: dict) -> dict:
        return {"type": ["VerifiableCredential"], "credentialSubject": fp, "proof": {"id": fp["id"]}}


def make_auth() -> tuple[ClientCredentialsAuth, dict[str, str], dict[str, str]]:
    a = ClientCredentialsAuth()
    scopes = {"footprint:list", "footprint:read", "footprint:vc"}
    a.register_client("c", "s", scopes=scopes)
    a.register_client("few", "s", scopes=scopes, footprint_ids=FEW)
    every = {"Authorization": f"Bearer {a.issue_token('c', 's', None).access_token}"}
    few = {"Authorization": f"Bearer {a.issue_token('few', 's', None).access_token}"}
    return a, every, few


class CountingListing:
    """Counts the source's listing reads (the SQLite query the memo saves)."""

    def __init__(self, source: StoreFootprintSource, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = source.listing

        async def listing(**kwargs):
            self.calls += 1
            return await real(**kwargs)

        monkeypatch.setattr(source, "listing", listing)


async def serve(app) -> TestClient:
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


async def get(client: TestClient, url: str, headers: dict[str, str]) -> tuple[dict, str | None]:
    resp = await client.get(url, headers=headers)
    assert resp.status == 200, await resp.text()
    return json.loads(await resp.read()), resp.headers.get("Link")


def ids_of(page: dict) -> list[str]:
    return [(d.get("credentialSubject") or d)["id"] for d in page["data"]]


async def test_listing_version_follows_commits_and_reopened_connections(store):
    src = StoreFootprintSource(store.footprints)
    try:
        first = src.listing_version()
        assert first is not None and src.listing_version() == first
        await src.listing(after=None, limit=3)
        assert src.listing_version() == first  # reading changes nothing
        await store.footprints.save(record(dict(FOOTPRINTS[0], comment="x"), version=2))
        second = src.listing_version()
        assert second != first and src.listing_version() == second
        src.close()  # a new read connection counts afresh: its values never equal the old ones
        third = src.listing_version()
        assert third is not None and third[0] != second[0]
    finally:
        src.close()


async def test_no_listing_version_without_a_sqlite_file():
    class Repo:  # a repository without a database handle (e.g. a plain in-process one)
        async def page(self, direction, *, after_id, limit):
            return []

    assert StoreFootprintSource(Repo()).listing_version() is None
    memory = await open_store("sqlite+aiosqlite://")
    try:
        assert StoreFootprintSource(memory.footprints).listing_version() is None  # no read connection of its own
    finally:
        await memory.close() if hasattr(memory, "close") else None


async def test_cached_page_without_reading_the_listing_until_the_store_changes(store, monkeypatch):
    a, every, _ = make_auth()
    src = StoreFootprintSource(store.footprints)
    app = create_pact_app(src, a, signer=Signer(), cursor_key=KEY)
    host = app[PACT_HOST]
    reads = CountingListing(src, monkeypatch)
    client = await serve(app)
    try:
        for url in ("/2/footprints?limit=4&format=vc", "/2/footprints?limit=4", "/3/footprints?limit=4"):
            first, link = await get(client, url, every)
            second, _ = await get(client, url, every)  # admitted to the page cache
            calls = reads.calls
            hits = host.page_cache.hits
            for _ in range(3):
                again, again_link = await get(client, url, every)
                assert again == first and again_link == link
            assert reads.calls == calls  # no listing read: the memo found the cached page
            assert host.page_cache.hits == hits + 3
            assert ids_of(first) == [fp["id"] for fp in FOOTPRINTS[:4]]
            # the next page through the Link is remembered on its own
            nxt = link[link.index("/", 8):link.index(">")]
            for _ in range(3):
                page2, _ = await get(client, nxt, every)
            assert ids_of(page2) == [fp["id"] for fp in FOOTPRINTS[4:8]]

        # change a footprint on the cached page in content only (same version, same update
        # time): the commit moves the store's data_version, the listing is read again and
        # the page is rendered afresh
        calls = reads.calls
        await store.footprints.save(record(dict(FOOTPRINTS[1], comment="changed"), version=1, at=T0))
        page, _ = await get(client, "/2/footprints?limit=4&format=vc", every)
        assert reads.calls == calls + 1
        assert [d["credentialSubject"].get("comment") for d in page["data"]][1] == "changed"
        plain, _ = await get(client, "/2/footprints?limit=4", every)
        assert plain["data"][1].get("comment") == "changed"

        # a new version and a new update time, and a footprint inserted into the page
        await store.footprints.save(record(dict(FOOTPRINTS[2], comment="v2"), version=2, at=T0 + timedelta(hours=1)))
        inserted = dict(FOOTPRINTS[0], id=FOOTPRINTS[0]["id"][:-1] + ("1" if FOOTPRINTS[0]["id"][-1] != "1" else "2"))
        await store.footprints.save(record(inserted))
        for _ in range(3):
            page, _ = await get(client, "/2/footprints?limit=4&format=vc", every)
        expected = sorted([fp["id"] for fp in FOOTPRINTS] + [inserted["id"]])[:4]
        assert ids_of(page) == expected
        subjects = {d["credentialSubject"]["id"]: d["credentialSubject"] for d in page["data"]}
        if FOOTPRINTS[2]["id"] in subjects:
            assert subjects[FOOTPRINTS[2]["id"]].get("comment") == "v2"
    finally:
        await client.close()
        src.close()


async def test_memo_is_per_access_scope(store, monkeypatch):
    a, every, few = make_auth()
    src = StoreFootprintSource(store.footprints)
    app = create_pact_app(src, a, signer=Signer(), cursor_key=KEY)
    client = await serve(app)
    try:
        for _ in range(4):  # alternate the two tokens: each gets only its own footprints
            everything, _ = await get(client, "/2/footprints?limit=3&format=vc", every)
            scoped, _ = await get(client, "/2/footprints?limit=3&format=vc", few)
            assert ids_of(everything) == [fp["id"] for fp in FOOTPRINTS[:3]]
            assert ids_of(scoped) == FEW[:3]
        assert len(app[PACT_HOST]._listings) == 2
    finally:
        await client.close()
        src.close()


async def test_memo_is_bounded_and_drops_evicted_pages(store, monkeypatch):
    monkeypatch.setattr(pact_module, "LISTINGS_KNOWN", 2)
    a, every, _ = make_auth()
    src = StoreFootprintSource(store.footprints)
    app = create_pact_app(src, a, signer=Signer(), cursor_key=KEY, page_cache_size=2)
    host = app[PACT_HOST]
    reads = CountingListing(src, monkeypatch)
    client = await serve(app)
    try:
        urls = [f"/2/footprints?limit={n}&format=vc" for n in (1, 2, 3)]
        for _ in range(3):
            for url in urls:
                await get(client, url, every)
        assert len(host._listings) <= 2 and len(host.page_cache) <= 2
        # a page evicted from the page cache is listed and rendered again, not served stale
        host.page_cache.clear()
        calls = reads.calls
        page, _ = await get(client, urls[2], every)
        assert reads.calls == calls + 1 and ids_of(page) == [fp["id"] for fp in FOOTPRINTS[:3]]
    finally:
        await client.close()
        src.close()


def test_page_key_hashes_once_and_equals_the_plain_tuple():
    rows = tuple(("id%d" % i, 1, "2025-01-01", "0" * 64) for i in range(100))
    key = PageKey("2", "vc", rows)
    assert key == ("2", "vc", rows) and hash(key) == hash(("2", "vc", rows))
    assert {key: 1}[("2", "vc", tuple(list(rows)))] == 1
    assert PageKey("2", "vc", rows) == key and PageKey("3", "vc", rows) != key
