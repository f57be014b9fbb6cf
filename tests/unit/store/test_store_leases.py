"""Leases: which replica drives which process, expiry after a crash, and the outbox queue."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from connector.store import ConcurrentUpdate, Store, backoff_delay
from tests.unit.store.factories import FakeClock, message, negotiation, transfer


async def test_lease_due_claims_only_due_unleased_rows(store: Store, replica: Store, clock: FakeClock) -> None:
    due = [await store.negotiations.create(negotiation(due_at=clock.now - timedelta(seconds=i))) for i in range(3)]
    await store.negotiations.create(negotiation(due_at=None))  # waiting for the partner
    await store.negotiations.create(negotiation(due_at=clock.now + timedelta(seconds=30)))  # a later retry
    got = await store.negotiations.lease_due("replica-a", 10, 30.0)
    assert [n.id for n in got] == [n.id for n in reversed(due)]  # oldest due first
    assert all(n.lease_owner == "replica-a" and n.lease_expires_at == clock.now + timedelta(seconds=30) for n in got)
    assert await replica.negotiations.lease_due("replica-b", 10, 30.0) == []
    assert await store.negotiations.lease_due("replica-a", 10, 30.0) == []  # not handed out twice
    assert await store.negotiations.lease_due("replica-a", 0, 30.0) == []
    with pytest.raises(ValueError):
        await store.negotiations.lease_due("", 1, 30.0)
    with pytest.raises(ValueError):
        await store.negotiations.lease_due("r", 1, 0)


async def test_limit_is_respected_and_split_is_disjoint(store: Store, replica: Store, clock: FakeClock) -> None:
    for _ in range(10):
        await store.transfers.create(transfer(due_at=clock.now))
    a = await store.transfers.lease_due("replica-a", 4, 30.0)
    b = await replica.transfers.lease_due("replica-b", 100, 30.0)
    assert len(a) == 4 and len(b) == 6
    assert not {t.id for t in a} & {t.id for t in b}


async def test_concurrent_claimers_never_share_a_row(store: Store, replica: Store, clock: FakeClock) -> None:
    for _ in range(40):
        await store.negotiations.create(negotiation(due_at=clock.now))

    async def worker(s: Store, owner: str) -> list[str]:
        mine: list[str] = []
        while batch := await s.negotiations.lease_due(owner, 3, 30.0):
            mine += [n.id for n in batch]
        return mine

    results = await asyncio.gather(*(worker(s, f"{name}-{i}") for i in range(3)
                                     for name, s in (("a", store), ("b", replica))))
    claimed = [nid for r in results for nid in r]
    assert len(claimed) == 40 and len(set(claimed)) == 40


async def test_crashed_replica_lease_expires_and_is_reclaimed(store: Store, replica: Store, clock: FakeClock) -> None:
    n = await store.negotiations.create(negotiation(due_at=clock.now))
    [held] = await store.negotiations.lease_due("replica-a", 10, 30.0)
    # replica-a dies here without releasing; until the lease runs out nobody else may take it
    clock.advance(29)
    assert await replica.negotiations.lease_due("replica-b", 10, 30.0) == []
    assert await replica.negotiations.claim(n.id, "replica-b", 30.0) is None
    clock.advance(2)
    [taken] = await replica.negotiations.lease_due("replica-b", 10, 30.0)
    assert taken.id == n.id and taken.lease_owner == "replica-b"
    done = await replica.negotiations.update(replace(taken, state="AGREED", due_at=None), release_lease=True)
    assert done.lease_owner is None and done.due_at is None
    # replica-a wakes up late with its stale copy: the version check stops it
    with pytest.raises(ConcurrentUpdate):
        await store.negotiations.update(replace(held, state="TERMINATED"))
    assert await store.negotiations.lease_due("replica-a", 10, 30.0) == []  # no longer due


async def test_claim_renew_and_release(store: Store, replica: Store, clock: FakeClock) -> None:
    n = await store.negotiations.create(negotiation())  # not due: claimed on an incoming message
    assert (await store.negotiations.claim(n.id, "replica-a", 10.0)) is not None
    assert await replica.negotiations.claim(n.id, "replica-b", 10.0) is None
    clock.advance(5)
    renewed = await store.negotiations.claim(n.id, "replica-a", 10.0)
    assert renewed is not None and renewed.lease_expires_at == clock.now + timedelta(seconds=10)
    assert await replica.negotiations.release(n.id, "replica-b") is False  # not b's to release
    assert await store.negotiations.release(n.id, "replica-a") is True
    assert (await replica.negotiations.claim(n.id, "replica-b", 10.0)) is not None
    assert await store.negotiations.claim("urn:uuid:missing", "replica-a", 10.0) is None


async def test_outbox_sends_in_order_per_process(store: Store, replica: Store, clock: FakeClock) -> None:
    for n in range(3):
        await store.outbox.enqueue(message("proc-1", n, at=clock.now))
    await store.outbox.enqueue(message("proc-2", 0, at=clock.now))
    batch = await store.outbox.lease_due("replica-a", 10, 30.0)
    # only the head of each process's queue is due
    assert sorted(m.id for m in batch) == ["proc-1/msg-0", "proc-2/msg-0"]
    assert await replica.outbox.lease_due("replica-b", 10, 30.0) == []
    assert await replica.outbox.mark_sent("proc-1/msg-0", "replica-b") is False  # not b's lease
    assert await store.outbox.mark_sent("proc-1/msg-0", "replica-a") is True
    [nxt] = await replica.outbox.lease_due("replica-b", 10, 30.0)
    assert nxt.id == "proc-1/msg-1"
    sent = await store.outbox.get("proc-1/msg-0")
    assert sent is not None and sent.status == "SENT" and sent.attempts == 1


async def test_outbox_retries_with_backoff_then_gives_up(store: Store, clock: FakeClock) -> None:
    await store.outbox.enqueue(message("proc-9", 0, at=clock.now))
    await store.outbox.enqueue(message("proc-9", 1, at=clock.now))
    [m] = await store.outbox.lease_due("r", 10, 30.0)
    failed = await store.outbox.mark_failed(m.id, "r", "connection refused", max_attempts=2, delay=lambda a: 4.0 * a)
    assert failed is not None and failed.status == "PENDING" and failed.attempts == 1
    assert failed.next_attempt_at == clock.now + timedelta(seconds=4)
    assert await store.outbox.lease_due("r", 10, 30.0) == []  # waiting for its retry; msg-1 stays behind it
    clock.advance(4)
    [m] = await store.outbox.lease_due("r", 10, 30.0)
    dead = await store.outbox.mark_failed(m.id, "r", "HTTP 503", max_attempts=2)
    assert dead is not None and dead.status == "DEAD" and dead.last_error == "HTTP 503"
    [m1] = await store.outbox.lease_due("r", 10, 30.0)  # a dead head no longer blocks the queue
    assert m1.id == "proc-9/msg-1"
    assert await store.outbox.mark_failed(m1.id, "someone-else", "x") is None
    assert await store.outbox.cancel_for_process("proc-9", "process terminated") == 1
    assert [m.status for m in await store.outbox.for_process("proc-9")] == ["DEAD", "DEAD"]


async def test_outbox_crash_mid_send_is_retried_by_another_replica(
    store: Store, replica: Store, clock: FakeClock
) -> None:
    sent = await store.outbox.enqueue(message("proc-3", 0, at=clock.now))
    assert (await store.outbox.claim(sent.id, "replica-a", 5.0)) is not None  # event-driven send starts
    assert await replica.outbox.lease_due("replica-b", 10, 5.0) == []
    clock.advance(6)  # replica-a died mid-send
    [again] = await replica.outbox.lease_due("replica-b", 10, 5.0)
    assert again.id == sent.id
    assert await replica.outbox.mark_sent(sent.id, "replica-b")
    assert await store.outbox.claim(sent.id, "replica-a", 5.0) is None  # sent messages are not re-claimed
    assert await store.outbox.purge_sent(clock.now + timedelta(seconds=1)) == 1


def test_backoff_grows_and_is_capped() -> None:
    delays = [backoff_delay(a, base=1.0, cap=30.0, jitter=0.0) for a in range(1, 8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert all(0.8 <= backoff_delay(1, base=1.0, jitter=0.2) <= 1.2 for _ in range(50))


async def test_restart_under_a_stable_id_resumes_at_once(store_url: str, store: Store, clock: FakeClock) -> None:
    from connector.store import open_store

    for _ in range(3):
        await store.negotiations.create(negotiation(due_at=clock.now))
    await store.outbox.enqueue(message("proc-r", 0, at=clock.now))
    assert len(await store.negotiations.lease_due("jp-connector-1", 10, 300.0)) == 3
    assert len(await store.outbox.lease_due("jp-connector-1", 10, 300.0)) == 1
    await store.close()  # the process stops without releasing anything
    restarted = await open_store(store_url, clock=clock)
    try:
        assert await restarted.negotiations.lease_due("jp-connector-1", 10, 300.0) == []  # still leased
        assert await restarted.negotiations.release_all("jp-connector-1") == 3
        assert await restarted.outbox.release_all("jp-connector-1") == 1
        assert len(await restarted.negotiations.lease_due("jp-connector-1", 10, 300.0)) == 3
        assert len(await restarted.outbox.lease_due("jp-connector-1", 10, 300.0)) == 1
    finally:
        await restarted.close()


async def test_enqueue_claims_the_head_for_the_sender_and_claim_head_follows(
        store: Store, replica: Store, clock: FakeClock) -> None:
    """The event-driven path: a message heading its process's queue is written already leased
    to the replica that sends it; the next one waits, is never handed out while the head is
    in flight (not even to its own owner, which would send the head twice), and is claimed
    by process id once the head is sent."""
    first = await store.outbox.enqueue(message("proc-e", 0, at=clock.now), claim_for="replica-a", lease_seconds=20)
    assert first.lease_owner == "replica-a" and first.lease_expires_at == clock.now + timedelta(seconds=20)
    second = await store.outbox.enqueue(message("proc-e", 1, at=clock.now), claim_for="replica-a", lease_seconds=20)
    assert second.lease_owner is None  # an earlier message of the process is still pending
    assert await replica.outbox.lease_due("replica-b", 10, 30.0) == []  # head leased, second blocked
    assert await store.outbox.claim_head("proc-e", "replica-a", 20) is None  # the head is being sent
    assert await replica.outbox.claim_head("proc-e", "replica-b", 20) is None
    assert await store.outbox.mark_sent(first.id, "replica-a")
    nxt = await replica.outbox.claim_head("proc-e", "replica-b", 20)
    assert nxt is not None and nxt.id == second.id and nxt.lease_owner == "replica-b"
    assert await store.outbox.claim_head("proc-e", "replica-a", 20) is None
    assert await replica.outbox.mark_sent(second.id, "replica-b")
    assert await store.outbox.claim_head("proc-e", "replica-a", 20) is None  # nothing left


async def test_mark_sent_and_claim_next_is_one_step(store: Store, replica: Store, clock: FakeClock) -> None:
    """Marking the head sent also leases the next pending message of the same process (one
    statement on PostgreSQL); a sender that lost its lease marks nothing and claims nothing,
    so a message is never sent ahead of an earlier one that is still pending."""
    first = await store.outbox.enqueue(message("proc-n", 0, at=clock.now), claim_for="replica-a", lease_seconds=20)
    second = await store.outbox.enqueue(message("proc-n", 1, at=clock.now), claim_for="replica-a", lease_seconds=20)
    third = await store.outbox.enqueue(message("proc-n", 2, at=clock.now + timedelta(seconds=60)))
    other = await store.outbox.enqueue(message("proc-o", 0, at=clock.now))
    assert await replica.outbox.mark_sent_and_claim_next(first.id, "proc-n", "replica-b", 20) == (False, None)
    sent, nxt = await store.outbox.mark_sent_and_claim_next(first.id, "proc-n", "replica-a", 30)
    assert sent and nxt is not None and nxt.id == second.id
    assert nxt.lease_owner == "replica-a" and nxt.lease_expires_at == clock.now + timedelta(seconds=30)
    assert nxt.payload == second.payload and nxt.status == "PENDING" and nxt.attempts == 0
    assert (await store.outbox.get(first.id)).status == "SENT"  # type: ignore[union-attr]
    # the third is not due yet: the second is marked sent, nothing is claimed
    assert await store.outbox.mark_sent_and_claim_next(second.id, "proc-n", "replica-a", 30) == (True, None)
    assert (await store.outbox.get(third.id)).lease_owner is None  # type: ignore[union-attr]
    assert (await store.outbox.get(other.id)).lease_owner is None  # type: ignore[union-attr]
    assert await store.outbox.mark_sent_and_claim_next(second.id, "proc-n", "replica-a", 30) == (False, None)


async def test_a_pre_claimed_message_of_a_crashed_sender_is_recovered(store: Store, replica: Store,
                                                                      clock: FakeClock) -> None:
    row = await store.outbox.enqueue(message("proc-k", 0, at=clock.now), claim_for="replica-a", lease_seconds=20)
    # replica-a is killed before sending: the row stays leased until the lease runs out
    assert await replica.outbox.lease_due("replica-b", 10, 30.0) == []
    clock.advance(21)
    [taken] = await replica.outbox.lease_due("replica-b", 10, 30.0)
    assert taken.id == row.id and taken.lease_owner == "replica-b"
