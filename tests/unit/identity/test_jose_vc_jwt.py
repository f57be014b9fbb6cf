"""vc+jwt / vp+jwt: round trips per key type and the attacks a verifier must refuse."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from identity.did import did_key_from_public, did_key_vm_id, resolve_verification_method
from identity.jose import (
    VC_V2_CONTEXT,
    JoseError,
    envelope,
    issue_vc_jwt,
    issue_vp_jwt,
    sign_jwt,
    split_jwt,
    unenvelope,
    verify_vc_jwt,
    verify_vp_jwt,
)
from identity.keys import KeyPair


def _vc(issuer: str) -> dict:
    return {
        "@context": [VC_V2_CONTEXT],
        "type": ["VerifiableCredential"],
        "issuer": issuer,
        "credentialSubject": {"id": "did:web:member.example", "name": "Acme"},
    }


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("key_type,alg", [("ed25519", "EdDSA"), ("p256", "ES256"), ("p384", "ES384")])
def test_vc_jwt_round_trip(key_type: str, alg: str) -> None:
    key = KeyPair.generate(key_type)
    issuer, kid = did_key_from_public(key.public), did_key_vm_id(key.public)
    token = issue_vc_jwt(_vc(issuer), key, kid=kid)
    header, payload = split_jwt(token)
    assert header == {"alg": alg, "typ": "vc+jwt", "cty": "vc", "kid": kid}
    assert payload == _vc(issuer)  # the payload IS the credential
    credential, used = verify_vc_jwt(token, resolve_verification_method)
    assert credential == _vc(issuer) and used == kid


def test_tampered_payload_fails() -> None:
    key = KeyPair.generate()
    issuer, kid = did_key_from_public(key.public), did_key_vm_id(key.public)
    head, _, sig = issue_vc_jwt(_vc(issuer), key, kid=kid).split(".")
    forged = _vc(issuer)
    forged["credentialSubject"]["name"] = "Mallory"
    with pytest.raises(JoseError, match="signature"):
        verify_vc_jwt(f"{head}.{_b64(forged)}.{sig}", resolve_verification_method)


def test_alg_none_and_unknown_alg_refused() -> None:
    key = KeyPair.generate()
    issuer, kid = did_key_from_public(key.public), did_key_vm_id(key.public)
    unsigned = f"{_b64({'alg': 'none', 'typ': 'vc+jwt', 'kid': kid})}.{_b64(_vc(issuer))}."
    with pytest.raises(JoseError, match="'none'"):
        verify_vc_jwt(unsigned, resolve_verification_method)
    hs = jwt.encode(_vc(issuer), "secret-secret-secret-secret-secret", algorithm="HS256", headers={"typ": "vc+jwt", "kid": kid})
    with pytest.raises(JoseError, match="not allowed"):
        verify_vc_jwt(hs, resolve_verification_method)


def test_alg_must_match_the_key() -> None:
    ed, p256 = KeyPair.generate("ed25519"), KeyPair.generate("p256")
    issuer, kid = did_key_from_public(ed.public), did_key_vm_id(ed.public)
    # signed with a P-256 key but claiming the Ed25519 issuer's kid
    token = sign_jwt(_vc(issuer), p256, kid=kid, typ="vc+jwt")
    with pytest.raises(JoseError, match="does not match the Ed25519 key"):
        verify_vc_jwt(token, resolve_verification_method)


def test_kid_of_another_did_refused() -> None:
    key, other = KeyPair.generate(), KeyPair.generate()
    issuer = did_key_from_public(key.public)
    token = sign_jwt(_vc(issuer), other, kid=did_key_vm_id(other.public), typ="vc+jwt")
    with pytest.raises(JoseError, match="not a key of the issuer"):
        verify_vc_jwt(token, resolve_verification_method)
    with pytest.raises(JoseError, match="not a verification method of the issuer"):
        issue_vc_jwt(_vc(issuer), other, kid=did_key_vm_id(other.public))


def test_wrong_typ_and_expiry() -> None:
    key = KeyPair.generate()
    issuer, kid = did_key_from_public(key.public), did_key_vm_id(key.public)
    as_jwt = sign_jwt(_vc(issuer), key, kid=kid, typ="JWT")
    with pytest.raises(JoseError, match="typ 'JWT'"):
        verify_vc_jwt(as_jwt, resolve_verification_method)
    expired = sign_jwt({**_vc(issuer), "exp": int(time.time()) - 3600}, key, kid=kid, typ="vc+jwt")
    with pytest.raises(JoseError, match="expired"):
        verify_vc_jwt(expired, resolve_verification_method)
    future = sign_jwt({**_vc(issuer), "nbf": int(time.time()) + 3600}, key, kid=kid, typ="vc+jwt")
    with pytest.raises(JoseError, match="not valid before"):
        verify_vc_jwt(future, resolve_verification_method)


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c", "!!!.???.x", 42])
def test_garbage_tokens(token: object) -> None:
    with pytest.raises(JoseError):
        verify_vc_jwt(token, resolve_verification_method)  # type: ignore[arg-type]


def test_vp_jwt_audience_and_nonce() -> None:
    holder_key = KeyPair.generate("p256")
    holder, kid = did_key_from_public(holder_key.public), did_key_vm_id(holder_key.public)
    issuer_key = KeyPair.generate()
    vc = issue_vc_jwt(_vc(did_key_from_public(issuer_key.public)), issuer_key, kid=did_key_vm_id(issuer_key.public))
    vp = {"@context": [VC_V2_CONTEXT], "type": ["VerifiablePresentation"], "holder": holder,
          "verifiableCredential": [envelope(vc)]}
    token = issue_vp_jwt(vp, holder_key, kid=kid, audience="did:web:verifier.example", nonce="n-1")
    claims, used = verify_vp_jwt(token, resolve_verification_method, audience="did:web:verifier.example", nonce="n-1")
    assert used == kid and claims["holder"] == holder
    assert unenvelope(claims["verifiableCredential"][0]) == ("application/vc+jwt", vc)
    with pytest.raises(JoseError, match="audience"):
        verify_vp_jwt(token, resolve_verification_method, audience="did:web:someone.else")
    with pytest.raises(JoseError, match="nonce"):
        verify_vp_jwt(token, resolve_verification_method, nonce="n-2")
    with pytest.raises(JoseError, match="typ 'vp\\+jwt'"):
        verify_vc_jwt(token, resolve_verification_method)
    stale = issue_vp_jwt(vp, holder_key, kid=kid, lifetime=60, now=time.time() - 3600)
    with pytest.raises(JoseError, match="expired"):
        verify_vp_jwt(stale, resolve_verification_method)


def test_jwt_with_characters_outside_base64url_is_refused() -> None:
    """Lenient base64 would skip a stray character; the token's text must be what is read."""
    import pytest as _pytest

    from identity.jose import JoseError, sign_jwt, split_jwt, verify_jwt
    from identity.keys import KeyPair as _KeyPair

    key = _KeyPair.generate("ed25519")
    token = sign_jwt({"iss": "did:example:a", "exp": 4102444800}, key, kid="did:example:a#k", typ="JWT")
    head, body, sig = token.split(".")
    for bad in (f"{head}.{body[:5]}!{body[5:]}.{sig}", f"{head}.{body}é.{sig}", f"{head}*.{body}.{sig}"):
        with _pytest.raises(JoseError):
            split_jwt(bad)
    with _pytest.raises(JoseError):
        verify_jwt(f"{head}.{body}.{sig}é", key.public, expected_types=["JWT"])
    assert verify_jwt(token, key.public, expected_types=["JWT"])[1]["iss"] == "did:example:a"
