"""did:key derivation and did:web mapping / document generation (pure, no network)."""

from __future__ import annotations

import pytest

from identity.did import (
    DidDocument,
    DidError,
    credential_service,
    data_service,
    did_key_document,
    did_key_from_public,
    did_key_vm_id,
    did_web_document,
    did_web_from_url,
    did_web_to_url,
    public_key_from_did_key,
    resolve_verification_method,
)
from identity.keys import KeyPair


@pytest.mark.parametrize("key_type,prefix", [("ed25519", "z6Mk"), ("p256", "zDna"), ("p384", "z82L")])
def test_did_key_round_trip(key_type: str, prefix: str) -> None:
    key = KeyPair.generate(key_type)
    did = did_key_from_public(key.public)
    assert did.startswith("did:key:" + prefix)
    doc = did_key_document(did)
    vm_id = did_key_vm_id(key.public)
    assert doc.id == did and vm_id == f"{did}#{did[8:]}"
    for rel in ("authentication", "assertionMethod", "capabilityInvocation", "capabilityDelegation"):
        assert doc.relationship_ids(rel) == [vm_id]
    assert doc.verificationMethod[0].type == "Multikey"
    assert resolve_verification_method(vm_id).raw() == key.public.raw()
    assert public_key_from_did_key(did).raw() == key.public.raw()


def test_did_key_known_vector() -> None:
    # did:key spec example (Ed25519): the method-specific id is the Multikey itself.
    did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    assert public_key_from_did_key(did).multibase() == did[8:]


@pytest.mark.parametrize(
    "bad",
    ["did:key:", "did:key:zzzz", "did:key:m123", "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK#other", "nope"],
)
def test_did_key_garbage_is_a_clear_error(bad: str) -> None:
    with pytest.raises(DidError):
        public_key_from_did_key(bad)


def test_vm_from_another_did_is_refused() -> None:
    a, b = (did_key_from_public(KeyPair.generate().public) for _ in range(2))
    doc = did_key_document(a)
    with pytest.raises(DidError, match="does not belong"):
        doc.public_key(b + "#" + b[8:])
    with pytest.raises(DidError, match="no verification method"):
        doc.public_key(a + "#other")


@pytest.mark.parametrize(
    "did,url",
    [
        ("did:web:w3c-ccg.github.io", "https://w3c-ccg.github.io/.well-known/did.json"),
        ("did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"),
        ("did:web:example.com%3A3000:user:alice", "https://example.com:3000/user/alice/did.json"),
        ("did:web:example.com%3a3000", "https://example.com:3000/.well-known/did.json"),
    ],
)
def test_did_web_to_url_spec_examples(did: str, url: str) -> None:
    assert did_web_to_url(did) == url


def test_http_only_for_loopback_when_enabled() -> None:
    assert did_web_to_url("did:web:127.0.0.1%3A8080") == "https://127.0.0.1:8080/.well-known/did.json"
    assert did_web_to_url("did:web:127.0.0.1%3A8080", allow_http_loopback=True).startswith("http://127.0.0.1:8080/")
    assert did_web_to_url("did:web:localhost:jp", allow_http_loopback=True) == "http://localhost/jp/did.json"
    assert did_web_to_url("did:web:example.com", allow_http_loopback=True).startswith("https://")
    assert did_web_to_url("did:web:%5B%3A%3A1%5D%3A9000", allow_http_loopback=True) == "http://[::1]:9000/.well-known/did.json"


@pytest.mark.parametrize(
    "bad",
    [
        "did:web:",
        "did:web:example.com::x",
        "did:web:example.com%2Fevil",
        "did:web:user%40example.com",
        "did:web:example.com%3A99999",
        "did:web:example.com%3Aabc",
        "did:web:example.com:..",
        "did:web:exa_mple.com",
        "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
    ],
)
def test_did_web_to_url_rejects_bad_dids(bad: str) -> None:
    with pytest.raises(DidError):
        did_web_to_url(bad)


def test_did_web_from_url_round_trips() -> None:
    for url in ["https://example.com", "https://example.com:8443/jp/acme", "http://127.0.0.1:5000/tw"]:
        did = did_web_from_url(url)
        assert did_web_to_url(did, allow_http_loopback=True).startswith(url.rstrip("/"))
    assert did_web_from_url("https://example.com:8443/jp/acme") == "did:web:example.com%3A8443:jp:acme"
    assert did_web_from_url("https://example.com/.well-known/did.json") == "did:web:example.com"


@pytest.mark.parametrize("fmt", ["Multikey", "JsonWebKey"])
def test_connector_document(fmt: str) -> None:
    did = did_web_from_url("https://connector.jp.example:8443/acme")
    key = KeyPair.generate("p256")
    doc = did_web_document(
        did,
        [("key-1", key.public)],
        key_format=fmt,  # type: ignore[arg-type]
        services=[
            credential_service(did, "https://connector.jp.example:8443/acme/cs"),
            data_service(did, "https://connector.jp.example:8443/acme/api/dsp"),
        ],
    )
    data = doc.to_json()
    assert data["id"] == did and data["verificationMethod"][0]["type"] == fmt
    assert "keyAgreement" not in data
    again = DidDocument.parse(data, expected_id=did)
    assert again.public_key(f"{did}#key-1", "capabilityInvocation").raw() == key.public.raw()
    dsp = again.services_of_type("DataService")[0]
    assert dsp.serviceEndpoint == "https://connector.jp.example:8443/acme/api/dsp/.well-known/dspace-version"
    assert again.services_of_type("CredentialService")[0].serviceEndpoint.endswith("/cs")


def test_relationship_is_enforced() -> None:
    did = "did:web:example.com"
    key = KeyPair.generate()
    doc = did_web_document(did, key.public, relationships=["assertionMethod"])
    assert doc.public_key(did + "#key-1", "assertionMethod")
    with pytest.raises(DidError, match="capabilityInvocation"):
        doc.public_key(did + "#key-1", "capabilityInvocation")
    # relative references in relationships are resolved against the document id
    raw = doc.to_json()
    raw["authentication"] = ["#key-1"]
    assert DidDocument.parse(raw).public_key("#key-1", "authentication").raw() == key.public.raw()


@pytest.mark.parametrize(
    "doc,reason",
    [
        ([], "JSON object"),
        ({"id": "not-a-did"}, "id"),
        ({"id": "did:web:x.example", "verificationMethod": "x"}, "verificationMethod"),
    ],
)
def test_bad_documents(doc: object, reason: str) -> None:
    with pytest.raises(DidError, match=reason):
        DidDocument.parse(doc)


def test_private_jwk_in_document_is_refused() -> None:
    key = KeyPair.generate()
    did = "did:web:x.example"
    raw = did_web_document(did, key.public, key_format="JsonWebKey").to_json()
    raw["verificationMethod"][0]["publicKeyJwk"] = key.private_jwk()
    with pytest.raises(DidError, match="private key"):
        DidDocument.parse(raw).public_key(did + "#key-1")
