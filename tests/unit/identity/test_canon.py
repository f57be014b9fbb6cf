"""identity.canon / identity.jsonld / identity.contexts: exactness, limits, undefined terms."""

from __future__ import annotations

import copy
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyld import jsonld

from identity.canon import (
    canonicalize_nquads,
    find_undefined_terms,
    jcs,
    parse_nquads,
    rdfc,
    canonicalize_quads,
)
from identity.contexts import document_loader, load_context, register_context
from identity.errors import CanonicalizationError, ContextError, DocumentLimitError, UndefinedTermError

VECTORS = Path(__file__).parents[2] / "conformance" / "data" / "vc"
V2 = "https://www.w3.org/ns/credentials/v2"
EXAMPLES = "https://www.w3.org/ns/credentials/examples/v2"


def credential(subject: dict[str, Any], contexts: list[Any] | None = None) -> dict[str, Any]:
    return {
        "@context": contexts or [V2, EXAMPLES],
        "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": subject,
    }


def pyld_canonical(doc: dict[str, Any]) -> str:
    """Reference: pyld's JSON-LD to RDF with the same pinned loader, then our RDFC."""
    nquads = jsonld.to_rdf(doc, {"format": "application/n-quads", "documentLoader": document_loader})
    return canonicalize_quads(parse_nquads(nquads))


# -- contexts -----------------------------------------------------------------------------
def test_unpinned_context_is_refused_with_its_url() -> None:
    with pytest.raises(ContextError, match="https://evil.example/ctx is not pinned"):
        rdfc({"@context": "https://evil.example/ctx", "@id": "urn:x", "urn:p": "v"})


def test_hash_mismatch_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ctx.jsonld"
    path.write_text('{"@context": {"x": "urn:x#"}}')
    register_context("https://kakehashi.test/tampered", path, "0" * 64)
    with pytest.raises(ContextError, match="fails its hash check"):
        load_context("https://kakehashi.test/tampered")


def test_registered_context_is_served(tmp_path: Path) -> None:
    path = tmp_path / "ctx.jsonld"
    path.write_bytes(b'{"@context": {"carbon": "https://kakehashi.test/vocab#carbon"}}')
    register_context("https://kakehashi.test/extra", path, hashlib.sha256(path.read_bytes()).hexdigest())
    doc = credential({"id": "did:example:s", "carbon": "1.5"}, [V2, "https://kakehashi.test/extra"])
    assert "<https://kakehashi.test/vocab#carbon> \"1.5\"" in rdfc(doc)
    with pytest.raises(ContextError, match="already pinned"):
        register_context("https://kakehashi.test/extra", path, "1" * 64)


def test_dsp_contexts_are_pinned_and_import_works() -> None:
    msg = {
        "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
        "@type": "ContractRequestMessage",
        "consumerPid": "urn:uuid:32541fe6-c580-409e-85a8-8a9a32fbe833",
        "offer": {"@id": "urn:uuid:d526561f-528e-4d5a-ae12-9a9dd9b7a815", "@type": "Offer", "target": "urn:uuid:3dd1add8"},
        "callbackAddress": "https://example.com/callback",
    }
    assert find_undefined_terms(msg) == []
    assert rdfc(msg) == pyld_canonical(msg)


# -- exactness against an independent JSON-LD processor ----------------------------------
@pytest.mark.parametrize(
    "rel",
    [
        "vc-di-eddsa/TestVectors/unsigned.json",
        "vc-di-eddsa/TestVectors/employmentAuth.json",
        "vc-di-eddsa/TestVectors/proof-set-chain/signedProofChain2.json",
        "vc-di-ecdsa/TestVectors/ecdsa-jcs-2019-p384/signedJCSECDSAP384.json",
    ],
)
def test_matches_pyld_on_vectors(rel: str) -> None:
    doc = json.loads((VECTORS / rel).read_text())
    assert rdfc(doc) == pyld_canonical(doc)


_scalar = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(10**22), max_value=10**22),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
_value = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "c", "name", "description"]), inner, max_size=3),
    ),
    max_leaves=8,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["p", "q", "name", "description", "r"]), _value, max_size=4))
def test_matches_pyld_on_generated_subjects(subject: dict[str, Any]) -> None:
    doc = credential({"id": "did:example:s", **subject})
    assert rdfc(doc) == pyld_canonical(doc)


@settings(max_examples=60, deadline=None)
@given(st.recursive(_scalar, lambda i: st.one_of(st.lists(i, max_size=4), st.dictionaries(st.text(max_size=4), i, max_size=4)), max_leaves=12))
def test_jcs_fast_path_equals_rfc8785(value: Any) -> None:
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        with pytest.raises(CanonicalizationError):
            jcs(value)
        return
    assert jcs(value) == expected


def test_jcs_key_order_is_utf16() -> None:
    value = {"\U0001f600": 1, "\ufb01": 2, "a": 3}
    assert jcs(value) == rfc8785.dumps(value)
    assert jcs(value).index("\ufb01".encode()) > jcs(value).index("\U0001f600".encode())


# -- undefined terms -----------------------------------------------------------------------
def test_undefined_property_type_and_relative_iri_are_named() -> None:
    doc = credential(
        {"id": "did:example:s", "undefinedProp": "x", "type": "UndefinedType", "nested": {"id": "relative/id"}},
        [V2],
    )
    found = find_undefined_terms(doc)
    assert any("'undefinedProp'" in f for f in found)
    assert any("'UndefinedType'" in f for f in found)
    assert any("'nested'" in f for f in found)
    with pytest.raises(UndefinedTermError, match="undefinedProp"):
        rdfc(doc)


def test_relative_id_is_reported() -> None:
    doc = credential({"id": "did:example:s"}, [V2])
    doc["id"] = "not-absolute"
    assert any("relative IRI 'not-absolute'" in f for f in find_undefined_terms(doc))


def test_undefined_terms_context_defines_them() -> None:
    doc = credential({"id": "did:example:s", "undefinedProp": "x"}, [V2, "https://www.w3.org/ns/credentials/undefined-terms/v2"])
    assert find_undefined_terms(doc) == []
    assert "undefinedProp" in rdfc(doc)


def test_protected_term_cannot_be_redefined() -> None:
    doc = credential({"id": "did:example:s"}, [V2, {"name": "https://evil.example/name"}])
    with pytest.raises(ContextError, match="protected term 'name'"):
        rdfc(doc)


def test_type_scoped_protected_terms_win_over_document_definitions() -> None:
    doc = credential({"id": "did:example:s"}, [V2, {"issuer": "https://evil.example/issuer"}])
    out = rdfc(doc)
    assert "<https://www.w3.org/2018/credentials#issuer>" in out and "evil.example" not in out
    assert out == pyld_canonical(doc)


@pytest.mark.parametrize("feature", ["@nest", "@included"])
def test_unsupported_features_are_named(feature: str) -> None:
    doc = {"@context": {"@vocab": "urn:v#"}, "@id": "urn:x", feature: {"p": "v"}}
    with pytest.raises(ContextError, match=feature):
        rdfc(doc)


# -- limits --------------------------------------------------------------------------------
def test_deep_nesting_is_refused_quickly() -> None:
    doc: dict[str, Any] = credential({"id": "did:example:s"})
    inner = doc["credentialSubject"]
    for _ in range(10_000):
        inner["p"] = {}
        inner = inner["p"]
    with pytest.raises(DocumentLimitError, match="nests deeper"):
        rdfc(doc)
    with pytest.raises(DocumentLimitError, match="nests deeper"):
        jcs(doc)


def test_oversized_documents_are_refused() -> None:
    doc = credential({"id": "did:example:s", "p": list(range(300_000))})
    with pytest.raises(DocumentLimitError, match="more than"):
        rdfc(doc)
    with pytest.raises(DocumentLimitError, match="string longer"):
        jcs({"x": "a" * 2_000_000})


def test_non_json_values_are_refused() -> None:
    with pytest.raises(DocumentLimitError, match="non-JSON value"):
        jcs({"x": object()})
    with pytest.raises(CanonicalizationError):
        jcs({"x": float("nan")})


def test_poison_dataset_is_refused_fast() -> None:
    clique = "".join(
        f"_:e{i} <http://example.com/p> _:e{j} .\n" for i in range(8) for j in range(8)
    )
    started = time.perf_counter()
    with pytest.raises(CanonicalizationError, match="exceeds the RDFC-1.0 work limit"):
        canonicalize_nquads(clique)
    assert time.perf_counter() - started < 1.0


def test_sha384_changes_labels_not_statements() -> None:
    source = (VECTORS / "rdf-canon-tests/rdfc10/test020-in.nq").read_text()
    a, b = canonicalize_nquads(source), canonicalize_nquads(source, hash="sha384")
    assert len(a.split("\n")) == len(b.split("\n"))
    with pytest.raises(CanonicalizationError, match="unsupported RDFC-1.0 hash"):
        canonicalize_nquads(source, hash="md5")  # type: ignore[arg-type]


def test_input_is_not_mutated() -> None:
    doc = json.loads((VECTORS / "vc-di-eddsa/TestVectors/employmentAuth.json").read_text())
    before = copy.deepcopy(doc)
    rdfc(doc)
    find_undefined_terms(doc)
    assert doc == before
