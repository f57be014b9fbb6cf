"""identity.proofs: every suite round-trips; every failed check is reported by name."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from identity.errors import ProofError, UndefinedTermError, UnknownCryptosuiteError
from identity.keys import KeyPair, PublicKey, multibase_encode
from identity.proofs import SUITES, add_proof, get_suite, verify_proofs

V2 = "https://www.w3.org/ns/credentials/v2"
NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)
SUITE_KEYS = [
    ("eddsa-jcs-2022", "ed25519"),
    ("eddsa-rdfc-2022", "ed25519"),
    ("ecdsa-jcs-2019", "p256"),
    ("ecdsa-jcs-2019", "p384"),
    ("ecdsa-rdfc-2019", "p256"),
    ("ecdsa-rdfc-2019", "p384"),
]


def doc() -> dict[str, Any]:
    return {
        "@context": [V2, "https://www.w3.org/ns/credentials/examples/v2"],
        "id": "urn:uuid:1",
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:s", "pcf": "1.25", "unit": "kgCO2e"},
    }


def sign(key: KeyPair, suite: str = "eddsa-rdfc-2022", document: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    kw.setdefault("created", "2025-05-01T00:00:00Z")
    return add_proof(document or doc(), key, verification_method="did:example:issuer#k1", cryptosuite=suite, **kw)


def check(signed: dict[str, Any], key: PublicKey, **kw: Any) -> Any:
    kw.setdefault("now", NOW)
    return verify_proofs(signed, lambda vm: key, **kw)


@pytest.mark.parametrize("suite,kind", SUITE_KEYS)
def test_round_trip_and_tamper(suite: str, kind: str) -> None:
    key = KeyPair.generate(kind)
    original = doc()
    signed = sign(key, suite, original)
    assert original == doc()  # input untouched
    result = check(signed, key.public)
    assert result.ok, result.reason
    assert result.proofs[0].cryptosuite == suite
    assert result.proofs[0].verification_method == "did:example:issuer#k1"
    assert ("@context" in signed["proof"]) == suite.endswith(("jcs-2022", "jcs-2019"))
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["pcf"] = "1.26"
    bad = check(tampered, key.public)
    assert not bad.ok and "does not verify" in (bad.reason or "")


def test_proof_set_and_chain() -> None:
    a, b, c = (KeyPair.generate("ed25519") for _ in range(3))
    keys = {"did:example:a#k": a.public, "did:example:b#k": b.public, "did:example:c#k": c.public}
    one = add_proof(doc(), a, verification_method="did:example:a#k", cryptosuite="eddsa-rdfc-2022", proof_id="urn:p1")
    two = add_proof(one, b, verification_method="did:example:b#k", cryptosuite="eddsa-jcs-2022", proof_id="urn:p2")
    three = add_proof(
        two, c, verification_method="did:example:c#k", cryptosuite="eddsa-rdfc-2022", previous_proof=["urn:p1", "urn:p2"]
    )
    assert isinstance(three["proof"], list) and len(three["proof"]) == 3
    result = verify_proofs(three, keys.__getitem__)
    assert result.ok, result.reason
    # Removing a proof the chain depends on breaks the chained proof with a clear reason.
    broken = copy.deepcopy(three)
    broken["proof"] = [p for p in broken["proof"] if p.get("id") != "urn:p2"]
    result = verify_proofs(broken, keys.__getitem__)
    assert not result.ok and "urn:p2" in (result.reason or "")
    with pytest.raises(ProofError, match="not in the document"):
        add_proof(one, b, verification_method="did:example:b#k", cryptosuite="eddsa-rdfc-2022", previous_proof="urn:nope")
    with pytest.raises(ProofError, match="already has a proof with id"):
        add_proof(one, b, verification_method="did:example:b#k", cryptosuite="eddsa-rdfc-2022", proof_id="urn:p1")


def test_purpose_dates_challenge_domain() -> None:
    key = KeyPair.generate("ed25519")
    signed = sign(key, challenge="nonce-1", domain="https://tw.example", expires="2025-07-01T00:00:00Z")
    assert check(signed, key.public, challenge="nonce-1", domain="https://tw.example").ok
    assert "proofPurpose" in check(signed, key.public, expected_purpose="authentication").reason
    assert "challenge" in check(signed, key.public, challenge="nonce-2").reason
    assert "domain" in check(signed, key.public, domain="https://jp.example").reason
    assert "expired" in check(signed, key.public, now=datetime(2025, 8, 1, tzinfo=timezone.utc)).reason
    future = sign(key, created=NOW + timedelta(hours=1))
    assert "in the future" in check(future, key.public).reason
    assert check(sign(key, created=NOW + timedelta(minutes=1)), key.public).ok  # within skew
    with pytest.raises(ProofError, match="not a valid dateTime"):
        sign(key, created="yesterday")
    with pytest.raises(ProofError, match="timezone-aware"):
        sign(key, created=datetime(2025, 1, 1))


def test_bad_input_gives_named_errors() -> None:
    ed, p256 = KeyPair.generate("ed25519"), KeyPair.generate("p256")
    with pytest.raises(UnknownCryptosuiteError, match="unknown cryptosuite 'rsa-2018'"):
        sign(ed, "rsa-2018")
    with pytest.raises(ProofError, match="needs a Ed25519 key, not P-256"):
        sign(p256, "eddsa-jcs-2022")
    signed = sign(ed)
    assert "needs a P-256 or P-384 key" in check({**signed, "proof": {**signed["proof"], "cryptosuite": "ecdsa-rdfc-2019"}}, ed.public).reason
    assert "needs a Ed25519 key" in check(signed, p256.public).reason
    garbage = {**signed, "proof": {**signed["proof"], "proofValue": "z0OIl"}}
    assert "proofValue is malformed" in check(garbage, ed.public).reason
    short = {**signed, "proof": {**signed["proof"], "proofValue": multibase_encode(b"\x01" * 10)}}
    assert "must be 64 bytes, got 10" in check(short, ed.public).reason
    assert "unknown cryptosuite" in check({**signed, "proof": {**signed["proof"], "cryptosuite": "x"}}, ed.public).reason
    assert "unsupported proof type" in check({**signed, "proof": {**signed["proof"], "type": "Ed25519Signature2020"}}, ed.public).reason

    def unresolvable(vm: str) -> PublicKey:
        raise LookupError("did:example is offline")

    assert "did:example is offline" in verify_proofs(signed, unresolvable, now=NOW).reason
    assert verify_proofs({k: v for k, v in signed.items() if k != "proof"}, lambda vm: ed.public).reason == "document has no proof"
    assert "not a JSON object" in verify_proofs([], lambda vm: ed.public).reason  # type: ignore[arg-type]


def test_undefined_terms_refused_when_signing_with_every_suite() -> None:
    bad = doc()
    bad["@context"] = [V2]
    bad["credentialSubject"] = {"id": "did:example:s", "carbonFootprint": "1.0"}
    for suite, kind in SUITE_KEYS:
        with pytest.raises(UndefinedTermError, match="carbonFootprint"):
            sign(KeyPair.generate(kind), suite, bad)


def test_undefined_term_added_after_signing_fails_jcs_and_rdfc() -> None:
    key = KeyPair.generate("ed25519")
    for suite in ("eddsa-jcs-2022", "eddsa-rdfc-2022"):
        good = doc()
        good["@context"] = [V2]
        good["credentialSubject"] = {"id": "did:example:s"}
        signed = sign(key, suite, good)
        signed["credentialSubject"]["sneaky"] = "added"
        result = check(signed, key.public)
        assert not result.ok and "sneaky" in (result.reason or "")


def test_jcs_proof_context_must_prefix_document_context() -> None:
    key = KeyPair.generate("ed25519")
    signed = sign(key, "eddsa-jcs-2022")
    signed["proof"]["@context"] = ["https://www.w3.org/ns/credentials/examples/v2"]
    assert "does not match the start" in check(signed, key.public).reason


def test_registry_lists_the_four_suites() -> None:
    assert sorted(SUITES) == ["ecdsa-jcs-2019", "ecdsa-rdfc-2019", "eddsa-jcs-2022", "eddsa-rdfc-2022"]
    assert get_suite("ecdsa-rdfc-2019").hash_name("P-384") == "sha384"
