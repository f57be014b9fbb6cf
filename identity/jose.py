"""VC-JOSE-COSE: credentials and presentations secured as JWS compact JWTs (`vc+jwt`, `vp+jwt`).

The JWT claims set *is* the credential (or presentation) JSON; the protected header names the
algorithm, `typ` and the signing verification method as `kid`. Signature checking is done
by pyjwt with exactly one algorithm allowed: the one the resolved key implies, so `alg: none`
and algorithm substitution cannot pass. Time claims are checked here against an explicit
`now` so callers (and tests) control the clock.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

import jwt

from identity.did.document import split_did_url
from identity.did.errors import DidError
from identity.errors import IdentityError
from identity.keys import KeyPair, PublicKey

VC_JWT_TYPES = frozenset({"vc+jwt", "vc+ld+json+jwt"})
VP_JWT_TYPES = frozenset({"vp+jwt", "vp+ld+json+jwt"})
ALLOWED_ALGS = frozenset({"EdDSA", "ES256", "ES384"})
VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
MAX_JWT_LENGTH = 512 * 1024
DEFAULT_LEEWAY = 60


class JoseError(IdentityError):
    """A JWT is malformed, has the wrong type or algorithm, is expired, or its signature fails."""


def _b64u_json(part: str, what: str) -> dict[str, Any]:
    try:
        # Strict base64url: a character outside the alphabet is an error, not skipped
        # (the signature is checked over the token's own text, which must be what is read).
        raw = base64.b64decode(part + "=" * (-len(part) % 4), altchars=b"-_", validate=True)
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError, binascii.Error):
        raise JoseError(f"JWT {what} is not base64url-encoded JSON") from None
    if not isinstance(value, dict):
        raise JoseError(f"JWT {what} must be a JSON object")
    return value


def split_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWS, unverified (to find the key before verifying)."""
    if not isinstance(token, str):
        raise JoseError("JWT must be a string")
    if len(token) > MAX_JWT_LENGTH:
        raise JoseError(f"JWT is longer than {MAX_JWT_LENGTH} characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise JoseError(f"JWT must have 3 dot-separated parts, found {len(parts)}")
    header = _b64u_json(parts[0], "header")
    claims = _b64u_json(parts[1], "payload")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none":
        raise JoseError("JWT header alg is missing or 'none'; unsigned tokens are refused")
    if alg not in ALLOWED_ALGS:
        raise JoseError(f"JWT header alg {alg!r} is not allowed (EdDSA, ES256, ES384)")
    if "crit" in header:
        raise JoseError("JWT header has 'crit' extensions, which are not supported")
    return header, claims


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_TIME_CLAIMS = ("exp", "iat", "nbf")
_JWS_ALGS = {"Ed25519": "EdDSA", "P-256": "ES256", "P-384": "ES384"}


def sign_jwt(
    claims: dict[str, Any],
    key: KeyPair,
    *,
    kid: str,
    typ: str,
    cty: str | None = None,
) -> str:
    """A compact JWS over ``claims`` (the same bytes pyjwt would sign: sorted header, compact
    JSON, ASCII escapes), signed directly with the key: EdDSA, or ES256/ES384 as r||s."""
    alg = _JWS_ALGS[key.key_type]
    headers: dict[str, Any] = {"alg": alg, "typ": typ, "kid": kid}
    if cty is not None:
        headers["cty"] = cty
    if not isinstance(claims, dict) or any(isinstance(claims.get(n), datetime) for n in _TIME_CLAIMS):
        # datetime time claims: let pyjwt convert them as it always did
        return jwt.encode(claims, key.cryptography_key(), algorithm=alg, headers=headers)
    head = _b64u(json.dumps(headers, separators=(",", ":"), sort_keys=True).encode())
    body = _b64u(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{head}.{body}"
    return f"{signing_input}.{_b64u(key.sign(signing_input.encode('ascii')))}"


def absolute_kid(kid: object, base_did: object) -> str:
    """A `kid` as a DID URL; a bare fragment is taken relative to `base_did`."""
    if not isinstance(kid, str) or not kid:
        raise JoseError("JWT header has no kid naming the verification method")
    if kid.startswith("#"):
        if not isinstance(base_did, str):
            raise JoseError(f"JWT kid {kid!r} is relative but the token names no DID to resolve it against")
        return base_did + kid
    return kid


def check_time_claims(claims: dict[str, Any], now: float, leeway: float) -> None:
    for name in ("exp", "nbf", "iat"):
        if name in claims and (isinstance(claims[name], bool) or not isinstance(claims[name], (int, float))):
            raise JoseError(f"JWT claim {name} must be a number (seconds since the epoch)")
    if "exp" in claims and now > claims["exp"] + leeway:
        raise JoseError(f"JWT expired at {int(claims['exp'])} (now {int(now)})")
    if "nbf" in claims and now + leeway < claims["nbf"]:
        raise JoseError(f"JWT not valid before {int(claims['nbf'])} (now {int(now)})")
    if "iat" in claims and now + leeway < claims["iat"]:
        raise JoseError(f"JWT issued in the future (iat {int(claims['iat'])}, now {int(now)})")


def _check_typ(header: dict[str, Any], expected_types: Collection[str]) -> None:
    typ = header.get("typ")
    if typ not in expected_types:
        raise JoseError(f"JWT typ {typ!r} is not one of {sorted(expected_types)}")


def verify_jwt(
    token: str,
    public_key: PublicKey,
    *,
    expected_types: Collection[str],
    now: float | None = None,
    leeway: float = DEFAULT_LEEWAY,
    parsed: tuple[dict[str, Any], dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check type, algorithm (must be the key's), signature and time claims; return header, claims.

    ``parsed`` is ``split_jwt(token)`` when the caller has it already. The signature is checked
    over the token's own signing input with the resolved key (one algorithm: the key's).
    """
    header, claims = parsed if parsed is not None else split_jwt(token)
    _check_typ(header, expected_types)
    if header["alg"] != public_key.jws_alg:
        raise JoseError(
            f"JWT alg {header['alg']} does not match the {public_key.key_type} key (expects {public_key.jws_alg})"
        )
    if header.get("b64", True) is not True:
        raise JoseError("JWT header b64 must be true (unencoded payloads are not supported)")
    signing_input, _, sig_part = token.rpartition(".")
    try:
        signature = base64.b64decode(sig_part + "=" * (-len(sig_part) % 4), altchars=b"-_", validate=True)
    except (ValueError, binascii.Error):
        raise JoseError("JWT rejected: the signature is not base64url") from None
    if not signing_input.isascii():
        raise JoseError("JWT rejected: a compact JWS is ASCII")
    if not public_key.verify(signature, signing_input.encode("ascii")):
        raise JoseError("JWT signature does not verify with the issuer's key")
    check_time_claims(claims, time.time() if now is None else now, leeway)
    return header, claims


def _resolve(resolve_key: Callable[[str], PublicKey], kid: str) -> PublicKey:
    try:
        return resolve_key(kid)
    except (DidError, IdentityError) as exc:
        raise JoseError(f"cannot use key {kid}: {exc}") from None


def _id_of(value: object) -> object:
    return value.get("id") if isinstance(value, dict) else value


# -- vc+jwt -------------------------------------------------------------------------
def issue_vc_jwt(credential: dict[str, Any], key: KeyPair, *, kid: str, iss_claim: bool = False) -> str:
    """Secure a credential as `vc+jwt`; `kid` must be a verification method of the issuer."""
    if "proof" in credential:
        raise JoseError("a vc+jwt credential must not also carry an embedded proof")
    issuer = _id_of(credential.get("issuer"))
    if not isinstance(issuer, str) or split_did_url(kid)[0] != issuer:
        raise JoseError(f"kid {kid} is not a verification method of the issuer {issuer!r}")
    claims = dict(credential)
    if iss_claim:
        claims["iss"] = issuer
    return sign_jwt(claims, key, kid=kid, typ="vc+jwt", cty="vc")


def verify_vc_jwt(
    token: str,
    resolve_key: Callable[[str], PublicKey],
    *,
    now: float | None = None,
    leeway: float = DEFAULT_LEEWAY,
) -> tuple[dict[str, Any], str]:
    """Verify a `vc+jwt`; return the credential and the verification method id that signed it."""
    header, claims = split_jwt(token)
    _check_typ(header, VC_JWT_TYPES)
    issuer = _id_of(claims.get("issuer"))
    if not isinstance(issuer, str):
        raise JoseError("vc+jwt payload has no issuer")
    kid = absolute_kid(header.get("kid"), issuer)
    if split_did_url(kid)[0] != issuer:
        raise JoseError(f"vc+jwt is signed by {kid}, which is not a key of the issuer {issuer}")
    if "iss" in claims and claims["iss"] != issuer:
        raise JoseError(f"vc+jwt iss {claims['iss']!r} differs from the credential issuer {issuer}")
    _, claims = verify_jwt(token, _resolve(resolve_key, kid), expected_types=VC_JWT_TYPES, now=now, leeway=leeway)
    return claims, kid


# -- vp+jwt -------------------------------------------------------------------------
def issue_vp_jwt(
    presentation: dict[str, Any],
    key: KeyPair,
    *,
    kid: str,
    audience: str | None = None,
    nonce: str | None = None,
    lifetime: int | None = 300,
    now: float | None = None,
) -> str:
    holder = _id_of(presentation.get("holder"))
    if not isinstance(holder, str) or split_did_url(kid)[0] != holder:
        raise JoseError(f"kid {kid} is not a verification method of the holder {holder!r}")
    claims = dict(presentation)
    issued = int(time.time() if now is None else now)
    claims["iss"] = holder
    claims["iat"] = issued
    if lifetime is not None:
        claims["exp"] = issued + lifetime
    if audience is not None:
        claims["aud"] = audience
    if nonce is not None:
        claims["nonce"] = nonce
    return sign_jwt(claims, key, kid=kid, typ="vp+jwt", cty="vp")


def verify_vp_jwt(
    token: str,
    resolve_key: Callable[[str], PublicKey],
    *,
    audience: str | None = None,
    nonce: str | None = None,
    now: float | None = None,
    leeway: float = DEFAULT_LEEWAY,
) -> tuple[dict[str, Any], str]:
    """Verify a `vp+jwt` signed by its holder; check audience and nonce when expected."""
    header, claims = split_jwt(token)
    _check_typ(header, VP_JWT_TYPES)
    holder = _id_of(claims.get("holder")) or claims.get("iss")
    if not isinstance(holder, str):
        raise JoseError("vp+jwt names no holder")
    kid = absolute_kid(header.get("kid"), holder)
    if split_did_url(kid)[0] != holder:
        raise JoseError(f"vp+jwt is signed by {kid}, which is not a key of the holder {holder}")
    if "iss" in claims and claims["iss"] != holder:
        raise JoseError(f"vp+jwt iss {claims['iss']!r} differs from the holder {holder}")
    _, claims = verify_jwt(token, _resolve(resolve_key, kid), expected_types=VP_JWT_TYPES, now=now, leeway=leeway)
    if audience is not None:
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if audience not in auds:
            raise JoseError(f"vp+jwt audience {aud!r} does not include {audience}")
    if nonce is not None and claims.get("nonce") != nonce:
        raise JoseError("vp+jwt nonce does not match the one requested")
    return claims, kid


# -- enveloping (VCDM 2.0 §4.13) ------------------------------------------------------
def envelope(token: str, media_type: str = "application/vc+jwt") -> dict[str, Any]:
    kind = "EnvelopedVerifiablePresentation" if media_type.startswith("application/vp") else "EnvelopedVerifiableCredential"
    return {"@context": [VC_V2_CONTEXT], "id": f"data:{media_type},{token}", "type": kind}


def unenvelope(value: dict[str, Any]) -> tuple[str, str]:
    """(media type, token) of an Enveloped credential/presentation `data:` URL."""
    ident = value.get("id")
    if not isinstance(ident, str) or not ident.startswith("data:"):
        raise JoseError("enveloped credential id must be a data: URL")
    meta, sep, token = ident[5:].partition(",")
    if not sep or ";base64" in meta:
        raise JoseError("enveloped credential data: URL must be '<media type>,<compact JWT>'")
    if meta not in ("application/vc+jwt", "application/vp+jwt", "application/vc+ld+json+jwt"):
        raise JoseError(f"unsupported enveloped media type {meta!r}")
    return meta, token
