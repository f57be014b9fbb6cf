"""AuditLog: the payload schema, footprint references, concurrent replicas, JSONL round trips."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path

import pytest

from connector.audit import (
    DELIVERED,
    RECEIVED_KIND,
    REJECTED,
    AuditError,
    AuditLog,
    check_payload,
    check_segment,
    credential_sha256,
    dump_log_lines,
    footprint_ref,
    parse_log_lines,
)
from connector.store import GENESIS_HASH, open_store
from tests.pgutil import pg_url  # noqa: F401  (fixture)
from tests.unit.audit import scenario as sc

SHA = "a" * 64


@pytest.mark.parametrize("kind,payload,reason", [
    ("Footprint Delivered", {}, "must look like 'area.event'"),
    ("footprint", {}, "must look like 'area.event'"),
    ("transfer.started", [], "payload must be a JSON object"),
    ("transfer.started", {"transferId": "t"}, "needs a non-empty string 'agreementId'"),
    ("custom.event", {"x": float("nan")}, "not canonical JSON"),
    (DELIVERED, {"agreementId": "a"}, "needs a non-empty 'footprints' list"),
    (DELIVERED, {"agreementId": "a", "footprints": [{"id": "f", "sha256": "xyz", "version": 1}]},
     r"footprints\[0\].sha256 must be 64 lower-case hex digits"),
    (DELIVERED, {"agreementId": "a", "footprints": [{"id": "f", "sha256": SHA}]}, r"footprints\[0\].version"),
    (REJECTED, {"agreementId": "a", "footprints": [{"id": "f", "sha256": SHA}]}, "reason must say why"),
])
def test_payload_schema_names_the_field(kind: str, payload: object, reason: str) -> None:
    with pytest.raises(AuditError, match=reason):
        check_payload(kind, payload)


def test_free_form_kinds_and_valid_deliveries_pass() -> None:
    check_payload("connector.started", {"version": "1"})
    check_payload(RECEIVED_KIND, {"agreementId": "a", "footprints": [{"id": "f", "sha256": SHA, "version": 3}]})
    check_payload(REJECTED, {"agreementId": "a", "footprints": [{"id": "f", "sha256": SHA, "reason": "bad proof"}]})


def test_credential_hash_ignores_layout_not_values(tmp_path: Path) -> None:
    vc = {"b": 1, "a": {"y": "日本", "x": [1, 2]}}
    reordered = {"a": {"x": [1, 2], "y": "日本"}, "b": 1}
    assert credential_sha256(vc) == credential_sha256(reordered)
    changed = copy.deepcopy(vc)
    changed["a"]["x"][1] = 3
    assert credential_sha256(vc) != credential_sha256(changed)


async def test_record_footprints_stores_credentials_and_references_them(tmp_path: Path) -> None:
    world = await sc.build(tmp_path)
    try:
        entries = [e async for e in world.store.audit.iterate()]
        delivery = entries[2]
        assert delivery.kind == RECEIVED_KIND and delivery.payload["agreementId"] == sc.AGREEMENT_JP
        assert delivery.payload["transferId"] == "tp-1" and delivery.payload["counterParty"] == sc.JP_DID
        refs = delivery.payload["footprints"]
        assert refs == [footprint_ref(c) for c in world.jp_credentials[:2]]
        for ref, vc in zip(refs, world.jp_credentials):
            stored = await world.store.footprints.get("RECEIVED", ref["id"])
            assert stored is not None and stored.credential == vc and stored.sha256 == ref["sha256"]
            assert stored.source_agreement_id == sc.AGREEMENT_JP and ref["credentialId"] == vc["id"]
        assert await AuditLog(world.store).verify() is None
        assert [e.seq for e in await AuditLog(world.store).for_agreement(sc.AGREEMENT_TW)] == [4, 5]
    finally:
        await world.store.close()


async def test_delivered_goes_to_published_and_rejections_store_nothing(tmp_path: Path) -> None:
    world = await sc.build(tmp_path)
    log = AuditLog(world.store)
    try:
        vc = world.tw_credentials[0]
        await log.record_footprints(DELIVERED, "agr-x", [vc])
        fp_id = vc["credentialSubject"]["productFootprint"]["id"]
        assert (await world.store.footprints.get("PUBLISHED", fp_id)) is not None
        before = await world.store.footprints.count("RECEIVED")
        forged = copy.deepcopy(vc)
        forged["issuer"] = "did:web:evil.example"
        entry = await log.record_rejected("agr-x", [(forged, "issuer-key: not the issuer's key")])
        assert entry.kind == REJECTED and entry.payload["footprints"][0]["sha256"] == credential_sha256(forged)
        assert entry.payload["footprints"][0]["reason"] == "issuer-key: not the issuer's key"
        assert await world.store.footprints.count("RECEIVED") == before
        with pytest.raises(AuditError, match="record_footprints records"):
            await log.record_footprints(REJECTED, "agr-x", [vc])
        with pytest.raises(AuditError, match="needs a non-empty 'footprints' list"):
            await log.record_footprints(DELIVERED, "agr-x", [])
    finally:
        await world.store.close()


async def test_two_replicas_appending_at_once_keep_one_chain(tmp_path: Path) -> None:
    """Two stores (two engines, two writer locks) on one SQLite file, like two processes."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    first = await open_store(url)
    second = await open_store(url)
    try:
        logs = [AuditLog(first), AuditLog(second)]

        async def writer(n: int) -> None:
            for i in range(25):
                await logs[n].append("transfer.started", {"agreementId": f"agr-{n}", "transferId": f"t-{n}-{i}"})

        await asyncio.gather(writer(0), writer(1))
        entries = [e async for e in first.audit.iterate()]
        assert [e.seq for e in entries] == list(range(1, 51))
        assert {e.payload["agreementId"] for e in entries} == {"agr-0", "agr-1"}
        assert await logs[1].verify() is None
    finally:
        await first.close()
        await second.close()


async def test_jsonl_round_trip_and_segments(tmp_path: Path) -> None:
    world = await sc.build(tmp_path)
    try:
        entries = [e async for e in world.store.audit.iterate()]
    finally:
        await world.store.close()
    text = dump_log_lines(entries)
    back = parse_log_lines(text)
    assert back == entries
    assert check_segment(back).ok and check_segment(back).prev_hash == GENESIS_HASH
    tail = back[3:]
    assert check_segment(tail).ok  # mid-chain: first link trusted
    assert not check_segment(tail, expected_prev=GENESIS_HASH).ok
    assert check_segment(tail, expected_prev=back[2].hash, expected_seq=4).ok
    assert check_segment([], expected_seq=3).broken is not None


@pytest.mark.parametrize("line,reason", [
    ("[1]", "line 1: expected a JSON object"),
    ('{"seq": 1}', "line 1: missing prev_hash, hash, kind, at, payload"),
    ("{", "line 1: not JSON"),
    ('{"seq": 0, "prev_hash": "", "hash": "", "kind": "a.b", "at": "x", "payload": {}}', "seq must be a positive"),
    (f'{{"seq": 1, "prev_hash": "{SHA}", "hash": "{SHA}", "kind": "a.b", "at": "2025-01-01T00:00:00", '
     '"payload": {}}', "at must be an ISO 8601 time with a UTC offset"),
])
def test_bad_log_lines_say_where(line: str, reason: str) -> None:
    with pytest.raises(AuditError, match=reason):
        parse_log_lines(line)


@pytest.mark.postgres
async def test_two_postgres_replicas_appending_at_once_keep_one_chain(pg_url: str) -> None:
    """Replicas on PostgreSQL serialise appends with an advisory lock; seq stays gap-free."""
    first = await open_store(pg_url)
    second = await open_store(pg_url)
    try:
        head = await first.audit.head()
        start = head.seq + 1 if head else 1

        async def writer(log: AuditLog, n: int) -> None:
            for i in range(20):
                await log.append("transfer.started", {"agreementId": f"pg-agr-{n}", "transferId": f"t-{n}-{i}"})

        await asyncio.gather(writer(AuditLog(first), 0), writer(AuditLog(second), 1))
        ours = await first.audit.entries(start, limit=100)
        assert [e.seq for e in ours] == list(range(start, start + 40))
        assert check_segment(ours, expected_prev=head.hash if head else GENESIS_HASH, expected_seq=start).ok
        assert await AuditLog(second).verify() is None
    finally:
        await first.close()
        await second.close()
