"""Benchmark: ``GET /2/footprints?limit=100`` from a SQLite store of 100,000 footprints.

Measures, in one process on loopback (client and server share the loop):
  * pre-rendered: the same signed-page bytes served by a bare aiohttp handler (baseline)
  * signed pages, signatures cached (eddsa-jcs-2022 VCs, the host's VC cache warm): whole
    pages from the host's page cache, and with the page cache off (per-VC cache only)
  * signed pages, signing on the fly (VC cache disabled): inline, and with the signing
    batches handed to a 2-thread pool and to a 2-process pool; the signer is the
    connector's own (``FootprintSigner``: stored plain footprints are signed from their
    stored JSON bytes through ``identity.footprint_signing``)
  * plain PACT JSON pages (reference)
and RSS after paging through the whole store with 1,000 and then 100,000 footprints, and
the floor of signing on the fly (a pre-rendered page plus 100 raw Ed25519 signatures).

The modes run in interleaved slices (A B C D A B C D ...), so background load on a shared
machine hits them alike; each line gives wall-clock pages/s and, where all the work is in
this process, CPU ms per page (client + server), the load-independent number.

Run: ``.venv/bin/python tests/bench/bench_pact.py`` (about 1-2 minutes).
"""

from __future__ import annotations

import asyncio
import base64
import gc
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import aiohttp
import psutil
from aiohttp import web
from sqlalchemy import insert

from connector import eventloop  # the loop `kakehashi run` uses
from connector.dataplane import ClientCredentialsAuth, create_pact_app
from connector.dataplane.client import next_link
from connector.dataplane.runner import start_pact_host
from connector.dataplane.source import StoreFootprintSource
from connector.delivery.signing import FootprintSigner
from connector.footprints import make_footprints
from connector.store import open_store
from connector.store.tables import footprints as footprints_table
from identity.keys import KeyPair

PAGE = 100
CONCURRENCY = 8
ROUNDS = 3
SLICE = 1.0  # seconds per mode per round
HOT_PAGES = 10  # pages cycled in the throughput runs (1,000 footprints, inside the VC cache)


BENCH_DID = "did:web:provider.bench.example"


def make_signer() -> FootprintSigner:
    """The provider's signer exactly as the connector builds one (``create_public_api``): its
    DID key, eddsa-jcs-2022, stored credentials served as they are and everything else
    signed (the store here holds plain footprints, so every VC is signed). Picklable, so it
    also runs in a process pool."""
    return FootprintSigner(KeyPair.generate("Ed25519"), BENCH_DID)


def footprint_rows(start: int, stop: int, templates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for i in range(start, stop):
        fp = dict(templates[i % len(templates)])
        fp["id"] = f"{i + 1:08x}-0000-4000-8000-000000000000"  # sortable, unique
        rows.append({"direction": "PUBLISHED", "id": fp["id"], "version": 1, "credential": fp,
                     "sha256": "0" * 64, "status": fp["status"], "source_agreement_id": None,
                     "updated_at": datetime.now(timezone.utc)})
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


class Mode:
    def __init__(self, name: str, urls: list[str], headers: dict[str, str]) -> None:
        self.name, self.urls, self.headers = name, urls, headers
        self.pages, self.wall, self.cpu, self.size, self.next = 0, 0.0, 0.0, 0, 0

    @property
    def rps(self) -> float:
        return self.pages / self.wall if self.wall else 0.0

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu / self.pages if self.pages else float("nan")


async def run_slice(session: aiohttp.ClientSession, mode: Mode, seconds: float) -> None:
    """CONCURRENCY clients request the mode's pages in turn for ``seconds``."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            url = mode.urls[mode.next % len(mode.urls)]
            mode.next += 1
            async with session.get(url, headers=mode.headers) as resp:
                body = await resp.read()
                assert resp.status == 200, body[:200]
                mode.size = len(body)
            done += 1

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    mode.wall += time.perf_counter() - t0
    mode.cpu += time.process_time() - cpu0
    mode.pages += done


async def walk_all(session: aiohttp.ClientSession, base: str, headers: dict[str, str]) -> int:
    url, count = f"{base}/2/footprints?limit={PAGE}", 0
    while url:
        async with session.get(url, headers=headers) as resp:
            count += len((await resp.json())["data"])
            url = next_link(resp.headers.get("Link"))
    return count


async def main_async() -> None:
    started = time.perf_counter()
    proc = psutil.Process()
    templates = make_footprints("jp", 50, seed=1) + make_footprints("tw", 50, seed=2)
    tmp = tempfile.mkdtemp(prefix="kakehashi-bench-")
    store = await open_store(f"sqlite+aiosqlite:///{os.path.join(tmp, 'bench.db')}")
    await fill(store, 0, 1000, templates)

    auth = ClientCredentialsAuth()
    auth.register_client("bench", "bench-secret", scopes={"footprint:list", "footprint:read", "footprint:vc"})
    signer = make_signer()
    source = StoreFootprintSource(store.footprints, unwrap=signer.unwrap)  # as PublishedFootprints builds it
    threads = ThreadPoolExecutor(2, thread_name_prefix="bench-sign")
    procs = ProcessPoolExecutor(2)
    key = os.urandom(32)  # shared cursor key: links from one app work on the other (like replicas)
    apps = {
        "cached": create_pact_app(source, auth, signer=signer, vc_cache_size=20_000, cursor_key=key),
        "cached_vc": create_pact_app(source, auth, signer=signer, vc_cache_size=20_000, cursor_key=key,
                                     page_cache_bytes=0),
        "fly": create_pact_app(source, auth, signer=signer, vc_cache_size=0, cursor_key=key),
        "fly_threads": create_pact_app(source, auth, signer=signer, vc_cache_size=0, cursor_key=key,
                                       sign_executor=threads, sign_workers=2),
        "fly_procs": create_pact_app(source, auth, signer=signer, vc_cache_size=0, cursor_key=key,
                                     sign_executor=procs, sign_workers=2),
    }
    runners, base = [], {}
    for name, app in apps.items():
        runner, port = await start_pact_host(app)
        runners.append(runner)
        base[name] = f"http://127.0.0.1:{port}"
    cached = base["cached"]

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
        bodies = []
        for u in vc_urls:  # warm the signature cache, and capture the exact bytes for the baseline
            async with session.get(u, headers=headers) as resp:
                bodies.append(await resp.read())
            async with session.get(u.replace(cached, base["cached_vc"]), headers=headers) as resp:
                assert resp.status == 200 and abs(len(await resp.read()) - len(bodies[-1])) < 200  # warm its VC cache
        for u in vc_urls[:1]:  # every host signs the same bytes apart from proof time/value
            async with session.get(u.replace(cached, base["fly_procs"]), headers=headers) as resp:
                assert resp.status == 200 and abs(len(await resp.read()) - len(bodies[0])) < 200

        async def prerendered(request: web.Request) -> web.Response:
            return web.Response(body=bodies[int(request.match_info["n"])], content_type="application/json")

        raw = web.Application()
        raw.router.add_get("/page/{n}", prerendered)
        r3, port_raw = await start_pact_host(raw)
        runners.append(r3)

        modes = [
            Mode("pre-rendered bytes", [f"http://127.0.0.1:{port_raw}/page/{n}" for n in range(len(bodies))], {}),
            Mode("signed, signatures cached", vc_urls, headers),
            Mode("  ... page cache off", [u.replace(cached, base["cached_vc"]) for u in vc_urls], headers),
            Mode("signed, on the fly", [u.replace(cached, base["fly"]) for u in vc_urls], headers),
            Mode("  ... 2-thread pool", [u.replace(cached, base["fly_threads"]) for u in vc_urls], headers),
            Mode("  ... 2-process pool", [u.replace(cached, base["fly_procs"]) for u in vc_urls], headers),
            Mode("plain PACT JSON", json_urls, headers),
        ]
        sign_us: list[float] = []
        for _ in range(ROUNDS):
            for mode in modes:
                await run_slice(session, mode, SLICE)
            sign_us.append(raw_sign_us(signer.key))

    for runner in runners:
        await runner.cleanup()
    threads.shutdown()
    procs.shutdown()
    await store.close() if hasattr(store, "close") else None
    shutil.rmtree(tmp, ignore_errors=True)  # a 100,000-footprint store is ~400 MB

    mb = 1024 * 1024
    base_mode = modes[0]
    print(f"store: 100,000 footprints in SQLite (bulk load {fill_s:.1f} s); full listing by {PAGE}: {walk_s:.1f} s "
          f"({100_000 / walk_s:,.0f} footprints/s)")
    print(f"signed page: {modes[1].size / 1024:.0f} KiB ({PAGE} eddsa-jcs-2022 VCs); "
          f"plain page {modes[-1].size / 1024:.0f} KiB; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; {ROUNDS} interleaved rounds of {SLICE:.1f} s per mode")
    print(f"{'':28}{'pages/s':>9} {'ratio':>7}   {'CPU ms/page':>11} {'CPU ratio':>9}")
    targets = {1: "  (target >= 0.5x)", 3: "  (target >= 0.1x)"}
    for n, mode in enumerate(modes):
        ratio = mode.rps / base_mode.rps
        in_process = not mode.urls[0].startswith(base["fly_procs"])  # worker CPU is not ours to count
        cpu = f"{mode.cpu_ms:11.2f} {base_mode.cpu_ms / mode.cpu_ms:8.3f}x" if in_process else f"{'(workers)':>11} {'':9}"
        print(f"{mode.name + ':':28}{mode.rps:9.1f} {ratio:6.3f}x   {cpu}{targets.get(n, '')}")
    # What signing alone allows: a pre-rendered page plus PAGE raw signatures, nothing else
    # (CPU time on both sides, so the bound does not move with the machine's load)
    sign = sorted(sign_us)[len(sign_us) // 2]
    floor_ms = base_mode.cpu_ms + PAGE * sign / 1000
    print(f"floor of signing on the fly: {PAGE} raw Ed25519 signatures = {PAGE * sign / 1000:.2f} ms CPU "
          f"({sign:.1f} us each); with a pre-rendered page {floor_ms:.2f} ms/page, "
          f"so at most {base_mode.cpu_ms / floor_ms:.3f}x on one core")
    print(f"RSS after listing 1,000: {rss_1k / mb:.0f} MB; after 100,000: {rss_100k / mb:.0f} MB; "
          f"growth {(rss_100k - rss_1k) / mb:.1f} MB (target < 50 MB)")
    print(f"bench wall time: {time.perf_counter() - started:.0f} s")


def raw_sign_us(key: KeyPair, n: int = 2000) -> float:
    """CPU microseconds per raw Ed25519 signature of a 64-byte hashData (what every
    credential signed on the fly costs at the least)."""
    sign, data = key.cryptography_key().sign, os.urandom(64)
    t0 = time.process_time()
    for _ in range(n):
        sign(data)
    return (time.process_time() - t0) / n * 1e6


def main() -> None:
    eventloop.run(main_async(), os.environ.get("KAKEHASHI_EVENT_LOOP", "auto"))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
