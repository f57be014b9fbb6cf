"""The fast signing path of `add_proof` against the general one.

`add_proof` builds the signed document from a shallow copy of the input's top level (no
deep copy), walks the document's limits once, skips the limits walk for proof options that
are plain strings, and encodes base58 itself. These tests pin that the result is the
document the general path produces (byte-for-byte, Ed25519 being deterministic), that the
caller's input is never mutated, and that the checks still apply.
"""

from __future__ import annotations

import copy
import json
import os
import re
from datetime import datetime, timezone
from typing import Any

import base58
import pytest

from connector.footprints.samples import make_footprints
from identity.errors import DocumentLimitError, UndefinedTermError
from identity.footprint_credential import footprint_credential
from identity.keys import KeyPair, _b58decode, _b58encode, multibase_encode
from identity.proofs import PROOF_TYPE, add_proof, get_suite, proof_hash_data, verify_proofs

KEY = KeyPair.from_raw("Ed25519", bytes(range(32)))
DID = f"did:key:{KEY.public.multibase()}"
VM = f"{DID}#{KEY.public.multibase()}"
CREATED = "2025-03-04T05:06:07Z"


def _reference_add_proof(document: dict[str, Any], key: KeyPair, *, cryptosuite: str, created: str,
                         previous_proof: str | None = None, proof_id: str | None = None,
                         domain: Any = None) -> dict[str, Any]:
    """The general path, as add_proof was written before the fast path: deep copies,
    limits and undefined terms checked by the canonicaliser itself (no mode passed)."""
    suite = get_suite(cryptosuite)
    existing = document.get("proof")
    existing = [] if existing is None else (list(existing) if isinstance(existing, list) else [existing])
    options: dict[str, Any] = {}
    if proof_id is not None:
        options["id"] = proof_id
    options.update({"type": PROOF_TYPE, "cryptosuite": suite.name, "created": created,
                    "verificationMethod": VM, "proofPurpose": "assertionMethod"})
    if domain is not None:
        options["domain"] = domain
    if previous_proof is not None:
        options["previousProof"] = previous_proof
    base = {k: v for k, v in document.items() if k != "proof"}
    if previous_proof is not None:
        base["proof"] = [p for p in existing if p.get("id") == previous_proof]
    hash_data = proof_hash_data(suite, base, options, key.key_type)
    proof = dict(options)
    if suite.proof_carries_context and "@context" in document:
        proof = {"@context": copy.deepcopy(document["@context"]), **proof}
    proof["proofValue"] = "z" + base58.b58encode(suite.sign(hash_data, key)).decode("ascii")
    signed = copy.deepcopy({k: v for k, v in document.items() if k != "proof"})
    signed["proof"] = [*copy.deepcopy(existing), proof] if existing else proof
    return signed


def _documents() -> list[dict[str, Any]]:
    docs = [footprint_credential(fp, DID, valid_from="2025-01-01T00:00:00Z") for fp in make_footprints("jp", 6)]
    # integral floats (JCS writes 2.0 as 2), deeper nesting, non-ASCII text
    docs[1]["credentialSubject"]["productFootprint"]["pcf"]["primaryDataShare"] = 56.0
    docs[2]["credentialSubject"]["productFootprint"]["productNameCompany"] = "鉄鋼 コイル"
    return docs


def _dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, sort_keys=False)


@pytest.mark.parametrize("suite", ["eddsa-jcs-2022", "eddsa-rdfc-2022"])
def test_add_proof_equals_general_path_and_never_mutates_input(suite: str) -> None:
    for doc in _documents():
        before = copy.deepcopy(doc)
        signed = add_proof(doc, KEY, verification_method=VM, cryptosuite=suite, created=CREATED)
        assert doc == before and _dumps(doc) == _dumps(before)  # same values, same key order
        assert "proof" not in doc and signed is not doc
        assert _dumps(signed) == _dumps(_reference_add_proof(doc, KEY, cryptosuite=suite, created=CREATED))
        assert verify_proofs(signed, lambda vm: KEY.public).ok
        if suite == "eddsa-jcs-2022":  # the proof's @context is its own list, not the document's
            assert signed["proof"]["@context"] == doc["@context"]
            assert signed["proof"]["@context"] is not doc["@context"]


def test_proof_sets_and_chains_leave_the_input_alone() -> None:
    doc = _documents()[0]
    first = add_proof(doc, KEY, verification_method=VM, cryptosuite="eddsa-jcs-2022", created=CREATED,
                      proof_id="urn:uuid:first")
    snapshot = copy.deepcopy(first)
    second = add_proof(first, KEY, verification_method=VM, cryptosuite="eddsa-jcs-2022", created=CREATED,
                       proof_id="urn:uuid:second", previous_proof="urn:uuid:first")
    assert first == snapshot and isinstance(first["proof"], dict)  # still one proof, unchanged
    assert [p["id"] for p in second["proof"]] == ["urn:uuid:first", "urn:uuid:second"]
    expected = _reference_add_proof(first, KEY, cryptosuite="eddsa-jcs-2022", created=CREATED,
                                    proof_id="urn:uuid:second", previous_proof="urn:uuid:first")
    assert _dumps(second) == _dumps(expected)
    third = add_proof(second, KEY, verification_method=VM, cryptosuite="eddsa-rdfc-2022", created=CREATED)
    assert len(second["proof"]) == 2 and len(third["proof"]) == 3
    assert verify_proofs(third, lambda vm: KEY.public).ok


def test_proof_options_that_are_not_plain_strings_take_the_general_check() -> None:
    doc = _documents()[0]
    signed = add_proof(doc, KEY, verification_method=VM, cryptosuite="eddsa-jcs-2022", created=CREATED,
                       domain=["https://a.example", "https://b.example"])
    expected = _reference_add_proof(doc, KEY, cryptosuite="eddsa-jcs-2022", created=CREATED,
                                    domain=["https://a.example", "https://b.example"])
    assert _dumps(signed) == _dumps(expected)
    with pytest.raises(DocumentLimitError):
        add_proof(doc, KEY, verification_method=VM, cryptosuite="eddsa-jcs-2022", domain=("a", "b"))  # type: ignore[arg-type]
    with pytest.raises(DocumentLimitError):
        add_proof(doc, KEY, verification_method=VM, cryptosuite="eddsa-jcs-2022", challenge="x" * 1_000_001)


def test_signing_still_refuses_undefined_terms_and_oversized_documents() -> None:
    doc = _documents()[0]
    sneaky = {**doc, "credentialSubject": {**doc["credentialSubject"], "undefinedTerm": "x"}}
    for suite in ("eddsa-jcs-2022", "eddsa-rdfc-2022"):
        with pytest.raises(UndefinedTermError):
            add_proof(sneaky, KEY, verification_method=VM, cryptosuite=suite)
    deep: Any = "x"
    for _ in range(70):
        deep = [deep]
    with pytest.raises(DocumentLimitError):
        add_proof({**doc, "evidence": deep}, KEY, verification_method=VM, cryptosuite="eddsa-jcs-2022")
    # the footprint is an @json literal: any key inside it is fine, and signed
    odd = copy.deepcopy(doc)
    odd["credentialSubject"]["productFootprint"]["notAPactField"] = {"x": 1}
    assert verify_proofs(add_proof(odd, KEY, verification_method=VM, cryptosuite="eddsa-jcs-2022"),
                         lambda vm: KEY.public).ok


def test_default_created_is_now_in_whole_seconds() -> None:
    before = datetime.now(timezone.utc).replace(microsecond=0)
    proof = add_proof(_documents()[0], KEY, verification_method=VM, cryptosuite="eddsa-jcs-2022")["proof"]
    after = datetime.now(timezone.utc)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", proof["created"])
    assert before <= datetime.fromisoformat(proof["created"]) <= after


def test_base58_encoder_equals_the_base58_package() -> None:
    samples = [b"", b"\x00", b"\x00\x00\x01", b"\xff" * 64, bytes(64), b"\x00" + b"\xff" * 63]
    samples += [os.urandom(n) for n in range(1, 100) for _ in range(5)]
    samples += [b"\x00" * (n % 4) + os.urandom(n) for n in range(0, 80)]
    for data in samples:
        expected = base58.b58encode(data).decode("ascii")
        assert _b58encode(data) == expected, data.hex()
        assert multibase_encode(data) == "z" + expected
        assert _b58decode(expected) == data


# -- the one-pass verify of a single JCS proof against the general path ----------------------------
def _general(doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch, **kw: Any) -> Any:
    import identity.proofs as proofs_module

    with monkeypatch.context() as m:
        m.setattr(proofs_module, "_verify_plain_jcs", lambda *a, **k: None)
        return verify_proofs(doc, _resolve, **kw)


def _resolve(vm: str) -> Any:
    from identity.did import resolve_verification_method

    return resolve_verification_method(vm, "assertionMethod")


def _mutations(signed: dict[str, Any]) -> list[dict[str, Any]]:
    out = [signed]
    for path, value in [
        (("proof", "proofValue"), signed["proof"]["proofValue"][:-2] + "11"),
        (("proof", "created"), "2999-01-01T00:00:00Z"),
        (("proof", "expires"), "2000-01-01T00:00:00Z"),
        (("proof", "proofPurpose"), "authentication"),
        (("proof", "cryptosuite"), "eddsa-rdfc-2022"),
        (("proof", "cryptosuite"), ["eddsa-jcs-2022"]),
        (("proof", "type"), "Ed25519Signature2020"),
        (("proof", "verificationMethod"), "did:key:zNope#zNope"),
        (("proof", "@context"), ["https://www.w3.org/ns/credentials/v2"]),
        (("proof", "extra"), "x"),
        (("proof", "extra"), {"nested": 1}),
        (("issuer",), "did:example:someone-else"),
        (("credentialSubject", "undefinedTerm"), "x"),
        (("validFrom",), 1.5e300),
    ]:
        doc = copy.deepcopy(signed)
        target = doc
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
        out.append(doc)
    return out


@pytest.mark.parametrize("suite", ["eddsa-jcs-2022", "ecdsa-jcs-2019"])
def test_one_pass_verify_agrees_with_the_general_path(suite: str, monkeypatch: pytest.MonkeyPatch) -> None:
    key = KEY if suite.startswith("eddsa") else KeyPair.generate("p256")
    did = f"did:key:{key.public.multibase()}"
    vm = f"{did}#{key.public.multibase()}"
    for fp in make_footprints("jp", 3):
        signed = add_proof(footprint_credential(fp, did), key, verification_method=vm, cryptosuite=suite,
                           created=CREATED, proof_id="urn:uuid:p1")
        for doc in _mutations(signed):
            fast = verify_proofs(doc, _resolve)
            general = _general(doc, monkeypatch)
            assert (fast.ok, fast.reason, [(p.ok, p.verification_method, p.cryptosuite, p.proof_id) for p in fast.proofs]) \
                == (general.ok, general.reason, [(p.ok, p.verification_method, p.cryptosuite, p.proof_id)
                                                 for p in general.proofs])
        assert verify_proofs(signed, _resolve).ok


@pytest.mark.parametrize("suite", ["eddsa-jcs-2022", "ecdsa-jcs-2019"])
def test_the_one_pass_itself_verifies_the_usual_shapes(suite: str) -> None:
    """Not only the fallback: the one pass answers (not None) for a proof, a list of one proof
    and a proof without its own @context, and refuses (None) what it leaves to the general path."""
    from datetime import timedelta

    from identity.proofs import _verify_plain_jcs

    key = KEY if suite.startswith("eddsa") else KeyPair.generate("p256")
    did = f"did:key:{key.public.multibase()}"
    vm = f"{did}#{key.public.multibase()}"
    now, skew = datetime.now(timezone.utc), timedelta(minutes=5)
    signed = add_proof(footprint_credential(make_footprints("tw", 1)[0], did), key, verification_method=vm,
                       cryptosuite=suite, created=CREATED)
    direct = _verify_plain_jcs(signed, signed["proof"], _resolve, "assertionMethod", now, skew)
    assert direct is not None and direct.ok and direct.proofs[0].verification_method == vm
    as_list = {**signed, "proof": [signed["proof"]]}
    assert _verify_plain_jcs(as_list, signed["proof"], _resolve, "assertionMethod", now, skew) is not None
    bare = {k: v for k, v in signed["proof"].items() if k != "@context"}  # hashed with the document's
    assert _verify_plain_jcs({**signed, "proof": bare}, bare, _resolve, "assertionMethod", now, skew) is not None
    for odd in ({"domain": ["a", "b"]}, {"@context": ["https://www.w3.org/ns/credentials/v2"]}, {"created": 5}):
        proof = {**signed["proof"], **odd}
        assert _verify_plain_jcs({**signed, "proof": proof}, proof, _resolve, "assertionMethod", now, skew) is None
    for doc in (signed, as_list, {**signed, "proof": bare}):
        assert verify_proofs(doc, _resolve).ok
