"""The delivery package's decisions without a network: EDR access, verdicts on received
credentials, publish batches, what the delivery log records, signing and the CX pick."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from connector.dataplane import ErrorKind, PactError
from connector.delivery.catenax_view import newest
from connector.delivery.consumer import judge, label, pick_edr, revoked_only
from connector.delivery.edr_access import asset_footprint_ids, principal_for, refusal
from connector.delivery.publishing import PublishError, footprints_of, prepare
from connector.delivery.recording import SERVED, delivered_items, delivery_payload, footprint_refs
from connector.delivery.signing import FootprintSigner
from connector.footprints import make_footprints, to_v3
from connector.store import Agreement, Edr, Transfer
from identity.did import did_web_document
from identity.did.resolver import DidResolver
from identity.keys import KeyPair
from identity.verify import CheckResult, FileReport, Verifier

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
FPS = make_footprints("jp", 3, seed=3)
DID = "did:web:jp.example"
CLAIMS = {"sub": "did:web:tw.example", "jti": "j1", "agreementId": "a1", "transferProcessId": "t1",
          "assetId": "pcf", "exp": int(NOW.timestamp()) + 60}


def _transfer(state: str = "STARTED", role: str = "provider") -> Transfer:
    return Transfer(id="t1", role=role, consumer_pid="c", provider_pid="p", counter_party_id="did:web:tw.example",
                    counter_party_address="http://x", agreement_id="a1", transfer_type="HttpData-PULL", state=state)


AGREEMENT = Agreement(id="a1", negotiation_id="n1", asset_id="pcf", policy={}, assigner=DID, assignee="did:web:tw.example")


def test_live_edr_becomes_a_scoped_principal() -> None:
    asset = {"properties": {"https://w3id.org/edc/v0.0.1/ns/footprintIds": [FPS[0]["id"]]}}
    p = principal_for(CLAIMS, _transfer(), AGREEMENT, asset)
    assert (p.agreement_id, p.transfer_id, p.kind, p.signed_delivery) == ("a1", "t1", "edr", True)
    assert p.may_read(FPS[0]["id"]) and not p.may_read(FPS[1]["id"])
    assert principal_for(CLAIMS, _transfer(), AGREEMENT, {"properties": {}}).footprint_ids is None
    assert asset_footprint_ids({"properties": {"footprintIds": [{"@value": "x"}]}}) == frozenset({"x"})


@pytest.mark.parametrize(("transfer", "agreement", "claims", "words"), [
    (_transfer("SUSPENDED"), AGREEMENT, CLAIMS, "SUSPENDED"),
    (_transfer(role="consumer"), AGREEMENT, CLAIMS, "unknown"),
    (None, AGREEMENT, CLAIMS, "unknown"),
    (_transfer(), None, CLAIMS, "agreement"),
    (_transfer(), AGREEMENT, {**CLAIMS, "assetId": "other"}, "covers asset 'pcf'"),
])
def test_principal_refused_with_reason(transfer, agreement, claims, words) -> None:
    with pytest.raises(PactError) as err:
        principal_for(claims, transfer, agreement, None)
    assert err.value.kind is ErrorKind.ACCESS_DENIED and words in str(err.value)


def test_refusal_names_termination_revocation_and_expiry() -> None:
    edr = Edr(transfer_id="t1", agreement_id="a1", token_id="j1", endpoint="http://x", expires_at=NOW)
    assert refusal(CLAIMS, None, None, NOW).kind is ErrorKind.ACCESS_DENIED
    ended = refusal(CLAIMS, edr, _transfer("TERMINATED"), NOW)
    assert ended.kind is ErrorKind.ACCESS_DENIED and "TERMINATED" in str(ended)
    revoked = refusal(CLAIMS, replace(edr, revoked=True), _transfer(), NOW)
    assert revoked.kind is ErrorKind.ACCESS_DENIED and "revoked" in str(revoked)
    late = NOW + timedelta(minutes=5)
    assert refusal(CLAIMS, edr, _transfer(), late).kind is ErrorKind.TOKEN_EXPIRED


def _report(issuer: str, **fails: str) -> FileReport:
    checks = [CheckResult(n, False if n in fails else True, fails.get(n, "ok"))
              for n in ("proof", "issuer-key", "trust", "status", "validity", "schema")]
    return FileReport("x", checks, issuer=issuer)


def test_judge_keeps_only_all_good_from_the_provider() -> None:
    assert judge(_report(DID), DID) is None
    assert "not the agreement's provider" in (judge(_report("did:web:other.example"), DID) or "")
    reason = judge(_report(DID, proof="signature does not verify", trust="not trusted"), DID) or ""
    assert "proof: signature does not verify" in reason and "trust: not trusted" in reason
    none_run = FileReport("x", [CheckResult("proof", None)], issuer=DID)
    assert judge(none_run, DID) == "no check could be completed"


def test_revoked_only_is_a_genuine_credential_of_the_provider_with_its_bit_set() -> None:
    revoked = replace(_report(DID, status="revocation bit 7 is set"), revoked=True)
    assert revoked_only(revoked, DID)
    assert not revoked_only(replace(revoked, issuer="did:web:other.example"), DID)
    assert not revoked_only(_report(DID, status="cannot fetch status list"), DID)  # unreadable list: not revoked
    tampered = replace(_report(DID, status="revocation bit 7 is set", proof="signature does not verify"), revoked=True)
    assert not revoked_only(tampered, DID)


def test_pick_edr_prefers_live_newest_with_token() -> None:
    old = Edr(transfer_id="a", agreement_id="a1", token_id="1", endpoint="e", expires_at=NOW + timedelta(hours=1),
              token="t", created_at=NOW - timedelta(hours=1))
    new_revoked = Edr(transfer_id="b", agreement_id="a1", token_id="2", endpoint="e", expires_at=NOW + timedelta(hours=1),
                      token="t", revoked=True, created_at=NOW)
    provider_row = Edr(transfer_id="c", agreement_id="a1", token_id="3", endpoint="e", expires_at=NOW + timedelta(hours=1))
    assert pick_edr([new_revoked, old, provider_row], NOW) is old
    assert pick_edr([new_revoked], NOW) is new_revoked
    assert pick_edr([provider_row], NOW) is None


def test_publish_batch_is_all_or_nothing_with_reasons() -> None:
    assert footprints_of(FPS[0]) == [FPS[0]] and footprints_of({"footprints": FPS}) == FPS
    with pytest.raises(PublishError):
        footprints_of("nope")
    bad = {**FPS[1], "pcf": {**FPS[1]["pcf"], "declaredUnit": "bushel"}}
    with pytest.raises(PublishError) as err:
        prepare([FPS[0], bad, FPS[0]])
    text = str(err.value)
    assert "footprints[1]" in text and "declaredUnit" in text and "appears twice" in text
    v3 = to_v3(FPS[2])
    [kept] = prepare([v3])
    assert kept["id"] == FPS[2]["id"] and kept["specVersion"].startswith("2")


def test_signer_signs_once_and_serves_the_stored_credential() -> None:
    key = KeyPair.generate()
    signer = FootprintSigner(key, DID)
    credential = signer.sign(FPS[0])
    assert credential["issuer"] == DID and credential["proof"]["verificationMethod"] == DID + "#key-1"
    assert credential["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    stored = json.loads(json.dumps(credential))
    footprint = signer.unwrap(stored)
    assert footprint == FPS[0] and signer(footprint) is stored
    assert signer({**footprint, "comment": "changed"}) is not stored
    other = FootprintSigner(KeyPair.generate(), "did:web:other.example").sign(FPS[1])
    signer.unwrap(other)
    assert signer(FPS[1])["issuer"] == DID  # another issuer's credential is never served as ours


async def test_signed_credential_verifies_against_our_did_document() -> None:
    key = KeyPair.generate()
    signer = FootprintSigner(key, DID)
    from connector.identity_commands import footprint_schema_check

    resolver = DidResolver(bundle={DID: did_web_document(DID, [("key-1", key.public)])}, offline=True)
    report = await Verifier(resolver, schema_check=footprint_schema_check).verify(signer.sign(FPS[0]))
    assert report.valid and judge(report, DID) is None
    wrong = DidResolver(bundle={DID: did_web_document(DID, [("key-1", KeyPair.generate().public)])}, offline=True)
    report = await Verifier(wrong, schema_check=footprint_schema_check).verify(signer.sign(FPS[0]))
    assert not report.valid and "proof" in (judge(report, DID) or "")


def test_delivery_log_entries() -> None:
    signer = FootprintSigner(KeyPair.generate(), DID)
    vcs = [signer.sign(fp) for fp in FPS[:2]]
    body = json.dumps({"data": vcs}).encode()
    items = delivered_items("/api/public/2/footprints", body)
    kind, refs = footprint_refs(items)
    assert kind == "footprint.delivered" and [r["id"] for r in refs] == [fp["id"] for fp in FPS[:2]]
    assert delivered_items("/api/public/2/footprints/x/credential", json.dumps(vcs[0]).encode()) == [vcs[0]]
    assert delivered_items("/api/public/auth/token", body) == []
    plain_kind, _ = footprint_refs(delivered_items("/api/public/2/footprints/x", json.dumps({"data": FPS[0]}).encode()))
    assert plain_kind == SERVED
    from connector.dataplane import Principal

    payload = delivery_payload(Principal("pact-partner"), refs)
    assert payload is not None and payload["agreementId"] == "pact-client:pact-partner"
    assert delivery_payload(Principal("x"), []) is None


def test_catenax_picks_the_active_newest_footprint() -> None:
    a = {**FPS[0], "version": 1}
    b = {**FPS[0], "version": 3, "status": "Deprecated"}
    c = {**FPS[0], "version": 2}
    assert newest([a, b, c]) is c and newest([]) is None
    assert label({"credentialSubject": {"productFootprint": {"id": "x"}}}) == "x" and label(3) == "(unknown)"
