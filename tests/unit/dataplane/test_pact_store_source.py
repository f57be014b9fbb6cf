"""The serving hot path: store-backed entries, render caches, and byte-identical bodies."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connector.dataplane import ClientCredentialsAuth, InMemoryFootprintSource, create_pact_app
from connector.dataplane.signing import RenderCache, dumps
from connector.dataplane.source import Entry, StoreFootprintSource
from connector.footprints import make_footprints
from connector.store import open_store
from connector.store.records import Footprint as Record

FOOTPRINTS = sorted(make_footprints("jp", 6, seed=3) + make_footprints("tw", 6, seed=4), key=lambda f: f["id"])
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def record(doc: dict, *, version: int = 1, at: datetime = T0, fid: str | None = None) -> Record:
    return Record(id=fid or doc["id"], direction="PUBLISHED", version=version, credential=doc, sha256="0" * 64,
                  status="Active", updated_at=at)


def as_vc(fp: dict) -> dict:
    return {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential"],
            "credentialSubject": fp, "proof": {"type": "DataIntegrityProof"}}


@pytest.fixture
async def store(tmp_path):
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'fp.db'}")
    for i, fp in enumerate(FOOTPRINTS):
        await store.footprints.save(record(as_vc(fp) if i % 3 == 0 else fp, fid=fp["id"]))  # some stored as VCs
    yield store
    await store.close() if hasattr(store, "close") else None


class CountingSigner:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, fp: dict) -> dict:
        self.calls += 1
        return {"type": ["VerifiableCredential"], "credentialSubject": fp, "proof": {"n": self.calls}}


def auth() -> tuple[ClientCredentialsAuth, dict[str, str]]:
    a = ClientCredentialsAuth()
    a.register_client("c", "s", scopes={"footprint:list", "footprint:read", "footprint:vc"})
    return a, {"Authorization": f"Bearer {a.issue_token('c', 's', None).access_token}"}


def test_render_cache_is_bounded_by_bytes_and_count():
    cache = RenderCache(maxsize=10, max_bytes=1000)
    for i in range(20):
        cache.put(i, b"x" * 300)
    assert len(cache) == 3 and cache.nbytes == 900
    assert cache.get(19) is not None and cache.get(0) is None
    cache.put("big", b"x" * 1001)  # larger than the whole budget: not kept
    assert cache.get("big") is None and cache.nbytes <= 1000
    cache = RenderCache(maxsize=2, max_bytes=10**6)
    for i in range(5):
        cache.put(i, b"y")
    assert len(cache) == 2 and cache.nbytes == 2
    cache.put(4, b"zzz")  # replacing a key keeps the byte count right
    assert cache.nbytes == 4


def test_plain_bytes_only_for_documents_served_as_stored():
    fp = {"id": "a", "pcf": {"x": 1}}
    assert Entry("a", 1, raw=dumps(fp)).plain_bytes() == dumps(fp)
    assert Entry("a", 1, raw=dumps(as_vc(fp))).plain_bytes() is None  # a VC to unwrap
    assert Entry("a", 1, raw=json.dumps({"id": "a", "n": "caf\u00e9"}).encode()).plain_bytes() is None  # escapes
    assert Entry("a", 1, raw=dumps(as_vc(fp))).footprint() == fp
    with pytest.raises(LookupError):
        Entry("a", 1).footprint()


async def test_store_entries_keys_documents_and_filters(store):
    src = StoreFootprintSource(store.footprints)
    try:
        listed = await src.entries(after=None, limit=5, documents=False)
        assert [e.id for e in listed] == [f["id"] for f in FOOTPRINTS[:5]]
        assert not any(e.loaded for e in listed)
        full = await src.entries(after=listed[1].id, limit=100)
        assert [e.footprint() for e in full] == FOOTPRINTS[2:]
        assert await src.page(after=None, limit=100) == FOOTPRINTS
        only = {FOOTPRINTS[3]["id"], FOOTPRINTS[7]["id"]}
        assert [e.id for e in await src.entries(after=None, limit=10, ids=only)] == sorted(only)
        jp = await src.page(after=None, limit=100, where=lambda f: f["pcf"].get("geographyCountry") == "JP")
        assert jp == [f for f in FOOTPRINTS if f["pcf"].get("geographyCountry") == "JP"]
        # a new version or a new update time is a new key
        fid = FOOTPRINTS[4]["id"]
        before = (await src.get_entry(fid)).key
        await store.footprints.save(record(FOOTPRINTS[4], version=1, at=T0 + timedelta(seconds=1)))
        after = (await src.documents([fid, "missing"]))
        assert set(after) == {fid} and after[fid].key != before
        assert await src.get_entry("missing") is None
    finally:
        src.close()


async def serve(app) -> TestClient:
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.mark.parametrize("version", ["2", "3"])
async def test_store_and_memory_sources_serve_the_same_bytes(store, version):
    a, headers = auth()
    key = b"k" * 32
    src = StoreFootprintSource(store.footprints)
    store_host = await serve(create_pact_app(src, a, cursor_key=key, max_page=5))
    memory_host = await serve(create_pact_app(InMemoryFootprintSource(FOOTPRINTS), a, cursor_key=key, max_page=5))
    try:
        for _ in range(2):  # second round: from the render caches
            bodies = []
            for client in (store_host, memory_host):
                url, pages = f"/{version}/footprints?limit=4", []
                while url:
                    resp = await client.get(url, headers=headers)
                    assert resp.status == 200
                    body = await resp.read()
                    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
                    assert resp.headers["Content-Digest"] == f"sha-256=:{digest}:"
                    pages.append(body)
                    link = resp.headers.get("Link")
                    url = link[link.index("/", 8):link.index(">")] if link else None
                bodies.append(pages)
            assert bodies[0] == bodies[1]
            assert sum(len(json.loads(p)["data"]) for p in bodies[0]) == len(FOOTPRINTS)
        one = FOOTPRINTS[0]["id"]  # stored as a VC: served unwrapped
        resp = await store_host.get(f"/{version}/footprints/{one}", headers=headers)
        assert (await resp.json())["data"]["id"] == one
    finally:
        await store_host.close()
        await memory_host.close()
        src.close()


async def test_vc_pages_cached_by_stored_version_and_resigned_on_change(store):
    a, headers = auth()
    src = StoreFootprintSource(store.footprints)
    signer = CountingSigner()
    client = await serve(create_pact_app(src, a, signer=signer))
    try:
        first = await (await client.get("/2/footprints?format=vc", headers=headers)).json()
        assert signer.calls == len(FOOTPRINTS)
        assert [vc["credentialSubject"] for vc in first["data"]] == FOOTPRINTS
        again = await (await client.get("/2/footprints?format=vc", headers=headers)).json()
        assert again == first and signer.calls == len(FOOTPRINTS)  # all from the cache
        changed = dict(FOOTPRINTS[2], version=2)
        await store.footprints.save(record(changed, version=2, at=T0 + timedelta(minutes=1)))
        third = await (await client.get("/2/footprints?format=vc", headers=headers)).json()
        assert signer.calls == len(FOOTPRINTS) + 1  # only the changed footprint is signed again
        assert third["data"][2]["credentialSubject"] == changed
        assert third["data"][:2] == first["data"][:2] and third["data"][3:] == first["data"][3:]
    finally:
        await client.close()
        src.close()
