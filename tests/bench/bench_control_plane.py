"""Control-plane benchmark (not a test): `python -m tests.bench.bench_control_plane`.

Measures, in one run on this machine:
* the raw aiohttp JSON POST round trip on loopback (the floor under every protocol message),
  and a minimal authenticated, durable step (`minimal_step`): what one protocol message
  costs at least in this stack before any protocol logic;
* the median time from the consumer's Management API call to negotiation FINALIZED plus
  transfer STARTED between two real connector processes (events pushed to a callback
  listener, so no polling is measured), against 6 protocol round trips x the raw round trip;
  the connectors prove who they are with DCP (membership credentials from real JP and TW
  authority processes), as in production: a verified presentation is cached, so after the
  warm-up each message costs an ID-token check, not a presentation round trip;
* concurrent negotiations completed per second, on SQLite and on PostgreSQL, within a
  bounded wait (what did not finish is reported, not hidden behind a timeout);
* the CPU time each connector process spent per flow (from /proc), which says where the time
  goes when the machine is shared: wall time = CPU of both connectors + the client + waiting;
  during the concurrent run also the CPU of the PostgreSQL server processes and how busy the
  whole machine was (other jobs included), to tell a CPU-bound run from a starved one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.engine import make_url

from connector import eventloop  # the loop `kakehashi run` uses
from tests.integration.processes import Connector, Dataspace, Management, free_port, offer_for

PROTOCOL_ROUND_TRIPS = 6  # request, agreement, verification, finalized; transfer request, start


def cpu_seconds(*connectors: Connector) -> float:
    """User + system CPU time of the connector processes so far (Linux /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for c in connectors:
        if c.proc is None:
            continue
        try:
            fields = Path(f"/proc/{c.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def postgres_server_seconds(databases: tuple[str, ...]) -> tuple[float, float]:
    """User + system CPU time of the PostgreSQL server processes so far: (running backends
    serving ``databases``, everything else: other running server processes — other databases'
    backends, WAL writer, checkpointer, autovacuum — plus every backend that has exited, of
    any database, as the postmaster accounts for its reaped children). A backend closed during
    a run (a pool dropping a connection) is only in the second figure."""
    ours = other = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            head, tail = (entry / "stat").read_text().rsplit(")", 1)
            if not head.split("(", 1)[1].startswith("postgres"):
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").split()
        except OSError:
            continue
        fields = tail.split()
        seconds = (int(fields[11]) + int(fields[12])) / tick
        if title[:1] != ["postgres:"]:  # the postmaster: its reaped children's CPU too
            seconds += (int(fields[13]) + int(fields[14])) / tick
        # a backend's title: "postgres: [<cluster>:] <user> <database> <client> <state>"
        if title[:1] == ["postgres:"] and any(word in databases for word in title[2:5]):
            ours += seconds
        else:
            other += seconds
    return ours, other


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    total = sum(values[:8]) / tick
    return total - (values[3] + values[4]) / tick, total


async def _serve_one(path: str, handler: Any) -> tuple[web.AppRunner, int]:
    """A bare aiohttp server with one POST route on a free loopback port."""
    app = web.Application()
    app.router.add_post(path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


async def raw_round_trip(n: int = 300) -> float:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response(await request.json())

    runner, port = await _serve_one("/echo", echo)
    samples = []
    async with aiohttp.ClientSession() as s:
        for _ in range(n):
            t0 = time.perf_counter()
            async with s.post(f"http://127.0.0.1:{port}/echo", json={"@type": "Ping", "x": 1}) as r:
                await r.read()
            samples.append(time.perf_counter() - t0)
    await runner.cleanup()
    return statistics.median(samples[20:])


async def minimal_step(tmp: Path, n: int = 300) -> float:
    """The least one DSP message costs here, in this stack: the sender records it durably
    before sending (a restart must resume from the database) and signs an ID token; the
    receiver checks the token (signature, type, time claims) and records the message durably;
    each record is one SQLite INSERT + COMMIT (WAL, synchronous=NORMAL, as the store does), over
    the same aiohttp as the raw round trip. No policy, no state machine, no JSON-LD, no outbox
    scan, no audit log, no replay look-up: a lower bound for one protocol step."""
    import sqlite3

    from identity.jose import sign_jwt, verify_jwt
    from identity.keys import KeyPair

    key = KeyPair.generate("ed25519")
    def database(name: str) -> sqlite3.Connection:
        conn = sqlite3.connect(tmp / name, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE step (jti TEXT PRIMARY KEY, body TEXT)")
        return conn

    db, sender_db = database("receiver.db"), database("sender.db")

    async def step(request: web.Request) -> web.Response:
        body = await request.json()
        _, claims = verify_jwt(request.headers["Authorization"][7:], key.public, expected_types=["JWT"])
        db.execute("BEGIN")
        db.execute("INSERT INTO step VALUES (?, ?)", (claims["jti"], str(body)))
        db.execute("COMMIT")
        return web.json_response({"@type": "Ack", "jti": claims["jti"]})

    runner, port = await _serve_one("/step", step)
    samples = []
    async with aiohttp.ClientSession() as s:
        for i in range(n):
            t0 = time.perf_counter()
            sender_db.execute("BEGIN")
            sender_db.execute("INSERT INTO step VALUES (?, ?)", (f"j{i}", "out"))
            sender_db.execute("COMMIT")
            token = sign_jwt({"iss": "did:example:a", "aud": "did:example:b", "jti": f"j{i}",
                              "exp": int(time.time()) + 300}, key, kid="did:example:a#key-1", typ="JWT")
            async with s.post(f"http://127.0.0.1:{port}/step", json={"@type": "Ping", "x": i},
                              headers={"Authorization": f"Bearer {token}"}) as r:
                await r.read()
            samples.append(time.perf_counter() - t0)
    await runner.cleanup()
    db.close()
    sender_db.close()
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


async def _pair(dataspace: Dataspace, workdir: Path, db_p: str | None, db_c: str | None) -> tuple[Connector, Connector]:
    """A JP provider and a TW consumer, members of their data spaces."""
    provider = dataspace.connector("provider", workdir / "provider", authority="jp", database=db_p)
    consumer = dataspace.connector("consumer", workdir / "consumer", authority="tw", database=db_c)
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
                     count: int, max_wait: float) -> tuple[int, float]:
    """Start ``count`` negotiations at once; (how many reached FINALIZED, seconds) within ``max_wait``."""
    mc = Management(session, consumer)
    offer = offer_for(await mc.catalog(provider), "pcf-bench", provider)
    t0 = time.perf_counter()
    ids = await asyncio.gather(*(mc.negotiate(provider, offer, callbackAddresses=listener.callbacks())
                                 for _ in range(count)))
    waits = [listener.wait(i, "FINALIZED") for i in ids]
    done, _ = await asyncio.wait(waits, timeout=max(0.1, max_wait - (time.perf_counter() - t0)))
    if len(done) == count:
        return count, max(f.result() for f in waits) - t0
    return len(done), time.perf_counter() - t0


async def run(args: argparse.Namespace) -> None:
    raw = await raw_round_trip()
    print(f"raw aiohttp JSON POST round trip (median): {raw * 1e3:.2f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        step = await minimal_step(Path(tmp))
    print(f"minimal authenticated, durable step (sender commit, ID token signed + checked, receiver commit): "
          f"{step * 1e3:.2f} ms; {PROTOCOL_ROUND_TRIPS} of them = {PROTOCOL_ROUND_TRIPS * step * 1e3:.2f} ms = "
          f"{step / raw:.1f} x the {PROTOCOL_ROUND_TRIPS}-round-trip floor, with the Management API call "
          f"{PROTOCOL_ROUND_TRIPS + 1} = {(PROTOCOL_ROUND_TRIPS + 1) * step / (PROTOCOL_ROUND_TRIPS * raw):.1f} x "
          f"(target <= 3 x), before any protocol logic")
    listener = Listener()
    runner = await listener.start()
    backends: list[tuple[str, str | None, str | None]] = [("sqlite", None, None)]
    pg_dbs: list[Any] = []
    if args.postgres:
        from tests.pgutil import admin_dsn, fresh_database

        if admin_dsn() is not None:
            cm_p, cm_c = fresh_database("kk_bench_p"), fresh_database("kk_bench_c")
            pg_dbs = [cm_p, cm_c]
            suffix = "" if args.pg_sync_commit == "on" else "?synchronous_commit=off"
            backends.append((f"postgresql{suffix and ' (synchronous_commit=off)'}", cm_p.__enter__() + suffix,
                             cm_c.__enter__() + suffix))
        else:
            print("PostgreSQL not reachable: skipped")
    authorities = tempfile.TemporaryDirectory()
    # Production-like status-list caching (60 s): revocation checks do not dominate the run.
    dataspace = Dataspace(Path(authorities.name), status_ttl_ms=60_000)
    dataspace.start()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=500)) as session:
            for name, db_p, db_c in backends:
                with tempfile.TemporaryDirectory() as tmp:
                    provider, consumer = await _pair(dataspace, Path(tmp), db_p, db_c)
                    pg_names = tuple(make_url(u).database or "" for u in (db_p, db_c) if u)
                    try:
                        await Management(session, provider).offer("pcf-bench")
                        await end_to_end(session, provider, consumer, listener, 3)  # warm-up
                        cpu_p, cpu_c = cpu_seconds(provider), cpu_seconds(consumer)
                        pg0 = postgres_server_seconds(pg_names)
                        samples = await end_to_end(session, provider, consumer, listener, args.runs)
                        cpu_p, cpu_c = cpu_seconds(provider) - cpu_p, cpu_seconds(consumer) - cpu_c
                        pg_flow = (postgres_server_seconds(pg_names)[0] - pg0[0]) / args.runs
                        med = statistics.median(samples)
                        floor = PROTOCOL_ROUND_TRIPS * raw
                        print(f"[{name}] management call -> FINALIZED + STARTED, median of {args.runs}: "
                              f"{med * 1e3:.1f} ms = {med / floor:.1f} x ({PROTOCOL_ROUND_TRIPS} x raw = "
                              f"{floor * 1e3:.2f} ms); min {min(samples) * 1e3:.1f} ms, "
                              f"p90 {sorted(samples)[int(len(samples) * 0.9)] * 1e3:.1f} ms")
                        print(f"[{name}]   CPU per flow: provider {cpu_p / args.runs * 1e3:.1f} ms, "
                              f"consumer {cpu_c / args.runs * 1e3:.1f} ms"
                              + (f", PostgreSQL backends {pg_flow * 1e3:.1f} ms" if db_p else ""))
                        cpu_p, cpu_c = cpu_seconds(provider), cpu_seconds(consumer)
                        pg0, (busy0, all0) = postgres_server_seconds(pg_names), machine_busy()
                        done, seconds = await throughput(session, provider, consumer, listener, args.concurrent,
                                                         args.max_wait)
                        cpu_p, cpu_c = cpu_seconds(provider) - cpu_p, cpu_seconds(consumer) - cpu_c
                        pg1, (busy1, all1) = postgres_server_seconds(pg_names), machine_busy()
                        unfinished = f", {args.concurrent - done} NOT finished" if done < args.concurrent else ""
                        print(f"[{name}] {args.concurrent} concurrent negotiations: {done} FINALIZED in "
                              f"{seconds:.2f} s = {done / seconds:.0f}/s{unfinished}; CPU per negotiation: "
                              f"provider {cpu_p / max(done, 1) * 1e3:.1f} ms, consumer {cpu_c / max(done, 1) * 1e3:.1f} ms")
                        cores = os.cpu_count() or 1
                        pg_part = (f"PostgreSQL backends of the two databases {(pg1[0] - pg0[0]) / max(done, 1) * 1e3:.1f} ms "
                                   f"per negotiation (other and exited server processes "
                                   f"{(pg1[1] - pg0[1]) / max(done, 1) * 1e3:.1f} ms), "
                                   if db_p else "")
                        print(f"[{name}]   {pg_part}connectors {(cpu_p + cpu_c) / seconds / cores:.0%} of the machine, "
                              f"machine busy {(busy1 - busy0) / max(all1 - all0, 1e-9):.0%} "
                              f"({cores} cores, other jobs included)")
                    finally:
                        provider.stop()
                        consumer.stop()
    finally:
        await runner.cleanup()
        dataspace.stop()
        authorities.cleanup()
        for cm in pg_dbs:
            cm.__exit__(None, None, None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--max-wait", type=float, default=60.0,
                        help="seconds to wait for the concurrent negotiations before reporting what finished")
    parser.add_argument("--no-postgres", dest="postgres", action="store_false")
    parser.add_argument("--pg-sync-commit", default="on", choices=("on", "off"),
                        help="PostgreSQL synchronous_commit for the connectors' databases (on = durable)")
    eventloop.run(run(parser.parse_args(argv)), os.environ.get("KAKEHASHI_EVENT_LOOP", "auto"))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
