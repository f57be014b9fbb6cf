"""Every W3C Data Integrity vector in data/vc/manifest.json reproduces byte-exact and verifies."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from identity.canon import rdfc
from identity.contexts import load_context
from identity.errors import UndefinedTermError
from identity.keys import KeyPair, PublicKey, multibase_encode
from identity.proofs import add_proof, get_suite, proof_hash_data, verify_proofs

DATA = Path(__file__).parent / "data" / "vc"
MANIFEST = json.loads((DATA / "manifest.json").read_text(encoding="utf-8"))


def text(rel: str) -> str:
    return (DATA / rel).read_text(encoding="utf-8")


def load(rel: str) -> Any:
    return json.loads(text(rel))


def case_key(case: dict[str, Any]) -> KeyPair:
    pair = load(case["keyPair"])
    return KeyPair.from_multibase(pair[case["secretKeyField"]], pair[case["publicKeyField"]])


@pytest.mark.parametrize("case", MANIFEST["cases"], ids=lambda c: c["id"])
def test_case_reproduces_every_step(case: dict[str, Any]) -> None:
    key = case_key(case)
    assert key.key_type == case["curve"]
    suite = get_suite(case["cryptosuite"])
    unsigned, config = load(case["unsigned"]), load(case["proofConfig"])
    digest = hashlib.sha384 if case["digest"] == "SHA-384" else hashlib.sha256
    canon_doc = suite.canonicalize(unsigned, key.key_type)
    canon_cfg = suite.canonicalize(config, key.key_type)
    assert canon_doc.decode() == text(case["canonicalDocument"])
    assert canon_cfg.decode() == text(case["canonicalProofConfig"])
    assert digest(canon_doc).hexdigest() == text(case["documentHashHex"])
    assert digest(canon_cfg).hexdigest() == text(case["proofConfigHashHex"])
    hash_data = proof_hash_data(suite, unsigned, config, key.key_type)
    assert hash_data.hex() == text(case["hashDataHex"])
    signature = suite.sign(hash_data, key)
    assert signature.hex() == text(case["signatureHex"])
    assert multibase_encode(signature) == text(case["proofValue"])


@pytest.mark.parametrize("case", MANIFEST["cases"], ids=lambda c: c["id"])
def test_add_proof_gives_the_signed_vector_and_it_verifies(case: dict[str, Any]) -> None:
    key = case_key(case)
    config = load(case["proofConfig"])
    signed = add_proof(
        load(case["unsigned"]),
        key,
        verification_method=config["verificationMethod"],
        cryptosuite=config["cryptosuite"],
        proof_purpose=config["proofPurpose"],
        created=config["created"],
    )
    expected = load(case["signed"])
    assert signed == expected
    result = verify_proofs(expected, lambda vm: key.public)
    assert result.ok, result.reason


def _key_index() -> dict[str, PublicKey]:
    pairs = load(MANIFEST["proofSetsAndChains"]["keyPairs"])
    out = {}
    for pair in pairs.values():
        key = KeyPair.from_multibase(pair["privateKeyMultibase"], pair["publicKeyMultibase"])
        out[pair["publicKeyMultibase"]] = key.public
    return out


@pytest.mark.parametrize("rel", MANIFEST["proofSetsAndChains"]["signed"], ids=lambda r: Path(r).stem)
def test_proof_sets_and_chains_verify(rel: str) -> None:
    keys = _key_index()
    doc = load(rel)
    result = verify_proofs(doc, lambda vm: keys[vm.split("#", 1)[1]])
    assert result.ok, result.reason
    assert len(result.proofs) == len(doc["proof"]) if isinstance(doc["proof"], list) else 1


def test_proof_chain_breaks_when_a_previous_proof_is_altered() -> None:
    keys = _key_index()
    doc = load("vc-di-eddsa/TestVectors/proof-set-chain/signedProofChain1.json")
    first = doc["proof"][0]
    first["created"] = "2023-02-24T23:36:39Z"
    result = verify_proofs(doc, lambda vm: keys[vm.split("#", 1)[1]])
    assert not result.ok
    chained = [p for p in result.proofs if p.proof_id != first["id"]]
    assert any(not p.ok for p in chained)  # the proof that names it as previousProof fails too


def test_legacy_ed25519signature2020_canonical_forms_and_hashes() -> None:
    legacy = MANIFEST["legacy"]
    signed = load(legacy["signed"])
    unsigned = {k: v for k, v in signed.items() if k != "proof"}
    config = load(legacy["proofConfig"])
    canon_doc, canon_cfg = rdfc(unsigned), rdfc(config)
    assert canon_doc == text(legacy["canonicalDocument"])
    assert canon_cfg == text(legacy["canonicalProofConfig"])
    doc_hash = hashlib.sha256(canon_doc.encode()).digest()
    cfg_hash = hashlib.sha256(canon_cfg.encode()).digest()
    assert doc_hash.hex() == text(legacy["documentHashHex"])
    assert cfg_hash.hex() == text(legacy["proofConfigHashHex"])
    assert (cfg_hash + doc_hash).hex() == text(legacy["hashDataHex"])
    pair = load(legacy["keyPair"])
    key = KeyPair.from_multibase(pair["privateKeyMultibase"], pair["publicKeyMultibase"])
    assert key.sign(cfg_hash + doc_hash).hex() == text(legacy["signatureHex"])
    assert multibase_encode(key.sign(cfg_hash + doc_hash)) == text(legacy["proofValue"])


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every leaf path of a JSON value (strings, numbers, booleans)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _paths(v, (*prefix, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _paths(v, (*prefix, i))]
    return [prefix]


def _flip(doc: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    target = out
    for step in path[:-1]:
        target = target[step]
    old = target[path[-1]]
    if isinstance(old, bool):
        target[path[-1]] = not old
    elif isinstance(old, (int, float)):
        target[path[-1]] = old + 1
    else:
        target[path[-1]] = old[:-1] + ("X" if not old.endswith("X") else "Y")
    return out


SIGNED_CASES = [c for c in MANIFEST["cases"] if c["id"] in ("eddsa-rdfc-2022", "eddsa-jcs-2022", "ecdsa-rdfc-2019-p256/employ")]


@pytest.mark.parametrize("case", SIGNED_CASES, ids=lambda c: c["id"])
def test_flipping_any_field_breaks_verification(case: dict[str, Any]) -> None:
    key = case_key(case).public
    signed = load(case["signed"])
    leaves = [p for p in _paths(signed) if p[:2] != ("proof", "proofValue")]
    assert len(leaves) > 10
    for path in leaves:
        result = verify_proofs(_flip(signed, path), lambda vm: key)
        assert not result.ok, f"tampering {path} went unnoticed"


@pytest.mark.parametrize("case", SIGNED_CASES, ids=lambda c: c["id"])
def test_adding_an_undefined_term_breaks_verification(case: dict[str, Any]) -> None:
    key = case_key(case).public
    signed = load(case["signed"])
    signed["credentialSubject"]["notDefinedAnywhere"] = "injected"
    result = verify_proofs(signed, lambda vm: key)
    assert not result.ok
    if "https://www.w3.org/ns/credentials/examples/v2" not in signed["@context"]:
        # without the examples context's @vocab the term is undefined and named as such
        assert "notDefinedAnywhere" in (result.reason or "")


def test_undefined_term_in_unsigned_vector_is_refused_by_every_suite() -> None:
    doc = load("vc-di-eddsa/TestVectors/unsigned.json")
    doc["@context"] = ["https://www.w3.org/ns/credentials/v2"]  # drop the examples @vocab
    for case in MANIFEST["cases"]:
        with pytest.raises(UndefinedTermError, match="alumniOf"):
            get_suite(case["cryptosuite"]).canonicalize(doc, case["curve"])


def test_packaged_contexts_are_the_pinned_w3c_files() -> None:
    index = load("contexts/index.json")
    for entry in index["contexts"]:
        packaged = json.dumps(load_context(entry["url"]), sort_keys=True)
        assert packaged == json.dumps(load(entry["file"]), sort_keys=True)
