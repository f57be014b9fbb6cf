"""Several replicas of one connector sharing one PostgreSQL database.

Each replica is a separate ``Store`` (its own engine and connection pool), as it would be
in a separate process; the crash test uses a real process killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from connector.store import Store, criteria, open_store, utcnow
from connector.store.migrate import head_revision
from tests.pgutil import fresh_database
from tests.unit.store.factories import message, negotiation

pytestmark = pytest.mark.postgres
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def db_url() -> Iterator[str]:
    with fresh_database("kk_replicas") as url:
        yield url


@pytest.fixture
async def replicas(db_url: str) -> AsyncIterator[tuple[Store, Store]]:
    a, b = await asyncio.gather(open_store(db_url), open_store(db_url))
    yield a, b
    await a.close()
    await b.close()


async def test_replicas_migrating_at_once(db_url: str) -> None:
    stores = await asyncio.gather(*(open_store(db_url, pool_size=2) for _ in range(4)))
    try:
        async with stores[0]._db.read() as conn:  # noqa: SLF001
            versions = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).scalars().all()
        assert versions == [head_revision()]
        assert [await s.ping() for s in stores] == [True] * 4
    finally:
        for s in stores:
            await s.close()


async def test_two_replicas_split_work_without_overlap(replicas: tuple[Store, Store]) -> None:
    a, b = replicas
    total = 240
    now = utcnow()
    for _ in range(0, total, 40):
        async with a.transaction() as tx:
            for _ in range(40):
                await tx.negotiations.create(negotiation(due_at=now - timedelta(seconds=1)))
    claims: Counter[str] = Counter()
    by_replica: Counter[str] = Counter()

    async def worker(store: Store, owner: str) -> None:
        while batch := await store.negotiations.lease_due(owner, 5, 30.0):
            for n in batch:
                claims[n.id] += 1
                by_replica[owner.split("/")[0]] += 1
                # drive it one step and hand it back, as the state machine runner does
                await store.negotiations.update(replace(n, state="AGREED", due_at=None), release_lease=True)

    started = time.perf_counter()
    await asyncio.gather(*(worker(s, f"{name}/w{i}") for i in range(4) for name, s in (("a", a), ("b", b))))
    elapsed = time.perf_counter() - started
    assert len(claims) == total and max(claims.values()) == 1, "a process was claimed twice"
    assert by_replica["a"] > 0 and by_replica["b"] > 0, f"one replica did all the work: {by_replica}"
    agreed = await b.negotiations.query(criteria(("state", "=", "AGREED"), limit=1000))
    assert len(agreed) == total and all(n.version == 1 and n.lease_owner is None for n in agreed)
    print(f"\nleased+updated {total} processes on 2 replicas x 4 workers in {elapsed:.2f}s "
          f"({total / elapsed:.0f}/s), split {dict(by_replica)}")


CHILD = """
import asyncio, os, signal, sys
from connector.store import open_store
async def main():
    store = await open_store(sys.argv[1])
    leased = await store.negotiations.lease_due("doomed-replica", 6, float(sys.argv[2]))
    print(" ".join(n.id for n in leased), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # die holding the leases: no release, no close
asyncio.run(main())
"""


async def test_leases_of_a_killed_replica_are_reclaimed(db_url: str) -> None:
    survivor = await open_store(db_url)
    try:
        ids = {(await survivor.negotiations.create(negotiation(due_at=utcnow()))).id for _ in range(10)}
        lease_s = 1.5
        child = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-c", CHILD, db_url, str(lease_s)], cwd=REPO, capture_output=True,
            text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert child.returncode == -signal.SIGKILL, child.stderr
        held = set(child.stdout.split())
        assert len(held) == 6 and held <= ids
        first = await survivor.negotiations.lease_due("survivor", 100, 30.0)
        assert {n.id for n in first} == ids - held  # the dead replica's rows are still leased
        await asyncio.sleep(lease_s + 0.2)
        second = await survivor.negotiations.lease_due("survivor", 100, 30.0)
        assert {n.id for n in second} == held
    finally:
        await survivor.close()


async def test_replay_cache_accepts_a_token_once_across_replicas(replicas: tuple[Store, Store]) -> None:
    a, b = replicas
    exp = utcnow() + timedelta(minutes=5)
    results = await asyncio.gather(*(s.replay.remember("jti-shared", exp) for s in (a, b) * 10))
    assert results.count(True) == 1


async def test_audit_chain_stays_linear_under_concurrent_appends(replicas: tuple[Store, Store]) -> None:
    a, b = replicas
    await asyncio.gather(*(s.audit.append("delivery", {"n": i, "by": name})
                           for i in range(15) for name, s in (("a", a), ("b", b))))
    assert await a.audit.verify() is None
    entries = await b.audit.entries(limit=100)
    assert [e.seq for e in entries] == list(range(1, 31))


async def test_outbox_keeps_per_process_order_across_replicas(replicas: tuple[Store, Store]) -> None:
    a, b = replicas
    now = utcnow()
    for p in range(8):
        for n in range(3):
            await a.outbox.enqueue(message(f"proc-{p}", n, at=now))
    delivered: list[str] = []

    async def sender(store: Store, owner: str) -> None:
        idle = 0
        while idle < 3:
            batch = await store.outbox.lease_due(owner, 2, 30.0)
            idle = 0 if batch else idle + 1
            for m in batch:
                delivered.append(m.id)
                assert await store.outbox.mark_sent(m.id, owner)
            await asyncio.sleep(0)

    await asyncio.gather(*(sender(s, f"{name}/{i}") for i in range(2) for name, s in (("a", a), ("b", b))))
    assert sorted(delivered) == sorted(f"proc-{p}/msg-{n}" for p in range(8) for n in range(3))
    for p in range(8):
        assert [d for d in delivered if d.startswith(f"proc-{p}/")] == [f"proc-{p}/msg-{n}" for n in range(3)]
