"""Signed footprints end to end between real connector processes on loopback.

JP publishes footprints (GxD extension on some, Japanese product names), TW negotiates,
starts a pull transfer and fetches through the JP data plane with the EDR; every
credential is verified (did:web of JP, TW's trust list) before it is kept; both audit
logs record the delivery and TW's evidence bundle verifies offline. Then the data plane's
refusals: garbage, expired and other-agreement tokens, unknown ids, termination mid-way.
A second scenario puts bad providers in front of TW: an impostor with JP's DID (and a copy of
JP's membership credential) but another key, refused by DCP before anything is agreed, and a
genuine data-space member whose footprint credentials TW does not trust: they are rejected
with the reason and never replace JP's good ones.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest

from connector.footprints import make_footprints
from connector.store import open_store
from identity.keys import KeyPair

from .processes import EDC_CONTEXT, REPO, Connector, Management, offer_for, wait_for_log

pytestmark = pytest.mark.timeout(90)

FOOTPRINTS = make_footprints("jp", 6, seed=11)
PACT_CLIENT = ("pact-partner", "pact-partner-secret-0123456789")


async def _agreement_and_transfer(mc: Management, provider: Connector, asset: str) -> tuple[str, str]:
    catalog = await mc.catalog(provider)
    neg_id = await mc.negotiate(provider, offer_for(catalog, asset, provider))
    neg = await mc.wait_state("contractnegotiations", neg_id, {"FINALIZED", "TERMINATED"})
    assert neg["state"] == "FINALIZED", neg
    agreement = await mc.call("GET", f"/contractnegotiations/{neg_id}/agreement")
    transfer_id = await mc.transfer(provider, agreement["@id"])
    tp = await mc.wait_state("transferprocesses", transfer_id, {"STARTED", "TERMINATED"})
    assert tp["state"] == "STARTED", tp
    return agreement["@id"], transfer_id


async def _pact(http: aiohttp.ClientSession, url: str, token: str | None, **params: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with http.get(url, headers=headers, params=params, timeout=aiohttp.ClientTimeout(total=15)) as resp:
        return resp.status, await resp.json(content_type=None)


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "connector.cli", *argv], cwd=REPO, capture_output=True,
                          text=True, timeout=60)


async def test_jp_publishes_tw_fetches_verifies_and_access_ends(spawn, http: aiohttp.ClientSession,
                                                                 tmp_path: Path) -> None:
    secret_toml = (f'\n[[connector.pact_clients]]\nclient_id = "{PACT_CLIENT[0]}"\n'
                   f'client_secret = "{PACT_CLIENT[1]}"\n')
    jp = spawn("jp", extra_toml=secret_toml)
    tw = spawn("tw", authority="tw", footprint_issuers=[jp])  # TW accepts footprints signed by JP's connector
    trust = tw.trust_file
    await asyncio.gather(jp.wait_ready(timeout=45), tw.wait_ready(timeout=45))
    mp, mc = Management(http, jp), Management(http, tw)

    # JP publishes; a broken footprint makes the whole batch fail, with the reason.
    broken = {**FOOTPRINTS[0], "pcf": {**FOOTPRINTS[0]["pcf"], "declaredUnit": "bushel"}}
    refused = await mp.call("POST", "/footprints", [FOOTPRINTS[1], broken], expect=400)
    assert "declaredUnit" in refused[0]["message"], refused
    published = await mp.call("POST", "/footprints", FOOTPRINTS)
    ids = sorted(fp["id"] for fp in FOOTPRINTS)
    assert sorted(published["published"]) == ids
    mine = await mp.call("GET", f"/footprints/{FOOTPRINTS[0]['id']}")
    assert mine["credential"]["issuer"] == jp.participant_id
    assert mine["credential"]["proof"]["verificationMethod"] == jp.participant_id + "#key-1"

    await mp.offer("jp-pcf")
    await mp.call("POST", "/assets", {"@context": EDC_CONTEXT, "@id": "jp-pcf-one",
                                      "properties": {"footprintIds": [ids[0]]}})
    await mp.call("POST", "/contractdefinitions", {
        "@context": EDC_CONTEXT, "@id": "def-jp-pcf-one", "accessPolicyId": "access-jp-pcf",
        "contractPolicyId": "contract-jp-pcf",
        "assetsSelector": [{"operandLeft": "https://w3id.org/edc/v0.0.1/ns/id", "operator": "=",
                            "operandRight": "jp-pcf-one"}]})
    agreement_id, transfer_id = await _agreement_and_transfer(mc, jp, "jp-pcf")

    # TW fetches: every credential verified, all stored as received.
    summary = await mc.call("POST", "/footprints/fetch", {"transferProcessId": transfer_id})
    assert summary["agreementId"] == agreement_id and summary["providerId"] == jp.participant_id
    assert sorted(summary["received"]) == ids and summary["rejected"] == [], summary
    received = await mc.call("POST", "/footprints/request", {"direction": "received",
                                                              "counterPartyId": jp.participant_id})
    assert sorted(r["@id"] for r in received) == ids
    assert await mc.call("POST", "/footprints/request", {"direction": "received",
                                                          "counterPartyId": "did:web:nobody.example"}) == []
    one = await mc.call("GET", f"/footprints/{FOOTPRINTS[2]['id']}?direction=received")
    assert one["footprint"]["productNameCompany"] == FOOTPRINTS[2]["productNameCompany"]
    assert one["footprint"]["productNameCompany"] == "負極材（人造黒鉛）"
    assert one["footprint"]["extensions"][0]["data"], "GxD extension travels inside the credential"
    assert one["credential"]["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    first = await mc.call("GET", f"/footprints/{FOOTPRINTS[0]['id']}?direction=received")
    assert first["sha256"] == mine["sha256"], "TW keeps exactly the credential JP signed at publication"

    # The data plane with TW's EDR, directly.
    address = await mc.call("GET", f"/edrs/{transfer_id}/dataaddress")
    endpoint, token = address["endpoint"], address["authorization"]
    assert endpoint == jp.url + "/api/public"
    status, body = await _pact(http, f"{endpoint}/2/footprints/{uuid.uuid4()}", token)
    assert (status, body["code"]) == (404, "NoSuchFootprint"), body
    status, body = await _pact(http, f"{endpoint}/3/footprints/{ids[0]}", token, format="json")
    assert status == 200 and body["data"]["id"] == ids[0] and body["data"]["specVersion"].startswith("3")
    status, body = await _pact(http, f"{endpoint}/2/footprints", "not-a-token")
    assert (status, body["code"]) == (400, "BadRequest"), body
    claims = jwt.decode(token, options={"verify_signature": False})
    jp_key = KeyPair.load(jp.key_file)
    expired = jwt.encode({**claims, "iat": int(time.time()) - 1200, "exp": int(time.time()) - 600},
                         jp_key.cryptography_key(), algorithm="EdDSA")
    status, body = await _pact(http, f"{endpoint}/2/footprints", expired)
    assert (status, body["code"]) == (401, "TokenExpired"), body
    forged = jwt.encode({**claims, "agreementId": "another-agreement"}, KeyPair.generate().cryptography_key(),
                        algorithm="EdDSA")
    status, body = await _pact(http, f"{endpoint}/2/footprints", forged)
    assert status == 400, body

    # Catena-X CX-0136 view of the same footprint.
    product = FOOTPRINTS[0]["productIds"][0]
    status, aspect = await _pact(http, f"{endpoint}/productIds/{product}", token, requestId=str(uuid.uuid4()))
    assert status == 200, aspect
    info = aspect["pcfAssessmentAndMethodology"][0]["pcfAssessmentInformation"][0]["idAndVersion"][0]
    assert info["id"] == FOOTPRINTS[0]["id"]
    assert aspect["scopeOfPcfForm"][0]["specVersion"] == "urn:io.catenax.pcf:datamodel:version:9.0.0"
    status, body = await _pact(http, f"{endpoint}/productIds/urn:nothing:here", token)
    assert status == 404, body

    # A token for another agreement (limited to one footprint) opens only that one.
    _, other_transfer = await _agreement_and_transfer(mc, jp, "jp-pcf-one")
    other = (await mc.call("GET", f"/edrs/{other_transfer}/dataaddress"))["authorization"]
    status, body = await _pact(http, f"{endpoint}/2/footprints/{ids[1]}", other)
    assert (status, body["code"]) == (403, "AccessDenied"), body
    status, body = await _pact(http, f"{endpoint}/2/footprints", other, format="json")
    assert status == 200 and [fp["id"] for fp in body["data"]] == [ids[0]]

    # A PACT-only partner with client credentials (direct PACT host, plain JSON).
    basic = base64.b64encode(f"{PACT_CLIENT[0]}:{PACT_CLIENT[1]}".encode()).decode()
    async with http.post(f"{endpoint}/auth/token", data={"grant_type": "client_credentials"},
                         headers={"Authorization": f"Basic {basic}"}) as resp:
        grant = await resp.json()
        assert resp.status == 200, grant
    status, body = await _pact(http, f"{endpoint}/2/footprints", grant["access_token"])
    assert status == 200 and sorted(fp["id"] for fp in body["data"]) == ids and "proof" not in body["data"][0]

    # JP terminates the transfer: the token stops working at once, and TW cannot fetch.
    provider_tps = await mp.call("POST", "/transferprocesses/request", {})
    [provider_tp] = [t for t in provider_tps if t["contractId"] == agreement_id]
    await mp.call("POST", f"/transferprocesses/{provider_tp['@id']}/terminate", {"reason": "contract ended"},
                  expect=204)
    status, body = await _pact(http, f"{endpoint}/2/footprints", token)
    assert (status, body["code"]) == (403, "AccessDenied") and "TERMINATED" in body["message"], body
    await mc.wait_state("transferprocesses", transfer_id, {"TERMINATED"})
    refused = await mc.call("POST", "/footprints/fetch", {"transferProcessId": transfer_id}, expect=409)
    assert "revoked" in refused[0]["message"]
    await mc.call("POST", "/footprints/fetch", {"transferProcessId": "no-such-transfer"}, expect=404)
    # Under the agreement, with startTransfer: a new pull transfer (the policy is evaluated again), then the fetch.
    await mc.call("POST", "/footprints/fetch", {"transferProcessId": transfer_id, "startTransfer": True}, expect=400)
    await mc.call("POST", "/footprints/fetch", {"agreementId": "urn:uuid:nope", "startTransfer": True}, expect=404)
    await mc.call("POST", "/footprints/fetch", {"agreementId": agreement_id, "startTransfer": "yes"}, expect=400)
    renewed = await mc.call("POST", "/footprints/fetch", {"agreementId": agreement_id, "startTransfer": True})
    assert renewed["transferProcessId"] != transfer_id and sorted(renewed["received"]) == ids, renewed
    again = await mc.call("POST", "/footprints/fetch", {"agreementId": agreement_id, "startTransfer": True})
    assert again["transferProcessId"] == renewed["transferProcessId"], "a usable EDR is used, not renewed"

    # Evidence: both logs hold the delivery; TW's bundle verifies offline, and so does JP's.
    for who, direction in ((tw, "received"), (jp, "delivered")):
        out = tmp_path / f"bundle-{who.name}"
        export = _cli("audit", "export", "--db", who.database, "--agreement", agreement_id, "--out", str(out),
                      "--allow-http-loopback", "--exporter-did", who.participant_id,
                      *(["--trust-list", str(trust)] if who is tw else []))
        assert export.returncode == 0, export.stderr
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        kinds = {row["kind"] for row in manifest["credentials"]}
        assert kinds == {f"footprint.{direction}"}, manifest["credentials"]
        assert sorted(row["footprintId"] for row in manifest["credentials"]) == ids
        verified = _cli("verify", "--bundle", str(out), "--json")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert json.loads(verified.stdout)["valid"] is True


async def test_impostor_and_untrusted_signer_are_rejected_and_never_replace_good_ones(
        spawn, http: aiohttp.ClientSession) -> None:
    jp = spawn("jp")
    tw = spawn("tw", authority="tw", footprint_issuers=[jp])
    # An impostor: JP's DID and a copy of JP's membership credential, but its own key and address.
    impostor = spawn("impostor", participant_id=jp.participant_id, credentials_of=jp)
    # A genuine JP data-space member, but not a footprint issuer TW trusts, re-selling JP's
    # footprints (one tampered with) signed with its own key.
    reseller = spawn("reseller")
    await asyncio.gather(*(c.wait_ready(timeout=45) for c in (jp, tw, impostor, reseller)))
    mp, mc, mi, mr = (Management(http, c) for c in (jp, tw, impostor, reseller))

    await mp.call("POST", "/footprints", FOOTPRINTS[:2])
    tampered = {**FOOTPRINTS[0], "pcf": {**FOOTPRINTS[0]["pcf"], "pCfExcludingBiogenic": "0.001"}}
    for m in (mi, mr):
        await m.call("POST", "/footprints", [tampered, FOOTPRINTS[3]])
        await m.offer("jp-pcf")
    await mp.offer("jp-pcf")

    _, good_transfer = await _agreement_and_transfer(mc, jp, "jp-pcf")
    good = await mc.call("POST", "/footprints/fetch", {"transferProcessId": good_transfer})
    assert sorted(good["received"]) == sorted(fp["id"] for fp in FOOTPRINTS[:2]) and good["rejected"] == []
    before = await mc.call("GET", f"/footprints/{FOOTPRINTS[0]['id']}?direction=received")

    # The impostor cannot speak DSP as JP: what it signs does not verify against JP's DID
    # document. TW refuses its requests (with the reason in TW's log), and when TW calls it as
    # "JP", it cannot prove that to TW's Credential Service, so nothing is ever agreed.
    refused = await mi.catalog(tw, expect=401)
    assert "partner answered" in refused[0]["message"], refused
    line = await wait_for_log(tw, "refused POST /api/dsp/catalog/request (401)")
    assert "signature" in line, line
    peer = {"@context": EDC_CONTEXT, "@type": "CatalogRequest", "counterPartyAddress": impostor.dsp,
            "counterPartyId": jp.participant_id, "protocol": "dataspace-protocol-http:2025-1"}
    await mc.call("POST", "/catalog/request", peer, expect=401)
    await wait_for_log(tw, "presentation query refused (401)", "signature does not verify")
    assert await mi.call("POST", "/contractnegotiations/request", {}) == []

    # The reseller negotiates and delivers, but TW keeps none of its credentials.
    agreement_id, bad_transfer = await _agreement_and_transfer(mc, reseller, "jp-pcf")
    bad = await mc.call("POST", "/footprints/fetch", {"agreementId": agreement_id})
    assert bad["received"] == [] and bad["transferProcessId"] == bad_transfer
    reasons = {r["id"]: r["reason"] for r in bad["rejected"]}
    assert set(reasons) == {FOOTPRINTS[0]["id"], FOOTPRINTS[3]["id"]}, bad
    assert all("trust" in reason and reseller.participant_id in reason for reason in reasons.values()), reasons

    after = await mc.call("GET", f"/footprints/{FOOTPRINTS[0]['id']}?direction=received")
    assert after["sha256"] == before["sha256"]
    assert after["footprint"]["pcf"]["pCfExcludingBiogenic"] == FOOTPRINTS[0]["pcf"]["pCfExcludingBiogenic"]
    await mc.call("GET", f"/footprints/{FOOTPRINTS[3]['id']}?direction=received", expect=404)

    # The rejection is in TW's (intact) audit log with its reasons.
    store = await open_store(tw.database, migrate=False)
    try:
        assert await store.audit.verify() is None
        rejected = await store.audit.entries(kind="footprint.rejected")
    finally:
        await store.close()
    [entry] = rejected
    assert entry.payload["agreementId"] == agreement_id and entry.payload["counterParty"] == reseller.participant_id
    assert {r["id"]: r["reason"] for r in entry.payload["footprints"]} == reasons
