"""Revoking a published footprint, end to end between real connector processes on loopback.

JP publishes footprints whose credentials carry a revocation entry in JP's status list (served
by JP's connector, signed by JP's DID key); TW fetches and verifies them, status included.
JP revokes one through its Management API: JP's status list shows it at once; after the list's
one-second ttl TW's re-check of what it keeps marks that copy `Revoked`, and TW's next fetch
rejects the credential and keeps the others, the auditor's `kakehashi verify` reports it revoked, and the
same version cannot be published again.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connector.footprints import make_footprints
from identity.did import DidResolver
from identity.status import StatusListSource, check_status

from .processes import REPO, Management, offer_for

pytestmark = pytest.mark.timeout(90)

FOOTPRINTS = make_footprints("jp", 3, seed=23)


async def _public_get(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url, timeout=aiohttp.ClientTimeout(total=15)) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_a_revoked_footprint_is_refused_by_the_buyer_and_the_auditor(spawn, http: aiohttp.ClientSession,
                                                                          tmp_path: Path) -> None:
    jp = spawn("jp", extra_toml="footprint_status_ttl = 1\n")
    tw = spawn("tw", authority="tw", footprint_issuers=[jp])
    await asyncio.gather(jp.wait_ready(timeout=45), tw.wait_ready(timeout=45))
    mp, mc = Management(http, jp), Management(http, tw)

    published = await mp.call("POST", "/footprints", FOOTPRINTS)
    assert len(published["published"]) == 3
    target = FOOTPRINTS[1]["id"]
    mine = await mp.call("GET", f"/footprints/{target}")
    entry = mine["credential"]["credentialStatus"]
    assert entry["type"] == "BitstringStatusListEntry" and entry["statusPurpose"] == "revocation"
    assert entry["statusListCredential"] == f"{jp.url}/status/footprints/1"
    indexes = set()
    for fp in FOOTPRINTS:
        indexes.add((await mp.call("GET", f"/footprints/{fp['id']}"))["credential"]["credentialStatus"]["statusListIndex"])
    assert len(indexes) == 3, "one index per footprint"

    # The list is public (a verifier must be able to check what it was handed); unknown lists are 404.
    status, listed = await _public_get(http, entry["statusListCredential"])
    assert status == 200 and listed["issuer"] == jp.participant_id and listed["credentialSubject"]["ttl"] == 1000
    for bad in ("2", "x", "99999999999", "²", "-1"):
        status, _ = await _public_get(http, f"{jp.url}/status/footprints/{bad}")
        assert status == 404, bad

    # TW fetches: all three verify, status included.
    await mp.offer("jp-pcf")
    catalog = await mc.catalog(jp)
    neg_id = await mc.negotiate(jp, offer_for(catalog, "jp-pcf", jp))
    assert (await mc.wait_state("contractnegotiations", neg_id, {"FINALIZED", "TERMINATED"}))["state"] == "FINALIZED"
    agreement = await mc.call("GET", f"/contractnegotiations/{neg_id}/agreement")
    transfer_id = await mc.transfer(jp, agreement["@id"])
    assert (await mc.wait_state("transferprocesses", transfer_id, {"STARTED", "TERMINATED"}))["state"] == "STARTED"
    first = await mc.call("POST", "/footprints/fetch", {"transferProcessId": transfer_id})
    assert len(first["received"]) == 3 and first["rejected"] == [], first

    # A v3 rendering of the same footprint carries the same revocation entry.
    address = await mc.call("GET", f"/edrs/{transfer_id}/dataaddress")
    async with http.get(f"{address['endpoint']}/3/footprints/{target}",
                        headers={"Authorization": f"Bearer {address['authorization']}"}) as resp:
        v3 = await resp.json(content_type=None)
    assert resp.status == 200, v3
    assert v3["data"]["credentialStatus"] == entry, "v3 credentials are revoked with the stored one"

    # JP revokes one footprint; unknown ones and bad versions are refused.
    await mp.call("POST", "/footprints/urn:nothing/revoke", {}, expect=404)
    await mp.call("POST", f"/footprints/{target}/revoke", {"version": "one"}, expect=400)
    await mp.call("POST", f"/footprints/{target}/revoke", {"version": 99}, expect=404)
    revoked = await mp.call("POST", f"/footprints/{target}/revoke", {})
    assert revoked["@id"] == target and [r["statusListIndex"] for r in revoked["revoked"]] == [entry["statusListIndex"]]
    again = await mp.call("POST", f"/footprints/{target}/revoke", {})
    assert again["revoked"][0]["revokedAt"] == revoked["revoked"][0]["revokedAt"], "revoking twice changes nothing"

    # Anyone checking the entry against JP's list now sees it revoked; the others are not.
    resolver = DidResolver(allow_http_loopback=True)
    lists = StatusListSource(allow_http_loopback=True)
    try:
        check = await check_status(mine["credential"], resolver, lists)
        assert check.revoked and check.ok is False, check.reason
        other = await mp.call("GET", f"/footprints/{FOOTPRINTS[0]['id']}")
        assert (await check_status(other["credential"], resolver, lists)).ok is True
    finally:
        await resolver.close()
        await lists.close()

    # TW re-verifies what it keeps, without a transfer (after the list's one-second ttl): the
    # revoked one is marked, the others still verify.
    await asyncio.sleep(1.2)
    rechecked = await mc.call("POST", "/footprints/recheck", {"counterPartyId": jp.participant_id})
    assert rechecked == {"checked": 3, "revoked": [target], "invalid": []}, rechecked
    assert (await mc.call("GET", f"/footprints/{target}?direction=received"))["status"] == "Revoked"
    assert (await mc.call("POST", "/footprints/recheck", {}))["checked"] == 2  # a Revoked one is done
    await mc.call("POST", "/footprints/recheck", {"agreementId": 5}, expect=400)

    # TW's next fetch rejects the revoked credential, keeps the others.
    second = await mc.call("POST", "/footprints/fetch", {"transferProcessId": transfer_id})
    assert sorted(second["received"]) == sorted(fp["id"] for fp in FOOTPRINTS if fp["id"] != target), second
    assert [r["id"] for r in second["rejected"]] == [target], second
    assert "revocation bit" in second["rejected"][0]["reason"], second
    assert second["revoked"] == [target], "the copy TW kept is marked, not silently relied on"
    kept = await mc.call("GET", f"/footprints/{target}?direction=received")
    assert kept["status"] == "Revoked" and kept["credential"]["credentialStatus"] == entry
    others = await mc.call("GET", f"/footprints/{FOOTPRINTS[0]['id']}?direction=received")
    assert others["status"] == "Active"

    # The auditor's verdict, online against JP's list.
    vc = tmp_path / "revoked.json"
    vc.write_text(json.dumps(mine["credential"]), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "connector.cli", "verify", str(vc), "--json", "--allow-http-loopback"],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1, run.stdout + run.stderr
    checks = {c["name"]: c for c in json.loads(run.stdout)["results"][0]["checks"]}
    assert checks["status"]["ok"] is False and "revocation bit" in checks["status"]["reason"], checks
    assert checks["proof"]["ok"] is True

    # The revoked version cannot come back; a new version gets a fresh entry.
    refused = await mp.call("POST", "/footprints", [FOOTPRINTS[1]], expect=400)
    assert "revoked" in refused[0]["message"], refused
    newer = {**FOOTPRINTS[1], "version": FOOTPRINTS[1]["version"] + 1}
    assert (await mp.call("POST", "/footprints", [newer]))["published"] == [target]
    fresh = (await mp.call("GET", f"/footprints/{target}"))["credential"]["credentialStatus"]
    assert fresh["statusListIndex"] != entry["statusListIndex"]
    log = await mp.call("POST", "/footprints/request", {"direction": "published"})
    assert len(log) == 3
