"""Status-list bits for footprint revocation, identical on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from connector.store import StatusEntry, Store
from connector.store.status_entries import FootprintStatusRepository
from tests.unit.store.factories import FakeClock

LIST_SIZE = FootprintStatusRepository.LIST_SIZE


async def test_allocation_is_idempotent_and_in_range(store: Store) -> None:
    first = await store.footprint_status.allocate("fp-1", 1)
    assert first == await store.footprint_status.allocate("fp-1", 1)
    assert first == await store.footprint_status.get("fp-1", 1)
    assert (first.list_id, first.footprint_id, first.version, first.revoked, first.revoked_at) == (
        1, "fp-1", 1, False, None)
    assert 0 <= first.index < LIST_SIZE
    second = await store.footprint_status.allocate("fp-1", 2)
    assert (second.list_id, second.index) != (first.list_id, first.index)
    assert await store.footprint_status.get("fp-1", 3) is None
    assert await store.footprint_status.list_ids() == [1]


async def test_many_allocations_never_collide(store: Store) -> None:
    entries = [await store.footprint_status.allocate(f"fp-{i}", 1) for i in range(300)]
    assert len({(e.list_id, e.index) for e in entries}) == 300
    assert all(e.list_id == 1 and 0 <= e.index < LIST_SIZE for e in entries)
    assert sorted(e.index for e in entries) != [e.index for e in entries]  # random, not in publication order


async def test_a_full_list_rolls_over_to_the_next(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FootprintStatusRepository, "LIST_SIZE", 8)
    monkeypatch.setattr(FootprintStatusRepository, "FILL", 3)
    entries = [await store.footprint_status.allocate(f"fp-{i}", 1) for i in range(7)]
    assert [e.list_id for e in entries] == [1, 1, 1, 2, 2, 2, 3]
    for list_id in (1, 2):
        indexes = [e.index for e in entries if e.list_id == list_id]
        assert len(set(indexes)) == 3 and all(0 <= i < 8 for i in indexes)
    assert await store.footprint_status.list_ids() == [1, 2, 3]
    assert await store.footprint_status.allocate("fp-0", 1) == entries[0]  # still idempotent after rollover


async def test_replicas_allocating_the_same_version_get_one_entry(store: Store, replica: Store) -> None:
    for i in range(5):
        a, b = await asyncio.gather(store.footprint_status.allocate(f"fp-{i}", 1),
                                    replica.footprint_status.allocate(f"fp-{i}", 1))
        assert a == b
    mixed = await asyncio.gather(*((store if i % 2 else replica).footprint_status.allocate(f"other-{i}", 1)
                                   for i in range(20)))
    assert len({(e.list_id, e.index) for e in mixed}) == 20


async def test_revoke_one_version_all_versions_and_unknown(store: Store, clock: FakeClock) -> None:
    v1 = await store.footprint_status.allocate("fp-1", 1)
    v2 = await store.footprint_status.allocate("fp-1", 2)
    other = await store.footprint_status.allocate("fp-2", 1)
    assert await store.footprint_status.revoke("nope") == []
    assert await store.footprint_status.revoke("fp-1", 9) == []
    first_at = clock.now
    [r1] = await store.footprint_status.revoke("fp-1", 1)
    assert r1 == StatusEntry(list_id=v1.list_id, index=v1.index, footprint_id="fp-1", version=1, revoked=True,
                             revoked_at=first_at)
    assert (await store.footprint_status.get("fp-1", 2)) == v2  # the other version is untouched
    clock.advance(60)
    both = await store.footprint_status.revoke("fp-1")
    assert [(e.version, e.revoked, e.revoked_at) for e in both] == [(1, True, first_at), (2, True, clock.now)]
    clock.advance(60)
    assert await store.footprint_status.revoke("fp-1") == both  # idempotent: first revoked_at kept
    assert await store.footprint_status.revoke("fp-1", 1) == [both[0]]
    assert await store.footprint_status.get("fp-2", 1) == other


async def test_revoked_indexes_and_revision_follow_revocations(store: Store, clock: FakeClock) -> None:
    assert await store.footprint_status.revision(1) == (0, None)
    entries = [await store.footprint_status.allocate(f"fp-{i}", 1) for i in range(5)]
    assert await store.footprint_status.revoked_indexes(1) == []
    assert await store.footprint_status.revision(1) == (0, None)
    await store.footprint_status.revoke("fp-3")
    assert await store.footprint_status.revoked_indexes(1) == [entries[3].index]
    assert await store.footprint_status.revision(1) == (1, clock.now)
    clock.advance(5)
    await store.footprint_status.revoke("fp-0")
    assert await store.footprint_status.revoked_indexes(1) == sorted([entries[0].index, entries[3].index])
    assert await store.footprint_status.revision(1) == (2, clock.now)
    assert await store.footprint_status.revoked_indexes(2) == []
    assert await store.footprint_status.revision(2) == (0, None)


async def test_allocation_inside_a_transaction_commits_and_rolls_back_with_it(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            entry = await tx.footprint_status.allocate("fp-1", 1)
            assert await tx.footprint_status.allocate("fp-1", 1) == entry
            assert await tx.footprint_status.get("fp-1", 1) == entry
            raise RuntimeError("crash before commit")
    assert await store.footprint_status.get("fp-1", 1) is None
    assert await store.footprint_status.list_ids() == []
    async with store.transaction() as tx:
        entry = await tx.footprint_status.allocate("fp-1", 1)
        [revoked] = await tx.footprint_status.revoke("fp-1", 1)
    assert await store.footprint_status.get("fp-1", 1) == revoked
    assert (revoked.list_id, revoked.index, revoked.revoked) == (entry.list_id, entry.index, True)


async def test_taken_bits_are_drawn_again_inside_a_transaction(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A collision must not abort the caller's transaction (it would on PostgreSQL with a plain INSERT)."""
    monkeypatch.setattr(FootprintStatusRepository, "LIST_SIZE", 4)
    monkeypatch.setattr(FootprintStatusRepository, "FILL", 4)
    draws = iter([0, 1, 0, 1, 2, 3])
    monkeypatch.setattr("connector.store.status_entries.secrets.randbelow", lambda _n: next(draws))
    await store.footprint_status.allocate("fp-a", 1)
    await store.footprint_status.allocate("fp-b", 1)
    async with store.transaction() as tx:
        c = await tx.footprint_status.allocate("fp-c", 1)  # draws 0 and 1 (taken), then 2
        d = await tx.footprint_status.allocate("fp-d", 1)
    assert (c.index, d.index) == (2, 3)
    assert await store.footprint_status.revoked_indexes(1) == []
    assert [e.index for e in [await store.footprint_status.get(f"fp-{x}", 1) for x in "abcd"] if e] == [0, 1, 2, 3]
