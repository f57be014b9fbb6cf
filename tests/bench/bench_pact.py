"""Benchmark: ``GET /2/footprints?limit=100`` from a SQLite store of 100,000 footprints.

Measures, in one process on loopback (client and server share the loop):
  * pre-rendered: the same signed-page bytes served by a bare aiohttp handler (baseline)
  * signed pages, signatures cached (eddsa-jcs-2022 VCs, CredentialRenderer cache warm)
  * signed pages, signing on the fly (cache disabled)
  * plain PACT JSON pages (reference)
and RSS after paging through the whole store with 1,000 and then 100,000 footprints.

Run: ``.venv/bin/python tests/bench/bench_pact.py`` (about 1-2 minutes).
"""

from __future__ import annotations

import asyncio
import base64
import gc
import os
import tempfile
import time
from typing import Any

import aiohttp
import psutil
from aiohttp import web
from sqlalchemy import insert

from connector.dataplane import ClientCredentialsAuth, create_pact_app
from connector.dataplane.client import next_link
from connector.dataplane.runner import start_pact_host
from connector.dataplane.source import StoreFootprintSource
from connector.footprints import make_footprints
from connector.store import open_store
from connector.store.tables import footprints as footprints_table
from identity import proofs
from identity.credentials import build_credential
from identity.keys import KeyPair

PAGE = 100
CONCURRENCY = 8
SECONDS = 4.0
HOT_PAGES = 10  # pages cycled in the throughput runs (1,000 footprints, inside the VC cache)


def make_signer():
    key = KeyPair.generate("Ed25519")
    did = f"did:key:{key.public.multibase()}"
    vm = f"{did}#{key.public.multibase()}"
    context = {"@vocab": "https://kakehashi.example/pact#", "productFootprint": {"@id": "https://kakehashi.example/pact#pf", "@type": "@json"}}

    def sign(fp: dict[str, Any]) -> dict[str, Any]:
        vc = build_credential(issuer=did, subject={"id": f"urn:uuid:{fp['id']}", "productFootprint": fp},
                              types=["ProductFootprintCredential"], contexts=[context])
        return proofs.add_proof(vc, key, verification_method=vm, cryptosuite="eddsa-jcs-2022")

    return sign


def footprint_rows(start: int, stop: int, templates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for i in range(start, stop):
        fp = dict(templates[i % len(templates)])
        fp["id"] = f"{i + 1:08x}-0000-4000-8000-000000000000"  # sortable, unique
        rows.append({"direction": "PUBLISHED", "id": fp["id"], "version": 1, "credential": fp,
                     "sha256": "0" * 64, "status": fp["status"], "source_agreement_id": None,
                     "updated_at": __import__("datetime").datetime.now(__import__("datetime").timezone.utc)})
    return rows


async def fill(store: Any, start: int, stop: int, templates: list[dict[str, Any]]) -> None:
    for lo in range(start, stop, 5000):
        async with store._db.write() as conn:  # noqa: SLF001 - bulk load for the benchmark only
            await conn.execute(insert(footprints_table), footprint_rows(lo, min(stop, lo + 5000), templates))


async def page_urls(session: aiohttp.ClientSession, first: str, headers: dict[str, str], n: int) -> list[str]:
    urls, url = [], first
    while url and len(urls) < n:
        urls.append(url)
        async with session.get(url, headers=headers) as resp:
            await resp.read()
            url = next_link(resp.headers.get("Link"))
    return urls


async def throughput(session: aiohttp.ClientSession, urls: list[str], headers: dict[str, str]) -> tuple[float, int]:
    done = 0
    size = 0
    deadline = time.perf_counter() + SECONDS

    async def worker(offset: int) -> None:
        nonlocal done, size
        i = offset
        while time.perf_counter() < deadline:
            async with session.get(urls[i % len(urls)], headers=headers) as resp:
                body = await resp.read()
                assert resp.status == 200, body[:200]
                size = len(body)
            done += 1
            i += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(CONCURRENCY)))
    return done / (time.perf_counter() - start), size


async def walk_all(session: aiohttp.ClientSession, base: str, headers: dict[str, str]) -> int:
    url, count = f"{base}/2/footprints?limit={PAGE}", 0
    while url:
        async with session.get(url, headers=headers) as resp:
            count += len((await resp.json())["data"])
            url = next_link(resp.headers.get("Link"))
    return count


async def main_async() -> None:
    proc = psutil.Process()
    templates = make_footprints("jp", 50, seed=1) + make_footprints("tw", 50, seed=2)
    tmp = tempfile.mkdtemp(prefix="kakehashi-bench-")
    store = await open_store(f"sqlite+aiosqlite:///{os.path.join(tmp, 'bench.db')}")
    await fill(store, 0, 1000, templates)

    auth = ClientCredentialsAuth()
    auth.register_client("bench", "bench-secret", scopes={"footprint:list", "footprint:read", "footprint:vc"})
    source = StoreFootprintSource(store.footprints)
    signer = make_signer()
    key = os.urandom(32)  # shared cursor key: links from one app work on the other (like replicas)
    cached_app = create_pact_app(source, auth, signer=signer, vc_cache_size=20_000, cursor_key=key)
    fly_app = create_pact_app(source, auth, signer=signer, vc_cache_size=0, cursor_key=key)
    runners = []
    r1, port_cached = await start_pact_host(cached_app)
    r2, port_fly = await start_pact_host(fly_app)
    runners += [r1, r2]
    cached, fly = f"http://127.0.0.1:{port_cached}", f"http://127.0.0.1:{port_fly}"

    async with aiohttp.ClientSession() as session:
        basic = "Basic " + base64.b64encode(b"bench:bench-secret").decode()
        async with session.post(f"{cached}/auth/token", data={"grant_type": "client_credentials"},
                                headers={"Authorization": basic}) as resp:
            headers = {"Authorization": f"Bearer {(await resp.json())['access_token']}"}

        # RSS: page through 1,000 footprints, grow the store to 100,000, page through all
        gc.collect()
        assert await walk_all(session, cached, headers) == 1000
        rss_1k = proc.memory_info().rss
        t0 = time.perf_counter()
        await fill(store, 1000, 100_000, templates)
        fill_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        total = await walk_all(session, cached, headers)
        walk_s = time.perf_counter() - t0
        gc.collect()
        rss_100k = proc.memory_info().rss
        assert total == 100_000, total

        vc_urls = await page_urls(session, f"{cached}/2/footprints?limit={PAGE}&format=vc", headers, HOT_PAGES)
        json_urls = await page_urls(session, f"{cached}/2/footprints?limit={PAGE}", headers, HOT_PAGES)
        fly_urls = [u.replace(cached, fly) for u in vc_urls]
        bodies = []
        for u in vc_urls:  # warm the signature cache, and capture the exact bytes for the baseline
            async with session.get(u, headers=headers) as resp:
                bodies.append(await resp.read())

        async def prerendered(request: web.Request) -> web.Response:
            return web.Response(body=bodies[int(request.match_info["n"])], content_type="application/json")

        raw = web.Application()
        raw.router.add_get("/page/{n}", prerendered)
        r3, port_raw = await start_pact_host(raw)
        runners.append(r3)
        raw_urls = [f"http://127.0.0.1:{port_raw}/page/{n}" for n in range(len(bodies))]

        base_rps, size = await throughput(session, raw_urls, {})
        cached_rps, _ = await throughput(session, vc_urls, headers)
        fly_rps, _ = await throughput(session, fly_urls, headers)
        json_rps, json_size = await throughput(session, json_urls, headers)

    for runner in runners:
        await runner.cleanup()
    await store.close() if hasattr(store, "close") else None

    mb = 1024 * 1024
    print(f"store: 100,000 footprints in SQLite (bulk load {fill_s:.1f} s); full listing by {PAGE}: {walk_s:.1f} s "
          f"({100_000 / walk_s:,.0f} footprints/s)")
    print(f"signed page: {size / 1024:.0f} KiB ({PAGE} eddsa-jcs-2022 VCs); plain page {json_size / 1024:.0f} KiB")
    print(f"pre-rendered bytes:        {base_rps:8.1f} pages/s")
    print(f"signed, signatures cached: {cached_rps:8.1f} pages/s  ({cached_rps / base_rps:.2f}x, target >= 0.5x)")
    print(f"signed, signing on the fly:{fly_rps:8.1f} pages/s  ({fly_rps / base_rps:.3f}x, target >= 0.1x)")
    print(f"plain PACT JSON:           {json_rps:8.1f} pages/s  ({json_rps / base_rps:.2f}x)")
    print(f"RSS after listing 1,000: {rss_1k / mb:.0f} MB; after 100,000: {rss_100k / mb:.0f} MB; "
          f"growth {(rss_100k - rss_1k) / mb:.1f} MB (target < 50 MB)")


def main() -> None:
    asyncio.run(main_async())


if __name__ == "__main__":
    main()
