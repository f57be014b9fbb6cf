"""Our footprint status lists and publishing with revocation entries, over a real SQLite store.

The list credential is built from the store's revoked indexes, signed by the issuer's key,
re-signed only when a revocation changed it; publishing gives each footprint version its own
entry (the same one when published again) and refuses a version that was revoked.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connector.delivery.publishing import PublishError, publish
from connector.delivery.signing import FootprintSigner
from connector.delivery.status_lists import FootprintStatusLists, list_url
from connector.footprints import make_footprints
from connector.store import Store, open_store
from identity.credentials import verify_credential
from identity.did import DidResolver, did_key_from_public, did_key_vm_id
from identity.keys import KeyPair
from identity.status import check_status

BASE = "https://jp.example"
KEY = KeyPair.from_raw("Ed25519", bytes(range(32)))
DID = did_key_from_public(KEY.public)
VM = did_key_vm_id(KEY.public)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'status.db'}")
    yield opened
    await opened.close()


def test_the_store_allocates_within_the_served_list() -> None:
    from connector.store.status_entries import FootprintStatusRepository
    from identity.status import MIN_BITS

    assert FootprintStatusRepository.LIST_SIZE == MIN_BITS  # the length FootprintStatusLists serves


async def test_list_is_signed_by_the_issuer_and_resigned_only_after_a_revocation(store: Store) -> None:
    lists = FootprintStatusLists(KEY, DID, VM, BASE, ttl_seconds=60)
    assert await lists.credential(store, 1) is None, "no list before the first allocation"
    a = await store.footprint_status.allocate("fp-a", 1)
    b = await store.footprint_status.allocate("fp-b", 1)
    first = await lists.credential(store, a.list_id)
    assert first is not None and first["id"] == list_url(BASE, 1) and first["issuer"] == DID
    assert first["credentialSubject"]["ttl"] == 60_000
    assert (await verify_credential(first, DidResolver())).ok
    assert await lists.credential(store, 1) is first, "unchanged: served as signed"

    await store.footprint_status.revoke("fp-a")
    second = await lists.credential(store, 1)
    assert second is not first and (await verify_credential(second, DidResolver())).ok

    def holder(index: int) -> dict:
        return {"issuer": DID, "credentialStatus": {
            "id": f"{list_url(BASE, 1)}#{index}", "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
            "statusListIndex": str(index), "statusListCredential": list_url(BASE, 1)}}

    async def fetch(url: str) -> dict:
        assert url == list_url(BASE, 1)
        return second

    assert (await check_status(holder(a.index), DidResolver(), fetch)).revoked
    assert (await check_status(holder(b.index), DidResolver(), fetch)).ok is True


async def test_publish_gives_each_version_an_entry_and_refuses_a_revoked_one(store: Store) -> None:
    signer = FootprintSigner(KEY, DID)
    footprints = make_footprints("tw", 2, seed=5)
    await publish(store, signer, footprints, status_base=BASE)
    stored = [await store.footprints.get("PUBLISHED", fp["id"]) for fp in footprints]
    entries = [rec.credential["credentialStatus"] for rec in stored if rec is not None]
    assert len(entries) == 2 and entries[0]["statusListIndex"] != entries[1]["statusListIndex"]
    assert all(e["statusListCredential"] == list_url(BASE, 1) for e in entries)

    await publish(store, signer, footprints[:1], status_base=BASE)  # the same version again: the same entry
    again = await store.footprints.get("PUBLISHED", footprints[0]["id"])
    assert again is not None and again.credential["credentialStatus"] == entries[0]

    await store.footprint_status.revoke(footprints[0]["id"], footprints[0]["version"])
    with pytest.raises(PublishError, match="revoked"):
        await publish(store, signer, footprints, status_base=BASE)  # all or nothing: the other one is not re-signed
    newer = {**footprints[0], "version": footprints[0]["version"] + 1}
    await publish(store, signer, [newer], status_base=BASE)
    fresh = await store.footprints.get("PUBLISHED", newer["id"])
    assert fresh is not None and fresh.version == newer["version"]
    assert fresh.credential["credentialStatus"]["statusListIndex"] != entries[0]["statusListIndex"]

    plain = make_footprints("tw", 3, seed=6)[2]
    await publish(store, FootprintSigner(KEY, DID), [plain])  # without a status base: no entry
    rec = await store.footprints.get("PUBLISHED", plain["id"])
    assert rec is not None and "credentialStatus" not in rec.credential


async def test_a_rendering_signed_on_the_fly_carries_the_stored_entry(store: Store) -> None:
    signer = FootprintSigner(KEY, DID)
    footprint = make_footprints("jp", 1, seed=8)[0]
    await publish(store, signer, [footprint], status_base=BASE)
    stored = await store.footprints.get("PUBLISHED", footprint["id"])
    assert stored is not None
    entry = stored.credential["credentialStatus"]
    assert "credentialStatus" not in signer.sign(footprint), "sign() adds only the entry it is given"
    signer.unwrap(stored.credential)  # the host reads the stored credential first
    other_rendering = {**footprint, "comment": "the same footprint in another data model"}
    assert signer(other_rendering)["credentialStatus"] == entry
    rendered = json.loads(signer.render(other_rendering))
    assert rendered["credentialStatus"] == entry and rendered["proof"]["cryptosuite"] == "eddsa-jcs-2022"
