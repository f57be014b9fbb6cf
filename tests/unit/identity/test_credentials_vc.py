"""VCDM 2.0 credentials and presentations: build, secure (DI and vc+jwt), verify with reasons."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest

from identity.credentials import (
    VC_V2_CONTEXT,
    CredentialError,
    build_credential,
    build_presentation,
    parse_credential,
    sign_credential_di,
    sign_credential_jwt,
    sign_presentation_di,
    sign_presentation_jwt,
    verify_credential,
    verify_presentation,
)
from identity.did import DidResolver, did_key_from_public, did_key_vm_id, did_web_document
from identity.keys import KeyPair

NOW = datetime.now(timezone.utc)


class Party:
    def __init__(self, key_type: str = "ed25519") -> None:
        self.key = KeyPair.generate(key_type)
        self.did = did_key_from_public(self.key.public)
        self.vm = did_key_vm_id(self.key.public)


def _vc(issuer: Party, **kw: object) -> dict:
    return build_credential(issuer=issuer.did, subject={"id": "did:web:member.example", "name": "Acme"}, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "key_type,suite",
    [("ed25519", "eddsa-jcs-2022"), ("ed25519", "eddsa-rdfc-2022"), ("p256", "ecdsa-jcs-2019"), ("p384", "ecdsa-rdfc-2019")],
)
async def test_data_integrity_round_trip_and_tamper(key_type: str, suite: str) -> None:
    issuer = Party(key_type)
    signed = sign_credential_di(_vc(issuer), issuer.key, verification_method=issuer.vm, cryptosuite=suite)
    resolver = DidResolver(offline=True)
    result = await verify_credential(signed, resolver)
    assert result.ok and result.format == "di" and result.issuer == issuer.did
    assert [c.name for c in result.checks] == ["shape", "issuer-key", "proof", "validity"]
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["name"] = "Mallory"
    bad = await verify_credential(tampered, resolver)
    assert not bad.ok and bad.check("proof").ok is False  # type: ignore[union-attr]
    assert "signature does not verify" in bad.check("proof").reason  # type: ignore[union-attr]


async def test_vc_jwt_round_trip() -> None:
    issuer = Party("p256")
    token = sign_credential_jwt(_vc(issuer), issuer.key, verification_method=issuer.vm)
    result = await verify_credential(token, DidResolver(offline=True))
    assert result.ok and result.format == "jwt" and result.credential["credentialSubject"]["name"] == "Acme"  # type: ignore[index]


async def test_issuer_must_control_the_proof_key() -> None:
    issuer, other = Party(), Party()
    vc = _vc(issuer)
    with pytest.raises(CredentialError, match="not a key of the issuer"):
        sign_credential_di(vc, other.key, verification_method=other.vm)
    # forge: other signs a credential that names `issuer` (bypassing our own signing guard)
    import identity.proofs as proofs

    forged = proofs.add_proof(vc, other.key, verification_method=other.vm, cryptosuite="eddsa-jcs-2022")
    result = await verify_credential(forged, DidResolver(offline=True))
    assert not result.ok and "not controlled by the issuer" in result.check("issuer-key").reason  # type: ignore[union-attr]


async def test_key_must_be_an_assertion_method() -> None:
    key = KeyPair.generate()
    did = "did:web:authority.jp.example"
    doc = did_web_document(did, key.public, relationships=["authentication"])
    vc = build_credential(issuer=did, subject={"id": "did:web:m.example"})
    signed = sign_credential_di(vc, key, verification_method=did + "#key-1")
    result = await verify_credential(signed, DidResolver(bundle={did: doc}, offline=True))
    assert not result.ok and "assertionMethod" in result.check("issuer-key").reason  # type: ignore[union-attr]
    unknown = await verify_credential(signed, DidResolver(offline=True))
    assert not unknown.ok and "offline" in unknown.check("issuer-key").reason  # type: ignore[union-attr]


@pytest.mark.parametrize("fmt", ["di", "jwt"])
async def test_validity_period(fmt: str) -> None:
    issuer = Party()
    vc = _vc(issuer, valid_from=NOW - timedelta(days=10), valid_until=NOW - timedelta(days=1))
    secured = (sign_credential_di(vc, issuer.key, verification_method=issuer.vm) if fmt == "di"
               else sign_credential_jwt(vc, issuer.key, verification_method=issuer.vm))
    result = await verify_credential(secured, DidResolver(offline=True))
    assert not result.ok and "expired" in result.check("validity").reason  # type: ignore[union-attr]
    later = _vc(issuer, valid_from=NOW + timedelta(days=1))
    signed = sign_credential_di(later, issuer.key, verification_method=issuer.vm, created=NOW.isoformat())
    result = await verify_credential(signed, DidResolver(offline=True))
    assert "not yet valid" in result.check("validity").reason  # type: ignore[union-attr]
    assert (await verify_credential(signed, DidResolver(offline=True), now=NOW + timedelta(days=2))).ok


@pytest.mark.parametrize(
    "mutate,reason",
    [
        (lambda d: d.update({"@context": ["https://www.w3.org/2018/credentials/v1"]}), "@context must start with"),
        (lambda d: d.update({"type": ["ProductFootprintCredential"]}), "must include VerifiableCredential"),
        (lambda d: d.pop("credentialSubject"), "credentialSubject"),
        (lambda d: d.update({"credentialSubject": {}}), "non-empty"),
        (lambda d: d.update({"issuer": 42}), "issuer"),
        (lambda d: d.update({"validFrom": "2025-01-01T00:00:00"}), "no time zone"),
        (lambda d: d.update({"validUntil": "yesterday"}), "not an ISO 8601"),
    ],
)
async def test_shape_errors(mutate, reason: str) -> None:  # type: ignore[no-untyped-def]
    doc = _vc(Party())
    mutate(doc)
    with pytest.raises(CredentialError, match=reason):
        parse_credential(doc)
    result = await verify_credential(doc, DidResolver(offline=True))
    assert not result.ok and result.check("shape").ok is False  # type: ignore[union-attr]


async def test_garbage_never_raises() -> None:
    resolver = DidResolver(offline=True)
    for junk in ["not.a.jwt", "", [], {"@context": VC_V2_CONTEXT}]:
        result = await verify_credential(junk, resolver)  # type: ignore[arg-type]
        assert not result.ok and result.reasons


@pytest.mark.parametrize("fmt", ["jwt", "di"])
async def test_presentations(fmt: str) -> None:
    issuer, holder = Party(), Party("p256")
    di_vc = sign_credential_di(_vc(issuer), issuer.key, verification_method=issuer.vm)
    jwt_vc = sign_credential_jwt(_vc(issuer), issuer.key, verification_method=issuer.vm)
    vp = build_presentation(holder.did, [di_vc, jwt_vc])
    assert vp["verifiableCredential"][1]["type"] == "EnvelopedVerifiableCredential"
    if fmt == "jwt":
        secured = sign_presentation_jwt(vp, holder.key, verification_method=holder.vm, audience="did:web:v.example", nonce="abc")
    else:
        secured = sign_presentation_di(vp, holder.key, verification_method=holder.vm, domain="did:web:v.example",
                                       challenge="abc", cryptosuite="ecdsa-jcs-2019")
    resolver = DidResolver(offline=True)
    result = await verify_presentation(secured, resolver, audience="did:web:v.example", nonce="abc")
    assert result.ok, result.reasons
    assert result.holder == holder.did and [c.format for c in result.credentials] == ["di", "jwt"]
    wrong = await verify_presentation(secured, resolver, audience="did:web:other.example", nonce="abc")
    assert not wrong.ok and wrong.reasons
    replayed = await verify_presentation(secured, resolver, audience="did:web:v.example", nonce="xyz")
    assert not replayed.ok


async def test_presentation_with_a_bad_credential_is_not_ok() -> None:
    issuer, holder = Party(), Party()
    vc = sign_credential_di(_vc(issuer), issuer.key, verification_method=issuer.vm)
    vc["credentialSubject"]["name"] = "tampered"
    vp = sign_presentation_jwt(build_presentation(holder.did, [vc]), holder.key, verification_method=holder.vm)
    result = await verify_presentation(vp, DidResolver(offline=True))
    assert not result.ok and any("credential 0: proof" in r for r in result.reasons)
