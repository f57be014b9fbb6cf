"""Signing on the fly in the PACT host with the connector's signer (VC cache off): stored
plain footprints reach the signer as their stored JSON bytes, our stored credentials are
served as stored, v3 renderings are signed from the mapped dict, and every credential is
the one the general path makes and verifies."""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connector.dataplane import PACT_HOST, ClientCredentialsAuth, create_pact_app
from connector.dataplane.source import StoreFootprintSource
from connector.delivery.signing import FootprintSigner
from connector.footprints import make_footprints, to_v3
from connector.store import open_store
from connector.store.records import Footprint as Record
from identity.footprint_credential import extract_footprint
from identity.keys import KeyPair, PublicKey
from identity.proofs import verify_proofs

FOOTPRINTS = sorted(make_footprints("jp", 6, seed=31) + make_footprints("tw", 6, seed=32), key=lambda f: f["id"])
DID = "did:web:jp.example"
KEY = KeyPair.from_raw("Ed25519", bytes(range(1, 33)))
SIGNED_AT_PUBLICATION = {1, 5}  # stored as our credential (as `publish` stores them); others plain


def record(doc: dict[str, Any], fid: str) -> Record:
    return Record(id=fid, direction="PUBLISHED", version=1, credential=doc, sha256="0" * 64, status="Active",
                  updated_at=datetime(2025, 1, 1, tzinfo=UTC))


@pytest.fixture
async def store(tmp_path):
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'fly.db'}")
    publisher = FootprintSigner(KEY, DID)
    for i, fp in enumerate(FOOTPRINTS):
        await store.footprints.save(record(publisher.sign(fp) if i in SIGNED_AT_PUBLICATION else fp, fp["id"]))
    yield store
    await store.close() if hasattr(store, "close") else None


def resolve(vm: str) -> PublicKey:
    assert vm == f"{DID}#key-1"
    return KEY.public


class SpySigner(FootprintSigner):
    """The connector's signer, recording what the host hands to ``render``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[type] = []

    def render(self, footprint: dict[str, Any] | bytes) -> bytes:
        self.seen.append(type(footprint))
        return super().render(footprint)


async def serve(signer: FootprintSigner, source: StoreFootprintSource, **options: Any) -> tuple[TestClient, dict[str, str]]:
    auth = ClientCredentialsAuth()
    auth.register_client("c", "s", scopes={"footprint:list", "footprint:read", "footprint:vc"})
    app = create_pact_app(source, auth, signer=signer, vc_cache_size=0, cursor_key=b"k" * 32, **options)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client, {"Authorization": f"Bearer {auth.issue_token('c', 's', None).access_token}"}


async def listing(client: TestClient, headers: dict[str, str], version: str) -> list[dict[str, Any]]:
    resp = await client.get(f"/{version}/footprints?limit=100&format=vc", headers=headers)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["data"]


async def test_on_the_fly_pages_carry_the_general_paths_credentials(store):
    signer = SpySigner(KEY, DID)
    source = StoreFootprintSource(store.footprints, unwrap=signer.unwrap)  # as the connector builds it
    client, headers = await serve(signer, source)
    general = FootprintSigner(KEY, DID)
    try:
        for version in ("2", "3"):
            signer.seen.clear()
            vcs = await listing(client, headers, version)
            assert len(vcs) == len(FOOTPRINTS)
            for i, (vc, fp) in enumerate(zip(vcs, FOOTPRINTS)):
                assert verify_proofs(vc, resolve).ok
                served = to_v3(fp) if version == "3" else fp
                assert extract_footprint(vc) == served
                expected = general.sign(served)
                if version == "2" and i in SIGNED_AT_PUBLICATION:
                    stored = await store.footprints.get("PUBLISHED", fp["id"])
                    assert vc == stored.credential
                else:
                    for member in ("proof", "validFrom"):
                        vc.pop(member), expected.pop(member)
                    assert vc == expected
            if version == "2":  # plain stored footprints go over as bytes, our credentials as dicts
                assert signer.seen.count(bytes) == len(FOOTPRINTS) - len(SIGNED_AT_PUBLICATION)
                assert signer.seen.count(dict) == len(SIGNED_AT_PUBLICATION)
            else:
                assert set(signer.seen) == {dict}
        again = await listing(client, headers, "2")
        assert all(verify_proofs(vc, resolve).ok for vc in again)
        assert len(client.app[PACT_HOST].page_cache) == 0  # never cached when signing on the fly
    finally:
        await client.close()
        source.close()


async def test_process_pool_signing_gives_verifiable_credentials(store):
    signer = FootprintSigner(KEY, DID)
    clone = pickle.loads(pickle.dumps(signer))
    assert clone.did == DID and clone.render(FOOTPRINTS[0]) and clone.key.public == KEY.public
    source = StoreFootprintSource(store.footprints, unwrap=signer.unwrap)
    with ProcessPoolExecutor(1) as pool:
        client, headers = await serve(signer, source, sign_executor=pool, sign_workers=1)
        try:
            vcs = await listing(client, headers, "2")
            assert len(vcs) == len(FOOTPRINTS) and all(verify_proofs(vc, resolve).ok for vc in vcs)
            for i in SIGNED_AT_PUBLICATION:  # served as stored, not re-signed by a worker
                assert vcs[i] == (await store.footprints.get("PUBLISHED", FOOTPRINTS[i]["id"])).credential
        finally:
            await client.close()
            source.close()
