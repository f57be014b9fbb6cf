"""Accepted PACT RequestCreated events: idempotent intake, leases, outcomes; SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from connector.store import PactRequest, Store
from connector.store.tables import pact_requests
from tests.unit.store.factories import FakeClock, pact_request


async def test_add_is_idempotent_per_partner_and_event_id(store: Store, clock: FakeClock) -> None:
    first, created = await store.pact_requests.add(pact_request("ev-1", at=clock.now))
    assert created and first.status == "PENDING" and first.attempts == 0 and first.lease_owner is None
    assert await store.pact_requests.get(first.id) == first
    again, created = await store.pact_requests.add(pact_request("ev-1", at=clock.now))  # resent: a new uuid
    assert (again, created) == (first, False)
    other, created = await store.pact_requests.add(pact_request("ev-1", partner="kr-client", at=clock.now))
    assert created and other.id != first.id and other.partner == "kr-client"
    assert await store.pact_requests.get("nope") is None


async def test_duplicate_inside_a_transaction_does_not_abort_it(store: Store, clock: FakeClock) -> None:
    async with store.transaction() as tx:
        stored, _ = await tx.pact_requests.add(pact_request("ev-1", at=clock.now))
        again, created = await tx.pact_requests.add(pact_request("ev-1", at=clock.now))
        later, created_later = await tx.pact_requests.add(pact_request("ev-2", at=clock.now))
    assert (again, created, created_later) == (stored, False, True)
    assert await store.pact_requests.get(later.id) == later


async def test_scope_and_event_round_trip(store: Store, clock: FakeClock) -> None:
    everything, _ = await store.pact_requests.add(pact_request("ev-all", at=clock.now, version="2"))
    some, _ = await store.pact_requests.add(pact_request("ev-some", at=clock.now, scope=["fp-1", "fp-2"]))
    none_allowed, _ = await store.pact_requests.add(pact_request("ev-none", at=clock.now, scope=[]))
    assert (await store.pact_requests.get(everything.id)).scope is None  # type: ignore[union-attr]
    assert (await store.pact_requests.get(some.id)).scope == ["fp-1", "fp-2"]  # type: ignore[union-attr]
    assert (await store.pact_requests.get(none_allowed.id)).scope == []  # type: ignore[union-attr]
    got = await store.pact_requests.get(everything.id)
    assert got is not None and got.version == "2" and got.event["id"] == "ev-all"
    assert got.source == "https://jp.example/pact/3/events" and got.created_at == clock.now
    async with store._db.read() as conn:  # noqa: SLF001 — "all footprints" is SQL NULL, not JSON null
        nulls = (await conn.execute(select(func.count()).where(pact_requests.c.scope.is_(None)))).scalar()
    assert nulls == 1


async def test_claim_for_leases_the_new_row_only(store: Store, replica: Store, clock: FakeClock) -> None:
    mine, created = await store.pact_requests.add(pact_request("ev-1", at=clock.now), claim_for="replica-a",
                                                  lease_seconds=30.0)
    assert created and mine.lease_owner == "replica-a" and mine.lease_expires_at == clock.now + timedelta(seconds=30)
    dup, created = await replica.pact_requests.add(pact_request("ev-1", at=clock.now), claim_for="replica-b")
    assert not created and dup.lease_owner == "replica-a"  # a resend does not steal the lease
    assert await replica.pact_requests.lease_due("replica-b", 10, 30.0) == []
    clock.advance(29)
    assert await replica.pact_requests.lease_due("replica-b", 10, 30.0) == []
    clock.advance(2)  # replica-a died before answering: its lease runs out
    [taken] = await replica.pact_requests.lease_due("replica-b", 10, 30.0)
    assert taken.id == mine.id and taken.lease_owner == "replica-b"
    assert await store.pact_requests.answered(mine.id, "replica-a") is False  # too late: taken over
    assert await replica.pact_requests.answered(mine.id, "replica-b") is True
    with pytest.raises(ValueError):
        await store.pact_requests.add(pact_request("ev-2", at=clock.now), claim_for="")


async def test_lease_due_order_limit_and_what_is_not_due(store: Store, clock: FakeClock) -> None:
    due = [(await store.pact_requests.add(pact_request(f"ev-{i}", at=clock.now - timedelta(seconds=i))))[0]
           for i in range(4)]
    await store.pact_requests.add(pact_request("later", at=clock.now, next_attempt_at=clock.now + timedelta(seconds=5)))
    answered, _ = await store.pact_requests.add(pact_request("answered", at=clock.now), claim_for="r")
    failed, _ = await store.pact_requests.add(pact_request("failed", at=clock.now), claim_for="r")
    assert await store.pact_requests.answered(answered.id, "r")
    assert await store.pact_requests.give_up(failed.id, "r", "x")
    got = await store.pact_requests.lease_due("replica-a", 3, 30.0)
    assert [r.id for r in got] == [r.id for r in reversed(due)][:3]  # oldest first, at most the limit
    assert all(r.lease_owner == "replica-a" and r.lease_expires_at == clock.now + timedelta(seconds=30) for r in got)
    [last] = await store.pact_requests.lease_due("replica-a", 10, 30.0)
    assert last.id == due[0].id
    assert await store.pact_requests.lease_due("replica-a", 10, 30.0) == []
    assert await store.pact_requests.lease_due("replica-a", 0, 30.0) == []
    clock.advance(5)
    [retry] = await store.pact_requests.lease_due("replica-a", 10, 30.0)
    assert retry.event_id == "later"


async def test_outcomes_only_by_the_lease_holder(store: Store, clock: FakeClock) -> None:
    a, _ = await store.pact_requests.add(pact_request("ev-a", at=clock.now), claim_for="replica-a")
    b, _ = await store.pact_requests.add(pact_request("ev-b", at=clock.now), claim_for="replica-a")
    c, _ = await store.pact_requests.add(pact_request("ev-c", at=clock.now), claim_for="replica-a")
    at = clock.now + timedelta(seconds=1)
    assert await store.pact_requests.answered(a.id, "replica-b") is False
    assert await store.pact_requests.retry_later(b.id, "replica-b", "boom", at) is False
    assert await store.pact_requests.give_up(c.id, "replica-b", "boom") is False
    assert await store.pact_requests.answered("nope", "replica-a") is False
    assert [await store.pact_requests.get(r.id) for r in (a, b, c)] == [a, b, c]  # untouched

    assert await store.pact_requests.answered(a.id, "replica-a") is True
    done = await store.pact_requests.get(a.id)
    assert done == PactRequest(**{**_fields(a), "status": "ANSWERED", "attempts": 1, "lease_owner": None,
                                  "lease_expires_at": None})
    assert await store.pact_requests.answered(a.id, "replica-a") is False  # the lease went with it

    assert await store.pact_requests.give_up(c.id, "replica-a", "partner rejects us") is True
    gone = await store.pact_requests.get(c.id)
    assert gone is not None and (gone.status, gone.attempts, gone.last_error, gone.lease_owner) == (
        "FAILED", 1, "partner rejects us", None)
    assert await store.pact_requests.retry_later(c.id, "replica-a", "again", at) is False


async def test_retry_later_makes_it_due_again_at_the_given_time(store: Store, replica: Store,
                                                                clock: FakeClock) -> None:
    r, _ = await store.pact_requests.add(pact_request("ev-1", at=clock.now), claim_for="replica-a")
    at = clock.now + timedelta(seconds=10)
    assert await store.pact_requests.retry_later(r.id, "replica-a", "503 from partner", at) is True
    waiting = await store.pact_requests.get(r.id)
    assert waiting is not None and (waiting.status, waiting.attempts, waiting.next_attempt_at, waiting.last_error,
                                    waiting.lease_owner, waiting.lease_expires_at) == (
        "PENDING", 1, at, "503 from partner", None, None)
    clock.advance(9)
    assert await replica.pact_requests.lease_due("replica-b", 10, 30.0) == []
    clock.advance(1)
    [again] = await replica.pact_requests.lease_due("replica-b", 10, 30.0)
    assert again.id == r.id and again.attempts == 1
    assert await replica.pact_requests.answered(r.id, "replica-b") is True
    final = await store.pact_requests.get(r.id)
    assert final is not None and (final.status, final.attempts, final.last_error) == ("ANSWERED", 2, None)


async def test_replicas_never_lease_the_same_row(store: Store, replica: Store, clock: FakeClock) -> None:
    for i in range(30):
        await store.pact_requests.add(pact_request(f"ev-{i}", at=clock.now))

    async def worker(s: Store, owner: str) -> list[str]:
        mine: list[str] = []
        while batch := await s.pact_requests.lease_due(owner, 3, 30.0):
            mine += [r.id for r in batch]
        return mine

    results = await asyncio.gather(*(worker(s, f"{name}-{i}") for i in range(3)
                                     for name, s in (("a", store), ("b", replica))))
    claimed = [rid for r in results for rid in r]
    assert len(claimed) == 30 and len(set(claimed)) == 30


async def test_purge_answered_keeps_pending_and_recent(store: Store, clock: FakeClock) -> None:
    old = clock.now - timedelta(days=8)
    answered, _ = await store.pact_requests.add(pact_request("answered", at=old), claim_for="r")
    failed, _ = await store.pact_requests.add(pact_request("failed", at=old), claim_for="r")
    pending, _ = await store.pact_requests.add(pact_request("pending", at=old))
    recent, _ = await store.pact_requests.add(pact_request("recent", at=clock.now), claim_for="r")
    assert await store.pact_requests.answered(answered.id, "r")
    assert await store.pact_requests.give_up(failed.id, "r", "x")
    assert await store.pact_requests.answered(recent.id, "r")
    assert await store.pact_requests.purge_answered(clock.now - timedelta(days=7)) == 2
    assert await store.pact_requests.get(answered.id) is None and await store.pact_requests.get(failed.id) is None
    assert await store.pact_requests.get(pending.id) == pending
    assert await store.pact_requests.get(recent.id) is not None
    assert await store.pact_requests.purge_answered(clock.now - timedelta(days=7)) == 0


def _fields(r: PactRequest) -> dict[str, object]:
    return {name: getattr(r, name) for name in PactRequest.__dataclass_fields__}


async def test_release_all_frees_only_the_owners_leases(store: Store, clock: FakeClock) -> None:
    mine, _ = await store.pact_requests.add(pact_request("e-mine", at=clock.now), claim_for="replica-a")
    theirs, _ = await store.pact_requests.add(pact_request("e-theirs", at=clock.now), claim_for="replica-b")
    assert await store.pact_requests.lease_due("replica-a", 10, 30) == []  # both leased
    assert await store.pact_requests.release_all("replica-a") == 1
    assert [r.id for r in await store.pact_requests.lease_due("replica-a", 10, 30)] == [mine.id]
    assert (await store.pact_requests.get(theirs.id)).lease_owner == "replica-b"  # type: ignore[union-attr]
