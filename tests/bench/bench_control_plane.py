"""Control-plane benchmark (not a test): `python -m tests.bench.bench_control_plane`.

Measures, in one run on this machine:
* the raw aiohttp JSON POST round trip on loopback (the floor under every protocol message);
* the median time from the consumer's Management API call to negotiation FINALIZED plus
  transfer STARTED between two real connector processes (events pushed to a callback
  listener, so no polling is measured), against 6 protocol round trips x the raw round trip;
* concurrent negotiations completed per second, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.integration.processes import Connector, Management, free_port, membership_credential, offer_for

PROTOCOL_ROUND_TRIPS = 6  # request, agreement, verification, finalized; transfer request, start


async def raw_round_trip(n: int = 300) -> float:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response(await request.json())

    app = web.Application()
    app.router.add_post("/echo", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    samples = []
    async with aiohttp.ClientSession() as s:
        for _ in range(n):
            t0 = time.perf_counter()
            async with s.post(f"http://127.0.0.1:{port}/echo", json={"@type": "Ping", "x": 1}) as r:
                await r.read()
            samples.append(time.perf_counter() - t0)
    await runner.cleanup()
    return statistics.median(samples[20:])


class Listener:
    """Receives callback events and wakes whoever waits for (process id, state)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.waiters: dict[tuple[str, str], asyncio.Future[float]] = {}
        self.seen: dict[tuple[str, str], float] = {}

    def wait(self, pid: str, state: str) -> asyncio.Future[float]:
        key = (pid, state)
        fut = self.waiters.setdefault(key, asyncio.get_running_loop().create_future())
        if key in self.seen and not fut.done():
            fut.set_result(self.seen[key])
        return fut

    async def handle(self, request: web.Request) -> web.Response:
        event = await request.json()
        payload = event.get("payload", {})
        pid = payload.get("contractNegotiationId") or payload.get("transferProcessId")
        key = (pid, payload.get("state"))
        now = time.perf_counter()
        self.seen[key] = now
        fut = self.waiters.get(key)
        if fut is not None and not fut.done():
            fut.set_result(now)
        return web.Response(status=204)

    async def start(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/events", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        return runner

    def callbacks(self) -> list[dict[str, Any]]:
        return [{"uri": f"http://127.0.0.1:{self.port}/events", "events": ["contract.negotiation.finalized",
                 "contract.negotiation.terminated", "transfer.process.started", "transfer.process.terminated"]}]


async def _pair(workdir: Path, db_p: str | None, db_c: str | None) -> tuple[Connector, Connector]:
    def make(name: str, db: str | None) -> Connector:
        pid = f"did:web:{name}.bench"
        return Connector(name=name, workdir=workdir / name, participant_id=pid, port=free_port(),
                         database=db or f"sqlite+aiosqlite:///{workdir / name / 'store.db'}",
                         credentials=[membership_credential(pid)])
    provider, consumer = make("provider", db_p), make("consumer", db_c)
    provider.start()
    consumer.start()
    await asyncio.gather(provider.wait_ready(), consumer.wait_ready())
    return provider, consumer


async def end_to_end(session: aiohttp.ClientSession, provider: Connector, consumer: Connector, listener: Listener,
                     runs: int) -> list[float]:
    mc = Management(session, consumer)
    offer = offer_for(await mc.catalog(provider), "pcf-bench", provider)
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        neg_id = await mc.negotiate(provider, offer, callbackAddresses=listener.callbacks())
        await asyncio.wait_for(listener.wait(neg_id, "FINALIZED"), 20)
        agreement = await mc.call("GET", f"/contractnegotiations/{neg_id}/agreement")
        body = {"@context": {"@vocab": "https://w3id.org/edc/v0.0.1/ns/"}, "@type": "TransferRequest",
                "counterPartyAddress": provider.dsp, "contractId": agreement["@id"], "transferType": "HttpData-PULL",
                "callbackAddresses": listener.callbacks()}
        tp_id = (await mc.call("POST", "/transferprocesses", body))["@id"]
        await asyncio.wait_for(listener.wait(tp_id, "STARTED"), 20)
        samples.append(time.perf_counter() - t0)
    return samples


async def throughput(session: aiohttp.ClientSession, provider: Connector, consumer: Connector, listener: Listener,
                     count: int) -> float:
    mc = Management(session, consumer)
    offer = offer_for(await mc.catalog(provider), "pcf-bench", provider)
    t0 = time.perf_counter()
    ids = await asyncio.gather(*(mc.negotiate(provider, offer, callbackAddresses=listener.callbacks())
                                 for _ in range(count)))
    await asyncio.wait_for(asyncio.gather(*(listener.wait(i, "FINALIZED") for i in ids)), 120)
    return count / (time.perf_counter() - t0)


async def run(args: argparse.Namespace) -> None:
    raw = await raw_round_trip()
    print(f"raw aiohttp JSON POST round trip (median): {raw * 1e3:.2f} ms")
    listener = Listener()
    runner = await listener.start()
    backends: list[tuple[str, str | None, str | None]] = [("sqlite", None, None)]
    pg_dbs: list[Any] = []
    if args.postgres:
        from tests.pgutil import admin_dsn, fresh_database

        if admin_dsn() is not None:
            cm_p, cm_c = fresh_database("kk_bench_p"), fresh_database("kk_bench_c")
            pg_dbs = [cm_p, cm_c]
            backends.append(("postgresql", cm_p.__enter__(), cm_c.__enter__()))
        else:
            print("PostgreSQL not reachable: skipped")
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=500)) as session:
            for name, db_p, db_c in backends:
                with tempfile.TemporaryDirectory() as tmp:
                    provider, consumer = await _pair(Path(tmp), db_p, db_c)
                    try:
                        await Management(session, provider).offer("pcf-bench")
                        await end_to_end(session, provider, consumer, listener, 3)  # warm-up
                        samples = await end_to_end(session, provider, consumer, listener, args.runs)
                        med = statistics.median(samples)
                        floor = PROTOCOL_ROUND_TRIPS * raw
                        print(f"[{name}] management call -> FINALIZED + STARTED, median of {args.runs}: "
                              f"{med * 1e3:.1f} ms = {med / floor:.1f} x ({PROTOCOL_ROUND_TRIPS} x raw = "
                              f"{floor * 1e3:.2f} ms)")
                        rate = await throughput(session, provider, consumer, listener, args.concurrent)
                        print(f"[{name}] {args.concurrent} concurrent negotiations: {rate:.0f} FINALIZED/s")
                    finally:
                        provider.stop()
                        consumer.stop()
    finally:
        await runner.cleanup()
        for cm in pg_dbs:
            cm.__exit__(None, None, None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--no-postgres", dest="postgres", action="store_false")
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
