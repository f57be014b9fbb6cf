"""Re-verifying the footprints a buyer keeps (`recheck_received`), over a real SQLite store and
real did:key credentials: good ones stay, a broken one is reported and left as stored."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connector.audit import credential_sha256
from connector.config import Settings
from connector.delivery.consumer import ConsumerVerification, recheck_received
from connector.footprints import make_footprints
from connector.identity_commands import sign_footprint
from connector.store import Footprint, Store, open_store
from identity.keys import KeyPair

KEY = KeyPair.from_raw("Ed25519", bytes(range(32)))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'kept.db'}")
    yield opened
    await opened.close()


def _received(credential: dict) -> Footprint:
    fp = credential["credentialSubject"]["productFootprint"]
    return Footprint(id=fp["id"], direction="RECEIVED", version=fp["version"], credential=credential,
                     sha256=credential_sha256(credential), status="Active")


async def test_recheck_reports_what_fails_now_and_changes_nothing_else(store: Store, tmp_path: Path) -> None:
    good, broken = (sign_footprint(fp, KEY) for fp in make_footprints("jp", 2, seed=31))
    broken = copy.deepcopy(broken)
    broken["credentialSubject"]["productFootprint"]["comment"] = "changed after signing"
    for credential in (good, broken):
        await store.footprints.save(_received(credential))
    settings = Settings(name="TW", participant_id="did:web:tw.example", key_file=tmp_path / "k.jwk",
                        api_key="x" * 16)
    verification = ConsumerVerification(settings)
    try:
        result = await recheck_received(store, verification)
        assert result.checked == 2 and result.revoked == []
        [invalid] = result.invalid
        assert invalid["id"] == broken["credentialSubject"]["productFootprint"]["id"]
        assert invalid["reason"].startswith("proof:"), invalid
        kept = await store.footprints.get("RECEIVED", invalid["id"])
        assert kept is not None and kept.status == "Active", "a failing check is reported, not acted on"
        only_good = await recheck_received(store, verification, wanted=lambda rec: rec.id != invalid["id"])
        assert (only_good.checked, only_good.invalid) == (1, [])
    finally:
        await verification.close()
