"""The whole-page cache of ListFootprints and the validated-token cache, against the
general path: a host with the page cache must serve exactly the bytes (and digests and
signatures) a host without it serves, before and after footprints change."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from datetime import datetime, timedelta

import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from connector.dataplane import PACT_HOST, ClientCredentialsAuth, DetachedJws, InMemoryFootprintSource, create_pact_app
from connector.dataplane import auth as auth_module
from connector.dataplane.errors import ErrorKind, PactError
from connector.dataplane.signing import SIGNATURE_HEADER, verify_detached_jws
from connector.dataplane.source import StoreFootprintSource
from connector.footprints import make_footprints
from tests.unit.dataplane.published import T0, published_store, record

FOOTPRINTS = sorted(make_footprints("jp", 8, seed=11) + make_footprints("tw", 8, seed=12), key=lambda f: f["id"])
KEY = b"c" * 32


@pytest.fixture
async def store(tmp_path):
    async for store in published_store(tmp_path / "pages.db", FOOTPRINTS):
        yield store


class CountingSigner:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, fp: dict) -> dict:
        self.calls += 1
        return {"type": ["VerifiableCredential"], "credentialSubject": fp, "proof": {"id": fp["id"]}}


def make_auth() -> tuple[ClientCredentialsAuth, dict[str, str]]:
    a = ClientCredentialsAuth()
    a.register_client("c", "s", scopes={"footprint:list", "footprint:read", "footprint:vc"})
    a.register_client("few", "s", scopes={"footprint:list", "footprint:read", "footprint:vc"},
                      footprint_ids=[FOOTPRINTS[i]["id"] for i in (1, 4, 5, 9, 15)])
    return a, {"Authorization": f"Bearer {a.issue_token('c', 's', None).access_token}"}


async def serve(app) -> TestClient:
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


async def crawl(client: TestClient, first: str, headers: dict[str, str]) -> list[tuple[bytes, str, str | None]]:
    """Every page of a listing: (body, Content-Digest, JWS-Signature), checking the digest."""
    out, url = [], first
    while url:
        resp = await client.get(url, headers=headers)
        assert resp.status == 200, await resp.text()
        body = await resp.read()
        assert resp.headers["Content-Digest"] == "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
        out.append((body, resp.headers["Content-Digest"], resp.headers.get(SIGNATURE_HEADER)))
        link = resp.headers.get("Link")
        url = link[link.index("/", 8):link.index(">")] if link else None
    return out


URLS = ["/2/footprints?limit=5", "/3/footprints?limit=5", "/2/footprints?limit=5&format=vc",
        "/3/footprints?limit=5&format=vc", "/2/footprints?limit=6&$filter=pcf/geographyCountry eq 'JP'"]


async def test_cached_pages_equal_uncached_pages_before_and_after_changes(store):
    a, headers = make_auth()
    few = {"Authorization": f"Bearer {a.issue_token('few', 's', None).access_token}"}
    body_key = Ed25519PrivateKey.generate()
    jws = DetachedJws(body_key, "did:example:host#body")
    src = StoreFootprintSource(store.footprints)
    cached = create_pact_app(src, a, signer=CountingSigner(), body_signer=jws, cursor_key=KEY)
    plain = create_pact_app(src, a, signer=CountingSigner(), body_signer=jws, cursor_key=KEY, page_cache_bytes=0)
    with_cache, without = await serve(cached), await serve(plain)
    host = cached[PACT_HOST]
    try:
        async def compare() -> None:
            for hdrs in (headers, few):
                for url in URLS:
                    got = await crawl(with_cache, url, hdrs)
                    assert got == await crawl(without, url, hdrs)
                    for body, _, signature in got:
                        assert verify_detached_jws(signature, body, body_key.public_key())

        for _ in range(3):  # first sight, admitted on the second rendering, then served cached
            await compare()
        assert host.page_cache.hits > 0 and len(host.page_cache) > 0
        assert plain[PACT_HOST].page_cache is None

        # a changed footprint on a page, an update time moving, a new footprint inside a page
        changed = dict(FOOTPRINTS[3], comment="changed")
        await store.footprints.save(record(changed, version=2, at=T0 + timedelta(minutes=1)))
        await store.footprints.save(record(FOOTPRINTS[8], version=1, at=T0 + timedelta(minutes=2)))
        inserted = dict(FOOTPRINTS[6], id=FOOTPRINTS[6]["id"][:-1] + ("0" if FOOTPRINTS[6]["id"][-1] != "0" else "1"))
        await store.footprints.save(record(inserted))
        hits = host.page_cache.hits
        for _ in range(2):
            await compare()
        first = json.loads((await crawl(with_cache, "/2/footprints?limit=5", headers))[0][0])
        assert any(fp.get("comment") == "changed" for fp in first["data"])
        assert host.page_cache.hits > hits  # unchanged pages still come from the cache
    finally:
        await with_cache.close()
        await without.close()
        src.close()


async def test_a_cached_page_is_served_without_rendering(store, monkeypatch):
    a, headers = make_auth()
    src = StoreFootprintSource(store.footprints)
    signer = CountingSigner()
    app = create_pact_app(src, a, signer=signer, cursor_key=KEY)
    host = app[PACT_HOST]
    client = await serve(app)
    try:
        first = [await (await client.get("/2/footprints?limit=5&format=vc", headers=headers)).read() for _ in range(2)]
        assert signer.calls == 5 and first[0] == first[1]

        async def no_rendering(*args, **kwargs):
            raise AssertionError("a cached page must not be rendered")

        monkeypatch.setattr(host, "render_entries", no_rendering)
        again = await (await client.get("/2/footprints?limit=5&format=vc", headers=headers)).read()
        assert again == first[0] and signer.calls == 5
    finally:
        await client.close()
        src.close()


async def test_no_page_cache_when_signing_on_the_fly_or_for_live_documents(store):
    a, headers = make_auth()
    src = StoreFootprintSource(store.footprints)
    signer = CountingSigner()
    fly = create_pact_app(src, a, signer=signer, vc_cache_size=0, cursor_key=KEY)
    client = await serve(fly)
    live = [dict(fp) for fp in FOOTPRINTS]
    memory = create_pact_app(InMemoryFootprintSource(live), a, cursor_key=KEY)
    memory_client = await serve(memory)
    try:
        for n in range(1, 4):
            await client.get("/2/footprints?limit=5&format=vc", headers=headers)
            assert signer.calls == 5 * n  # signed every time
        assert len(fly[PACT_HOST].page_cache) == 0
        for _ in range(3):
            before = await (await memory_client.get("/2/footprints?limit=5", headers=headers)).json()
        live[0]["comment"] = "edited in place"  # a live dict: v2 JSON renderings are never cached
        after = await (await memory_client.get("/2/footprints?limit=5", headers=headers)).json()
        assert before["data"][0].get("comment") != "edited in place"
        assert after["data"][0]["comment"] == "edited in place"
    finally:
        await client.close()
        await memory_client.close()
        src.close()


async def test_a_single_crawl_does_not_fill_the_page_cache(store):
    a, headers = make_auth()
    src = StoreFootprintSource(store.footprints)
    app = create_pact_app(src, a, cursor_key=KEY)
    client = await serve(app)
    try:
        await crawl(client, "/2/footprints?limit=2", headers)
        assert len(app[PACT_HOST].page_cache) == 0  # each page seen once: none admitted
        await crawl(client, "/2/footprints?limit=2", headers)
        assert len(app[PACT_HOST].page_cache) == len(FOOTPRINTS) // 2
    finally:
        await client.close()
        src.close()


# --------------------------------------------------------------------------------------
# validated-token cache
# --------------------------------------------------------------------------------------
def counting_decode(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = jwt.decode

    def decode(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(auth_module.jwt, "decode", decode)
    return calls


async def test_validated_tokens_are_remembered_until_they_expire(monkeypatch):
    calls = counting_decode(monkeypatch)
    a = ClientCredentialsAuth(ttl=60, leeway=5)
    a.register_client("c", "s")
    token = a.issue_token("c", "s", None).access_token
    first = await a.authenticate(token)
    assert await a.authenticate(token) == first and len(calls) == 1
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    now = time.time()
    monkeypatch.setattr(auth_module.time, "time", lambda: exp + 4.5)  # inside the leeway: still good
    assert await a.authenticate(token) == first
    monkeypatch.setattr(auth_module.time, "time", lambda: exp + 6)  # beyond: the full check refuses
    monkeypatch.setattr(jwt.api_jwt, "datetime", _frozen_datetime(exp + 6), raising=False)
    with pytest.raises(PactError) as info:
        await a.authenticate(token)
    assert info.value.kind is ErrorKind.TOKEN_EXPIRED
    assert token not in a._verified
    monkeypatch.setattr(auth_module.time, "time", lambda: now)


def _frozen_datetime(at: float):
    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(at, tz)

    return Frozen


async def test_cached_tokens_follow_the_client_registration(monkeypatch):
    calls = counting_decode(monkeypatch)
    a = ClientCredentialsAuth()
    a.register_client("c", "s", scopes={"footprint:list", "footprint:read"})
    token = a.issue_token("c", "s", None).access_token
    assert (await a.authenticate(token)).scopes == {"footprint:list", "footprint:read"}
    a.register_client("c", "s", scopes={"footprint:list"})  # re-registered: checked again
    assert (await a.authenticate(token)).scopes == {"footprint:list"} and len(calls) == 2
    a.unregister_client("c")
    with pytest.raises(PactError) as info:
        await a.authenticate(token)
    assert info.value.kind is ErrorKind.ACCESS_DENIED
    for bad in (token[:-2] + "xx", "not-a-token"):  # never cached, always refused
        for _ in range(2):
            with pytest.raises(PactError):
                await a.authenticate(bad)


async def test_token_cache_is_bounded():
    a = ClientCredentialsAuth(cache_size=3)
    a.register_client("c", "s")
    tokens = [a.mint("c", ["footprint:list"]) for _ in range(10)]
    for t in tokens:
        await a.authenticate(t)
    assert len(a._verified) == 3 and set(a._verified) == set(tokens[-3:])
    off = ClientCredentialsAuth(cache_size=0)
    off.register_client("c", "s")
    await off.authenticate(off.mint("c", ["footprint:list"]))
    assert not off._verified


# --------------------------------------------------------------------------------------
# cursor caches
# --------------------------------------------------------------------------------------
def test_cursor_caches_give_what_the_full_codec_gives():
    from connector.dataplane.cursor import Cursor, CursorCodec

    codec, fresh = CursorCodec(KEY, ttl=200), CursorCodec(KEY, ttl=200)
    cur = Cursor("2", "abc", 100, "status eq 'Active'", "vc")
    v3 = Cursor("3", "abc", 10, [["geography", "JP"]], "json")
    t = codec.encode(cur, now=1000.0)
    assert t == codec.encode(cur, now=1000.4) == fresh.encode(cur, now=1000.0)  # cached == computed
    assert codec.encode(cur, now=1001.0) == fresh.encode(cur, now=1001.0) != t  # a new expiry second
    assert codec.decode(t, version="2", now=1100.0) == cur == codec.decode(t, version="2", now=1100.0)
    assert t in codec._decoded
    for bad_version, at in (("3", 1100.0), ("2", 1300.0)):  # wrong API version; expired
        with pytest.raises(PactError):
            codec.decode(t, version=bad_version, now=at)
    forged = t[:-3] + ("AAA" if not t.endswith("AAA") else "BBB")
    for _ in range(2):
        with pytest.raises(PactError):
            codec.decode(forged, version="2", now=1100.0)
    t3 = codec.encode(v3, now=1000.0)
    assert codec.decode(t3, version="3", now=1000.0) == v3 and t3 not in codec._decoded  # lists: not shared
