"""Repository behaviour, identical on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from connector.store import (
    Agreement,
    AlreadyExists,
    ConcurrentUpdate,
    ContractDefinition,
    Document,
    Edr,
    Footprint,
    InvalidQuery,
    NotFound,
    QuerySpec,
    Store,
    criteria,
)

from tests.unit.store.factories import FakeClock, message, negotiation, transfer


async def test_documents_crud_and_query(store: Store) -> None:
    body = {"@id": "asset-1", "properties": {"name": "鋼材 カーボンフットプリント"}}
    created = await store.assets.create(Document(id="asset-1", body=body))
    assert created.created_at.tzinfo is not None
    with pytest.raises(AlreadyExists):
        await store.assets.create(Document(id="asset-1", body={}))
    got = await store.assets.get("asset-1")
    assert got is not None and got.body == body  # non-ASCII survives the round trip
    updated = await store.assets.update(Document(id="asset-1", body={"v": 2}))
    assert updated.body == {"v": 2} and updated.created_at == created.created_at
    with pytest.raises(NotFound):
        await store.assets.update(Document(id="nope", body={}))
    for i in range(5):
        await store.assets.create(Document(id=f"b-{i}", body={"i": i}))
    page = await store.assets.query(criteria(("id", "like", "b-%"), offset=1, limit=2, sort_field="id",
                                             sort_order="DESC"))
    assert [a.id for a in page] == ["b-3", "b-2"]
    assert await store.assets.delete("asset-1") is True
    assert await store.assets.delete("asset-1") is False
    assert await store.assets.get("asset-1") is None


async def test_contract_definitions_know_their_policies(store: Store) -> None:
    await store.policies.create(Document(id="p-access", body={"@type": "Set"}))
    await store.contract_defs.create(
        ContractDefinition(id="cd-1", access_policy_id="p-access", contract_policy_id="p-contract", body={})
    )
    await store.contract_defs.create(
        ContractDefinition(id="cd-2", access_policy_id="p-other", contract_policy_id="p-other", body={})
    )
    assert [c.id for c in await store.contract_defs.referencing_policy("p-contract")] == ["cd-1"]
    assert [c.id for c in await store.contract_defs.referencing_policy("p-access")] == ["cd-1"]
    assert await store.contract_defs.referencing_policy("p-unused") == []


async def test_same_consumer_pid_twice_is_one_process(store: Store) -> None:
    first = negotiation(consumer_pid="urn:uuid:cpid-1", offer={"@id": "offer-1"})
    stored, created = await store.negotiations.create_or_get(first)
    assert created and stored.version == 0 and stored.offer == {"@id": "offer-1"}
    again, created = await store.negotiations.create_or_get(negotiation(consumer_pid="urn:uuid:cpid-1"))
    assert not created and again.id == first.id
    assert len(await store.negotiations.query(QuerySpec())) == 1
    # the consumer side may hold the same consumerPid: uniqueness is per role
    _, created = await store.negotiations.create_or_get(negotiation(role="consumer", consumer_pid="urn:uuid:cpid-1"))
    assert created


async def test_foreign_participant_cannot_reuse_a_consumer_pid(store: Store) -> None:
    await store.negotiations.create(negotiation(consumer_pid="urn:uuid:cpid-x", counter_party="did:web:a"))
    with pytest.raises(AlreadyExists, match="another participant"):
        await store.negotiations.create_or_get(negotiation(consumer_pid="urn:uuid:cpid-x", counter_party="did:web:b"))
    with pytest.raises(AlreadyExists):
        await store.negotiations.create(negotiation(consumer_pid="urn:uuid:cpid-x", counter_party="did:web:a"))
    with pytest.raises(ValueError, match="role"):
        await store.negotiations.create(negotiation(role="broker"))


async def test_find_by_protocol_ids(store: Store) -> None:
    n = await store.negotiations.create(negotiation(consumer_pid="urn:uuid:c-9"))
    assert (await store.negotiations.find_by_pid("provider", consumer_pid="urn:uuid:c-9")) == n
    assert (await store.negotiations.find_by_pid("provider", provider_pid=n.id, consumer_pid="urn:uuid:c-9")) == n
    assert await store.negotiations.find_by_pid("consumer", consumer_pid="urn:uuid:c-9") is None
    assert await store.negotiations.find_by_pid("provider", provider_pid=n.id, consumer_pid="urn:uuid:other") is None
    with pytest.raises(NotFound):
        await store.negotiations.require("urn:uuid:missing")


async def test_update_is_compare_and_set(store: Store, clock: FakeClock) -> None:
    n = await store.negotiations.create(negotiation())
    clock.advance(1)
    agreed = await store.negotiations.update(replace(n, state="AGREED", agreement_id="agr-1"))
    assert agreed.version == 1 and agreed.state == "AGREED" and agreed.updated_at > n.updated_at
    assert agreed.created_at == n.created_at
    with pytest.raises(ConcurrentUpdate) as err:
        await store.negotiations.update(replace(n, state="TERMINATED"))  # stale: read at version 0
    assert err.value.expected_version == 0 and err.value.actual_version == 1
    assert "re-read" in str(err.value)
    assert (await store.negotiations.require(n.id)).state == "AGREED"
    with pytest.raises(NotFound):
        await store.negotiations.update(replace(n, id="urn:uuid:gone"))


async def test_concurrent_writers_exactly_one_wins(store: Store, replica: Store) -> None:
    import asyncio

    n = await store.negotiations.create(negotiation())
    results = await asyncio.gather(
        store.negotiations.update(replace(n, state="AGREED")),
        replica.negotiations.update(replace(n, state="TERMINATED")),
        return_exceptions=True,
    )
    assert sum(isinstance(r, ConcurrentUpdate) for r in results) == 1
    winner = next(r for r in results if not isinstance(r, BaseException))
    assert (await store.negotiations.require(n.id)).state == winner.state


async def test_management_query_filters(store: Store, clock: FakeClock) -> None:
    states = ["REQUESTED", "AGREED", "FINALIZED", "FINALIZED", "TERMINATED"]
    ids = []
    for i, state in enumerate(states):
        clock.advance(1)
        n = await store.negotiations.create(negotiation(state=state, counter_party=f"did:web:p{i % 2}.example"))
        ids.append(n.id)
    q = store.negotiations.query
    assert len(await q(criteria(("state", "=", "FINALIZED")))) == 2
    assert len(await q(criteria(("state", "!=", "FINALIZED")))) == 3
    assert len(await q(criteria(("state", "in", ["AGREED", "TERMINATED"])))) == 2
    assert len(await q(criteria(("counterPartyId", "like", "%p1%")))) == 2
    assert len(await q(criteria(("state", "=", "FINALIZED"), ("counterPartyId", "=", "did:web:p0.example")))) == 1
    newest = await q(criteria(sort_field="createdAt", sort_order="DESC", limit=1))
    assert [n.id for n in newest] == [ids[-1]]
    # EDC posts JSON-LD with prefixed keys, epoch-millis timestamps
    cutoff = int((clock.now - timedelta(seconds=0.5)).timestamp() * 1000)
    spec = QuerySpec.from_json({
        "@context": {"@vocab": "https://w3id.org/edc/v0.0.1/ns/"}, "@type": "QuerySpec",
        "https://w3id.org/edc/v0.0.1/ns/filterExpression": [
            {"operandLeft": "https://w3id.org/edc/v0.0.1/ns/createdAt", "operator": ">", "operandRight": cutoff}
        ],
        "edc:limit": 10,
    })
    assert [n.id for n in await q(spec)] == ids[-1:]
    with pytest.raises(InvalidQuery, match="unknown field"):
        await q(criteria(("nonsense", "=", "x")))
    with pytest.raises(InvalidQuery, match="operator"):
        await q(criteria(("state", "~", "x")))
    with pytest.raises(InvalidQuery, match="limit"):
        await q(criteria(limit=-1))
    with pytest.raises(InvalidQuery, match="version"):
        await q(criteria(("version", "=", "not-a-number")))


async def test_agreements(store: Store) -> None:
    n = await store.negotiations.create(negotiation())
    agr = Agreement(id="agr-1", negotiation_id=n.id, asset_id="asset-1", policy={"@type": "Agreement"},
                    assigner="did:web:jp.example", assignee="did:web:tw.example")
    await store.agreements.create(agr)
    with pytest.raises(AlreadyExists):
        await store.agreements.create(agr)
    assert await store.agreements.get("agr-1") == agr
    assert await store.agreements.for_negotiation(n.id) == agr
    found = await store.agreements.query(criteria(("assetId", "=", "asset-1"), ("assignee", "=", "did:web:tw.example")))
    assert found == [agr]


async def test_transfers_mirror_negotiations(store: Store) -> None:
    t = transfer(consumer_pid="urn:uuid:t-c1")
    stored, created = await store.transfers.create_or_get(t)
    again, created_again = await store.transfers.create_or_get(transfer(consumer_pid="urn:uuid:t-c1"))
    assert created and not created_again and again.id == stored.id
    started = await store.transfers.update(replace(stored, state="STARTED", data_address={"endpoint": "http://x"}))
    assert started.data_address == {"endpoint": "http://x"} and started.version == 1
    assert [x.id for x in await store.transfers.query(criteria(("agreementId", "=", "agr-1")))] == [t.id]


async def test_edrs_revocation_and_expiry(store: Store, clock: FakeClock) -> None:
    exp = clock.now + timedelta(minutes=5)
    edr = Edr(transfer_id="t1", agreement_id="agr-1", token_id="jti-1", endpoint="http://127.0.0.1/2", expires_at=exp)
    await store.edrs.save(edr)
    await store.edrs.save(Edr(transfer_id="t2", agreement_id="agr-1", token_id="jti-2", endpoint="e", expires_at=exp))
    assert (await store.edrs.active_by_token_id("jti-1")) is not None
    # a resumed transfer gets a new token: the row is replaced, not duplicated
    await store.edrs.save(replace(edr, token_id="jti-1b"))
    assert await store.edrs.find_by_token_id("jti-1") is None
    assert (await store.edrs.get("t1")).token_id == "jti-1b"  # type: ignore[union-attr]
    assert await store.edrs.revoke_for_agreement("agr-1") == 2
    assert await store.edrs.active_by_token_id("jti-1b") is None
    assert await store.edrs.revoke("t1") is False  # already revoked
    await store.edrs.save(Edr(transfer_id="t3", agreement_id="agr-2", token_id="jti-3", endpoint="e", expires_at=exp))
    clock.advance(301)
    assert await store.edrs.active_by_token_id("jti-3") is None
    assert [e.transfer_id for e in await store.edrs.query(criteria(("revoked", "=", "false")))] == ["t3"]


async def test_footprints_keep_the_newest_version(store: Store) -> None:
    def fp(fid: str, version: int, status: str = "Active") -> Footprint:
        return Footprint(id=fid, direction="RECEIVED", version=version, credential={"v": version},
                         sha256="0" * 64, status=status, source_agreement_id="agr-1")

    assert await store.footprints.save(fp("fp-1", 2)) is True
    assert await store.footprints.save(fp("fp-1", 1)) is False  # late, older delivery
    assert (await store.footprints.get("RECEIVED", "fp-1")).credential == {"v": 2}  # type: ignore[union-attr]
    assert await store.footprints.save(fp("fp-1", 3)) is True
    assert await store.footprints.get("PUBLISHED", "fp-1") is None
    for i in range(5):
        await store.footprints.save(fp(f"fp-{i + 2}", 1, "Deprecated" if i == 0 else "Active"))
    first = await store.footprints.page("RECEIVED", limit=3)
    rest = await store.footprints.page("RECEIVED", after_id=first[-1].id, limit=10)
    assert [f.id for f in first + rest] == [f"fp-{i}" for i in range(1, 7)]
    assert len(await store.footprints.page("RECEIVED", status="Active", limit=10)) == 5
    assert await store.footprints.count("RECEIVED") == 6
    with pytest.raises(ValueError):
        await store.footprints.save(replace(fp("x", 1), direction="SIDEWAYS"))
    # a status change applies only to the very credential named by its digest
    assert await store.footprints.set_status("RECEIVED", "fp-2", "0" * 64, "Revoked") is True
    assert await store.footprints.set_status("RECEIVED", "fp-3", "1" * 64, "Revoked") is False
    assert await store.footprints.set_status("PUBLISHED", "fp-3", "0" * 64, "Revoked") is False
    assert [f.status for f in await store.footprints.page("RECEIVED", limit=3)] == ["Active", "Revoked", "Active"]


async def test_replay_cache(store: Store, replica: Store, clock: FakeClock) -> None:
    exp = clock.now + timedelta(seconds=60)
    assert await store.replay.remember("jti-a", exp) is True
    assert await replica.replay.remember("jti-a", exp) is False  # seen by another replica
    assert await store.replay.seen("jti-a") and not await store.replay.seen("jti-b")
    clock.advance(61)
    assert await store.replay.seen("jti-a") is False
    assert await store.replay.purge_expired() == 1
    assert await store.replay.remember("jti-a", clock.now + timedelta(seconds=60)) is True


async def test_audit_chain_append_verify_and_tamper(store: Store, replica: Store) -> None:
    for i in range(3):
        await store.audit.append("negotiation.finalized", {"i": i, "name": "台湾のバイヤー", "x": 1.5})
    await replica.audit.append("delivery", {"footprints": ["fp-1"]})  # replicas share one chain
    assert await store.audit.verify() is None
    head = await store.audit.head()
    assert head is not None and head.seq == 4
    assert [e.seq for e in await store.audit.entries(2, 3)] == [2, 3]
    assert [e.kind for e in await store.audit.entries(kind="delivery")] == ["delivery"]
    async with store._db.write() as conn:  # noqa: SLF001 — an attacker editing the database
        await conn.execute(text("UPDATE audit_log SET payload = :p WHERE seq = 2"), {"p": '{"i": 99}'})
    broken = await store.audit.verify()
    assert broken is not None and broken.seq == 2 and "altered" in broken.reason


async def test_audit_detects_deleted_row(store: Store) -> None:
    for i in range(3):
        await store.audit.append("k", {"i": i})
    async with store._db.write() as conn:  # noqa: SLF001
        await conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    broken = await store.audit.verify()
    assert broken is not None and broken.seq == 3 and "gap" in broken.reason


async def test_transaction_commits_state_and_outbox_together(store: Store, clock: FakeClock) -> None:
    n = await store.negotiations.create(negotiation())
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.negotiations.update(replace(n, state="AGREED"))
            await tx.outbox.enqueue(message(n.id, 1, at=clock.now))
            raise RuntimeError("crash before commit")
    assert (await store.negotiations.require(n.id)).state == "REQUESTED"
    assert await store.outbox.for_process(n.id) == []
    async with store.transaction() as tx:
        await tx.negotiations.update(replace(n, state="AGREED"))
        await tx.outbox.enqueue(message(n.id, 1, at=clock.now))
        await tx.audit.append("negotiation.agreed", {"id": n.id})
    assert (await store.negotiations.require(n.id)).state == "AGREED"
    assert len(await store.outbox.for_process(n.id)) == 1


async def test_timestamps_are_utc_and_naive_ones_refused(store: Store) -> None:
    from datetime import timezone

    jst = timezone(timedelta(hours=9))
    due = datetime(2025, 1, 1, 9, 0, tzinfo=jst)
    n = await store.negotiations.create(negotiation(due_at=due))
    assert n.due_at == due and n.due_at.tzinfo == UTC  # type: ignore[union-attr]
    with pytest.raises(Exception, match="naive"):
        await store.negotiations.create(negotiation(due_at=datetime(2025, 1, 1)))


async def test_replaced_and_deleted_credentials_stay_findable_by_digest(store: Store) -> None:
    def fp(version: int, direction: str = "PUBLISHED") -> Footprint:
        return Footprint(id="fp-a", direction=direction, version=version, credential={"v": version},
                         sha256=f"{version:064d}", status="Active")

    await store.footprints.save(fp(1))
    assert await store.footprints.archived("PUBLISHED", fp(1).sha256) is None  # still the stored one
    await store.footprints.save(fp(1))  # the same credential again: nothing to archive
    assert await store.footprints.archived("PUBLISHED", fp(1).sha256) is None
    await store.footprints.save(fp(2))
    old = await store.footprints.archived("PUBLISHED", fp(1).sha256)
    assert old is not None and old.credential == {"v": 1} and old.version == 1 and old.status == "Archived"
    assert await store.footprints.save(fp(1)) is False  # an older one is refused: the archive is untouched
    assert await store.footprints.archived("PUBLISHED", fp(2).sha256) is None
    assert await store.footprints.archived("RECEIVED", fp(1).sha256) is None  # per direction
    assert await store.footprints.delete("PUBLISHED", "fp-a") is True
    gone = await store.footprints.archived("PUBLISHED", fp(2).sha256)
    assert gone is not None and gone.credential == {"v": 2}
    await store.footprints.save(fp(3))
    await store.footprints.save(fp(4))  # archive rows are written once per digest, never rewritten
    assert (await store.footprints.archived("PUBLISHED", fp(3).sha256)).credential == {"v": 3}  # type: ignore[union-attr]
