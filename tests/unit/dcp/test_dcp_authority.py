"""identity.authority: issuance with status entries, revocation, signed lists, state files, topology helpers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from identity.authority import (
    Authority,
    AuthorityError,
    UnknownCredential,
    base_url_for,
    bootstrap_participant,
    trust_store_for,
    write_trust_file,
)
from identity.credentials import verify_credential
from identity.did import DidResolver
from identity.keys import KeyPair
from identity.status import check_status
from identity.trust import TrustStore

JP_DID = "did:web:authority.ouranos.jp.example"
TW_DID = "did:web:authority.example:tw"
MEMBER = "did:web:connector.acme.jp.example"


def jp(tmp_path: Path | None = None, **kw: object) -> Authority:
    return Authority.create(JP_DID, KeyPair.generate(), "ouranos-jp",
                            state_file=tmp_path / "jp.json" if tmp_path else None, **kw)  # type: ignore[arg-type]


def resolver(*authorities: Authority) -> DidResolver:
    return DidResolver(bundle={a.did: a.did_document() for a in authorities}, offline=True)


def test_base_url_follows_the_did_web_mapping() -> None:
    assert base_url_for(JP_DID) == "https://authority.ouranos.jp.example"
    assert base_url_for(TW_DID) == "https://authority.example/tw"
    assert base_url_for("did:web:127.0.0.1%3A8290", allow_http_loopback=True) == "http://127.0.0.1:8290"
    assert jp().status_list_url("1") == "https://authority.ouranos.jp.example/status/1"


@pytest.mark.parametrize("fmt", ["jwt", "di"])
async def test_issued_membership_verifies_and_points_at_a_status_list(fmt: str) -> None:
    authority = jp()
    issued = authority.issue_membership(MEMBER, {"name": "Acme Battery"}, format=fmt)  # type: ignore[arg-type]
    assert isinstance(issued.credential, str if fmt == "jwt" else dict)
    res = resolver(authority)
    checked = await verify_credential(issued.credential, res)
    assert checked.ok, checked.reasons
    vc = checked.credential
    assert vc is not None and vc["issuer"] == JP_DID and "MembershipCredential" in vc["type"]
    assert vc["credentialSubject"] == {**vc["credentialSubject"], "id": MEMBER, "memberOf": "ouranos-jp",
                                       "name": "Acme Battery"}
    entry = vc["credentialStatus"]
    assert entry["statusListCredential"] == authority.status_list_url("1")
    assert int(entry["statusListIndex"]) == issued.record.index
    status = await check_status(vc, res, lambda url: _served(authority, url))
    assert status.ok is True


async def _served(authority: Authority, url: str) -> dict:  # type: ignore[type-arg]
    return authority.signed_status_list(url.rsplit("/", 1)[1])


async def test_revocation_sets_the_bit_and_resigns_the_list() -> None:
    authority = jp()
    a, b = authority.issue_membership(MEMBER), authority.issue_membership("did:web:other.example")
    assert a.record.index != b.record.index
    before = authority.signed_status_list("1")
    assert authority.signed_status_list("1") is before  # unchanged list: not re-signed
    authority.revoke(a.record.id)
    authority.revoke(a.record.id)  # idempotent
    after = authority.signed_status_list("1")
    assert after is not before
    res = resolver(authority)
    va = (await verify_credential(a.credential, res)).credential
    vb = (await verify_credential(b.credential, res)).credential
    sa = await check_status(va, res, lambda url: _served(authority, url))  # type: ignore[arg-type]
    sb = await check_status(vb, res, lambda url: _served(authority, url))  # type: ignore[arg-type]
    assert sa.revoked and f"bit {a.record.index}" in sa.reason
    assert sb.ok is True
    assert authority.record(a.record.id.removeprefix("urn:uuid:")).revoked  # bare uuid accepted too


async def test_a_list_signed_by_another_key_is_not_believed() -> None:
    authority = jp()
    issued = authority.issue_membership(MEMBER)
    impostor = Authority.create(JP_DID, KeyPair.generate(), "ouranos-jp")
    impostor.lists = authority.lists
    res = resolver(authority)
    vc = (await verify_credential(issued.credential, res)).credential
    status = await check_status(vc, res, lambda url: _served(impostor, url))  # type: ignore[arg-type]
    assert status.ok is False and "does not verify" in status.reason


def test_issuance_refusals() -> None:
    authority = jp()
    with pytest.raises(AuthorityError, match="may not set id, memberOf"):
        authority.issue_membership(MEMBER, {"memberOf": "taiwan-tw", "id": "did:web:x"})
    with pytest.raises(AuthorityError, match="is not a DID"):
        authority.issue_membership("acme")
    with pytest.raises(AuthorityError, match="unknown credential format"):
        authority.issue_membership(MEMBER, format="pdf")  # type: ignore[arg-type]
    with pytest.raises(AuthorityError, match="no JSON-LD context defines.*tier"):
        authority.issue_membership(MEMBER, {"tier": "gold"}, format="di")
    assert authority.lists["1"].allocated == set() and authority.issued == {}  # refusals leave nothing behind
    with pytest.raises(UnknownCredential):
        authority.revoke("urn:uuid:nope")
    with pytest.raises(UnknownCredential):
        authority.signed_status_list("7")


def test_validity_period() -> None:
    now = datetime(2025, 4, 1, tzinfo=timezone.utc)
    issued = jp(validity=timedelta(days=30)).issue_membership(MEMBER, now=now)
    assert issued.record.issued_at == "2025-04-01T00:00:00Z" and issued.record.valid_until == "2025-05-01T00:00:00Z"
    shorter = jp().issue_membership(MEMBER, now=now, validity=timedelta(days=1))
    assert shorter.record.valid_until == "2025-04-02T00:00:00Z"


def test_state_round_trip(tmp_path: Path) -> None:
    first = jp(tmp_path)
    key = first.key
    issued = first.issue_membership(MEMBER)
    first.revoke(issued.record.id)
    first.save()
    assert oct((tmp_path / "jp.json").stat().st_mode)[-3:] == "600"
    again = Authority.create(JP_DID, key, "ouranos-jp", state_file=tmp_path / "jp.json")
    assert again.issued[issued.record.id].revoked and again.lists["1"].get(issued.record.index)
    assert issued.record.index in again.lists["1"].allocated
    assert again.signed_status_list("1")["credentialSubject"]["encodedList"] == \
        first.signed_status_list("1")["credentialSubject"]["encodedList"]


def test_state_file_errors(tmp_path: Path) -> None:
    jp(tmp_path).save()
    with pytest.raises(AuthorityError, match="belongs to 'did:web:authority.ouranos.jp.example', not to did:web:x"):
        Authority.create("did:web:x", KeyPair.generate(), "ouranos-jp", state_file=tmp_path / "jp.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(AuthorityError, match="is not JSON"):
        Authority.create(JP_DID, KeyPair.generate(), "ouranos-jp", state_file=bad)
    bad.write_text(json.dumps({"version": 99}))
    with pytest.raises(AuthorityError, match="not a version 1 state file"):
        Authority.create(JP_DID, KeyPair.generate(), "ouranos-jp", state_file=bad)
    bad.write_text(json.dumps({"version": 1, "did": JP_DID, "lists": {"1": {"encodedList": "garbage"}}}))
    with pytest.raises(AuthorityError, match="is damaged"):
        Authority.create(JP_DID, KeyPair.generate(), "ouranos-jp", state_file=bad)


async def test_bootstrap_participant_and_trust_file(tmp_path: Path) -> None:
    jp_auth = jp(tmp_path)
    tw_auth = Authority.create(TW_DID, KeyPair.generate("P-256"), "taiwan-tw")
    member = bootstrap_participant(tw_auth, "did:web:connector.formosa.tw.example", tmp_path / "tw",
                                   credential_service_url="https://formosa.example/api/credentials",
                                   dsp_url="https://formosa.example/api/dsp", claims={"name": "Formosa"})
    assert member.key_file.exists() and oct(member.key_file.stat().st_mode)[-3:] == "600"
    assert KeyPair.load(member.key_file).public.raw() == member.key.public.raw()
    assert member.credential_files[0].read_text().strip() == member.issued[0].credential
    doc = member.did_document.to_json()
    assert [s["type"] for s in doc["service"]] == ["CredentialService", "DataService"]
    assert member.kid in doc["capabilityInvocation"]
    # a DI credential file is JSON
    di = bootstrap_participant(jp_auth, MEMBER, tmp_path / "jp", format="di")
    assert json.loads(di.credential_files[0].read_text())["proof"]["type"] == "DataIntegrityProof"
    assert MEMBER in {r.subject for r in Authority.create(JP_DID, jp_auth.key, "ouranos-jp",
                                                          state_file=tmp_path / "jp.json").issued.values()}

    store = trust_store_for([jp_auth, tw_auth])
    assert store.who_trusts(TW_DID, "MembershipCredential") == ["ouranos-jp", "taiwan-tw"]
    assert store.who_trusts(TW_DID, "ProductFootprintCredential") == []
    alone = trust_store_for([jp_auth, tw_auth], recognise=False)
    assert alone.who_trusts(TW_DID, "MembershipCredential") == ["taiwan-tw"]
    loaded = TrustStore.load(write_trust_file(tmp_path / "trust.json", store))
    assert loaded.who_trusts(JP_DID, "MembershipCredential") == ["ouranos-jp", "taiwan-tw"]
