"""Eclipse Decentralized Claims Protocol (DCP) 1.0: the identity half of connector-to-connector calls.

A caller sends a *self-issued ID token* (iss = sub = its DID, aud = the partner's DID, short
lived, unique `jti`, signed with a key listed under `capabilityInvocation` or `authentication`)
carrying in `token` an access token for its own Credential Service. The partner validates the
ID token, then asks that Credential Service for a presentation (`PresentationQueryMessage` ->
`PresentationResponseMessage`) and verifies the credentials inside against its trust lists.

Access tokens here are JWTs the holder signs for one verifier (iss = aud = holder, sub =
verifier) with the granted scopes, so the holder's Credential Service can check them offline.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from identity.credentials import (
    CredentialVerification,
    PresentationVerification,
    build_credential,
    build_presentation,
    default_cryptosuite,
    sign_credential_di,
    sign_credential_jwt,
    sign_presentation_di,
    sign_presentation_jwt,
    verify_presentation,
)
from identity.did.document import Relationship, split_did_url
from identity.did.errors import DidError
from identity.did.resolver import DidResolver
from identity.errors import IdentityError
from identity.jose import JoseError, absolute_kid, sign_jwt, split_jwt, verify_jwt
from identity.keys import KeyPair, PublicKey
from identity.status import ListFetcher, check_status
from identity.trust import TrustStore

DCP_CONTEXT = "https://w3id.org/dspace-dcp/v1.0/dcp.jsonld"
SCOPE_TYPE_ALIAS = "org.eclipse.dspace.dcp.vc.type"
SCOPE_ID_ALIAS = "org.eclipse.dspace.dcp.vc.id"
MAX_TOKEN_LIFETIME = 300
MEMBERSHIP_TYPE = "MembershipCredential"
KAKEHASHI_NS = "https://w3id.org/kakehashi/v1#"
# Inline so a DI-signed membership credential defines every term it uses without a new
# pinned context file (the VC v2 context is @protected; these terms do not collide with it).
MEMBERSHIP_CONTEXT: dict[str, Any] = {
    MEMBERSHIP_TYPE: KAKEHASHI_NS + MEMBERSHIP_TYPE,
    "Membership": KAKEHASHI_NS + "Membership",
    "memberOf": KAKEHASHI_NS + "memberOf",
    "since": {"@id": KAKEHASHI_NS + "since", "@type": "http://www.w3.org/2001/XMLSchema#dateTime"},
}
KEY_RELATIONSHIPS: tuple[Relationship, ...] = ("capabilityInvocation", "authentication")


_ID_TOKEN_TYPES = frozenset({"JWT", None})


class DcpError(IdentityError):
    """A DCP token or message failed a named check (audience, expiry, replay, key, trust...)."""


# -- self-issued ID tokens ----------------------------------------------------------------
ReplayCheck = Callable[[str, str, float], Awaitable[bool]]
"""`(issuer, jti, exp) -> True` the first time a token id is seen, False for a replay."""


class MemoryReplayCache:
    """In-process replay check; a replicated connector plugs in a store-backed one instead."""

    def __init__(self, clock: Callable[[], float] = time.time, max_entries: int = 100_000) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._clock = clock
        self.max_entries = max_entries

    async def __call__(self, issuer: str, jti: str, exp: float) -> bool:
        now = self._clock()
        if len(self._seen) >= self.max_entries:
            self._seen = {k: v for k, v in self._seen.items() if v > now}
            if len(self._seen) >= self.max_entries:
                raise DcpError("replay cache is full; refusing tokens until some expire")
        key = (issuer, jti)
        if key in self._seen and self._seen[key] > now:
            return False
        self._seen[key] = exp + 60
        return True


@dataclass(frozen=True)
class SelfIssuedToken:
    issuer: str
    audience: list[str]
    jti: str
    issued_at: float
    expires_at: float
    access_token: str | None
    kid: str
    claims: dict[str, Any]


def create_id_token(
    *,
    holder_did: str,
    key: KeyPair,
    kid: str,
    audience: str,
    access_token: str | None = None,
    lifetime: int = MAX_TOKEN_LIFETIME,
    now: float | None = None,
    jti: str | None = None,
) -> str:
    if split_did_url(kid)[0] != holder_did:
        raise DcpError(f"kid {kid} is not a verification method of {holder_did}")
    if not 0 < lifetime <= MAX_TOKEN_LIFETIME:
        raise DcpError(f"ID token lifetime must be 1..{MAX_TOKEN_LIFETIME} s, got {lifetime}")
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": holder_did,
        "sub": holder_did,
        "aud": audience,
        "jti": jti or str(uuid.uuid4()),
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
    }
    if access_token is not None:
        claims["token"] = access_token
    return sign_jwt(claims, key, kid=kid, typ="JWT")


async def _signing_key(resolver: DidResolver, kid: str, relationships: Sequence[Relationship]) -> PublicKey:
    did, _ = split_did_url(kid)
    try:
        doc = await resolver.resolve(did)
    except IdentityError as exc:
        raise DcpError(str(exc)) from None
    problems = []
    for rel in relationships:
        try:
            return doc.public_key(kid, rel)
        except DidError as exc:
            problems.append(str(exc))
    raise DcpError("; ".join(problems))


def _require_str(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise DcpError(f"token claim {name!r} is missing or not a string")
    return value


def _require_num(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DcpError(f"token claim {name!r} is missing or not a number")
    return float(value)


async def validate_id_token(
    token: str,
    resolver: DidResolver,
    *,
    audience: str,
    replay_check: ReplayCheck,
    now: float | None = None,
    max_lifetime: int = MAX_TOKEN_LIFETIME,
    leeway: float = 30,
) -> SelfIssuedToken:
    """Validate a self-issued ID token addressed to `audience` (our DID); raise DcpError naming
    the failed check. The replay check runs last, so only authentic tokens consume a jti."""
    now = time.time() if now is None else now
    try:
        header, claims = split_jwt(token)
    except JoseError as exc:
        raise DcpError(f"ID token is malformed: {exc}") from None
    iss, sub = _require_str(claims, "iss"), _require_str(claims, "sub")
    if iss != sub:
        raise DcpError(f"ID token iss {iss} and sub {sub} differ; a self-issued token must have iss = sub")
    try:
        split_did_url(iss)
        kid = absolute_kid(header.get("kid"), iss)
        kid_did = split_did_url(kid)[0]
    except (DidError, JoseError) as exc:
        raise DcpError(f"ID token: {exc}") from None
    if kid_did != iss:
        raise DcpError(f"ID token is signed with {kid}, which is not a key of its issuer {iss}")
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    if audience not in auds:
        raise DcpError(f"ID token audience {aud!r} is not us ({audience})")
    jti = _require_str(claims, "jti")
    iat, exp = _require_num(claims, "iat"), _require_num(claims, "exp")
    if exp - iat > max_lifetime:
        raise DcpError(f"ID token lifetime {int(exp - iat)} s exceeds the {max_lifetime} s maximum")
    key = await _signing_key(resolver, kid, KEY_RELATIONSHIPS)
    try:
        _, claims = verify_jwt(token, key, expected_types=_ID_TOKEN_TYPES, now=now, leeway=leeway,
                               parsed=(header, claims))
    except JoseError as exc:
        raise DcpError(f"ID token rejected: {exc}") from None
    access = claims.get("token")
    if access is not None and not isinstance(access, str):
        raise DcpError("ID token claim 'token' must be a string")
    if not await replay_check(iss, jti, exp):
        raise DcpError(f"ID token {jti} from {iss} was already used (replay)")
    return SelfIssuedToken(iss, [a for a in auds if isinstance(a, str)], jti, iat, exp, access, kid, claims)


# -- Credential Service access tokens -----------------------------------------------------
def create_access_token(
    *,
    holder_did: str,
    key: KeyPair,
    kid: str,
    verifier_did: str,
    scopes: Sequence[str],
    lifetime: int = MAX_TOKEN_LIFETIME,
    now: float | None = None,
) -> str:
    """A token the verifier passes back to our Credential Service, valid only for it and `scopes`."""
    for s in scopes:
        parse_scope(s)
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": holder_did, "aud": holder_did, "sub": verifier_did, "scope": " ".join(scopes),
        "jti": str(uuid.uuid4()), "iat": issued, "exp": issued + lifetime,
    }
    return sign_jwt(claims, key, kid=kid, typ="JWT")


async def validate_access_token(
    token: str,
    resolver: DidResolver,
    *,
    holder_did: str,
    presenter_did: str,
    now: float | None = None,
) -> list[str]:
    """Check an access token our Credential Service issued; return the granted scopes."""
    try:
        header, claims = split_jwt(token)
        kid = absolute_kid(header.get("kid"), holder_did)
    except JoseError as exc:
        raise DcpError(f"access token is malformed: {exc}") from None
    if claims.get("iss") != holder_did or claims.get("aud") != holder_did or split_did_url(kid)[0] != holder_did:
        raise DcpError(f"access token was not issued by this Credential Service ({holder_did})")
    if claims.get("sub") != presenter_did:
        raise DcpError(f"access token was issued to {claims.get('sub')!r}, not to {presenter_did}")
    key = await _signing_key(resolver, kid, KEY_RELATIONSHIPS)
    try:
        _, claims = verify_jwt(token, key, expected_types=_ID_TOKEN_TYPES, now=now, parsed=(header, claims))
    except JoseError as exc:
        raise DcpError(f"access token rejected: {exc}") from None
    if "exp" not in claims:
        raise DcpError("access token has no expiry")
    scope = claims.get("scope", "")
    return scope.split() if isinstance(scope, str) else []


# -- scopes -----------------------------------------------------------------------------
def parse_scope(scope: str) -> tuple[str, str, str]:
    """`org.eclipse.dspace.dcp.vc.type:MembershipCredential[:read]` -> (alias, value, operation)."""
    if not isinstance(scope, str):
        raise DcpError("scope must be a string")
    parts = scope.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise DcpError(f"scope {scope!r} is not '<alias>:<discriminator>[:<operation>]'")
    operation = parts[2] if len(parts) == 3 else "read"
    if operation not in ("read", "*", "all"):
        raise DcpError(f"scope {scope!r} has unsupported operation {operation!r}")
    return parts[0], parts[1], operation


def scope_for_type(credential_type: str) -> str:
    return f"{SCOPE_TYPE_ALIAS}:{credential_type}:read"


def _credential_view(credential: dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(credential, str):
        return split_jwt(credential)[1]
    return credential


def credentials_for_scopes(
    credentials: Sequence[dict[str, Any] | str], scopes: Sequence[str], granted: Sequence[str] | None = None
) -> list[dict[str, Any] | str]:
    """The stored credentials a query may see: requested scopes, limited to the granted ones."""
    wanted = [parse_scope(s) for s in scopes]
    if granted is not None:
        allowed = {parse_scope(s)[:2] for s in granted}
        denied = [f"{a}:{v}" for a, v, _ in wanted if (a, v) not in allowed]
        if denied:
            raise DcpError(f"scope(s) not granted by the access token: {', '.join(denied)}")
    out: list[dict[str, Any] | str] = []
    for cred in credentials:
        view = _credential_view(cred)
        types = view.get("type", [])
        types = types if isinstance(types, list) else [types]
        for alias, value, _ in wanted:
            if (alias == SCOPE_TYPE_ALIAS and value in types) or (alias == SCOPE_ID_ALIAS and view.get("id") in (value, f"urn:uuid:{value}")):
                out.append(cred)
                break
    return out


# -- messages ---------------------------------------------------------------------------
def _check_context(value: Any) -> Any:
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or DCP_CONTEXT not in value:
        raise ValueError(f"@context must include {DCP_CONTEXT}")
    return value


class PresentationQueryMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    context: list[str | dict[str, Any]] = Field(default_factory=lambda: [DCP_CONTEXT], alias="@context")
    type: Literal["PresentationQueryMessage"] = "PresentationQueryMessage"
    scope: list[str] | None = None
    presentationDefinition: dict[str, Any] | None = None

    @field_validator("context", mode="before")
    @classmethod
    def _ctx(cls, value: Any) -> Any:
        return _check_context(value)

    @model_validator(mode="after")
    def _one_of(self) -> PresentationQueryMessage:
        if (self.scope is None) == (self.presentationDefinition is None):
            raise ValueError("exactly one of scope and presentationDefinition is required")
        for s in self.scope or []:
            try:
                parse_scope(s)
            except DcpError as exc:
                raise ValueError(str(exc)) from None
        return self

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class PresentationResponseMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    context: list[str | dict[str, Any]] = Field(default_factory=lambda: [DCP_CONTEXT], alias="@context")
    type: Literal["PresentationResponseMessage"] = "PresentationResponseMessage"
    presentation: list[str | dict[str, Any]]
    presentationSubmission: dict[str, Any] | None = None

    @field_validator("context", mode="before")
    @classmethod
    def _ctx(cls, value: Any) -> Any:
        return _check_context(value)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


def parse_message(data: object, model: type[BaseModel]) -> Any:
    if not isinstance(data, dict):
        raise DcpError(f"{model.__name__} must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        raise DcpError(f"invalid {model.__name__}: {where}: {first['msg'].removeprefix('Value error, ')}") from None


# -- membership credentials ---------------------------------------------------------------
def membership_credential(
    *,
    authority_did: str,
    member_did: str,
    data_space: str,
    member_name: str | None = None,
    since: datetime | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    credential_status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An unsigned MembershipCredential: `member_did` belongs to `data_space` (per its authority)."""
    start = since or valid_from or datetime.now(timezone.utc)
    subject: dict[str, Any] = {
        "id": member_did,
        "type": "Membership",
        "memberOf": data_space,
        "since": start.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }
    if member_name is not None:
        subject["name"] = member_name
    return build_credential(
        issuer=authority_did, subject=subject, types=[MEMBERSHIP_TYPE], contexts=[MEMBERSHIP_CONTEXT],
        valid_from=valid_from, valid_until=valid_until, credential_status=credential_status,
    )


def issue_membership_credential(
    credential: dict[str, Any],
    key: KeyPair,
    *,
    verification_method: str,
    format: Literal["jwt", "di"] = "jwt",
    cryptosuite: str | None = None,
) -> dict[str, Any] | str:
    """Secure a membership credential; DI defaults to the RDFC suite that fits the key."""
    if format == "jwt":
        return sign_credential_jwt(credential, key, verification_method=verification_method)
    suite = cryptosuite or default_cryptosuite(key, "rdfc")
    return sign_credential_di(credential, key, verification_method=verification_method, cryptosuite=suite)


def build_membership_presentation(
    *,
    holder_did: str,
    key: KeyPair,
    kid: str,
    credentials: Sequence[dict[str, Any] | str],
    audience: str,
    nonce: str | None = None,
    format: Literal["jwt", "di"] = "jwt",
    cryptosuite: str | None = None,
) -> dict[str, Any] | str:
    """A signed VP over the holder's membership credentials, bound to the verifier (`audience`)."""
    vp = build_presentation(holder_did, credentials)
    if format == "jwt":
        return sign_presentation_jwt(vp, key, verification_method=kid, audience=audience, nonce=nonce)
    return sign_presentation_di(vp, key, verification_method=kid, domain=audience, challenge=nonce, cryptosuite=cryptosuite)


@dataclass
class Membership:
    data_space: str
    issuer: str
    trusted_by: list[str]
    credential: dict[str, Any]


@dataclass
class VerifiedClaims:
    """What the policy engine gets about a partner: who it is and where it is a trusted member."""

    holder: str
    memberships: list[Membership] = field(default_factory=list)
    credentials: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    valid_until: datetime | None = None

    @property
    def trusted_by(self) -> list[str]:
        out: list[str] = []
        for m in self.memberships:
            out += [n for n in m.trusted_by if n not in out]
        return out


def _valid_until(cred: dict[str, Any]) -> datetime | None:
    value = cred.get("validUntil")
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


async def verify_presentations(
    presentations: Sequence[dict[str, Any] | str],
    resolver: DidResolver,
    trust: TrustStore,
    *,
    holder_did: str,
    audience: str,
    nonce: str | None = None,
    status_lists: ListFetcher | None = None,
    data_space: str | None = None,
    now: datetime | None = None,
) -> VerifiedClaims:
    """Verify a PresentationResponseMessage's presentations for `holder_did` (the ID token's iss).

    Each VP must be the holder's and addressed to us; each credential must verify, be about the
    holder, come from an issuer some data space (or `data_space` only) trusts for its type, and
    not be revoked. Failing credentials are left out with a reason; a failing VP raises."""
    now = now or datetime.now(timezone.utc)
    claims = VerifiedClaims(holder_did)
    for i, vp in enumerate(presentations):
        outcome: PresentationVerification = await verify_presentation(vp, resolver, audience=audience, nonce=nonce, now=now)
        if not all(c.ok is not False for c in outcome.checks) or not any(c.ok for c in outcome.checks):
            raise DcpError(f"presentation {i} rejected: " + "; ".join(f"{c.name}: {c.reason}" for c in outcome.checks if c.ok is False))
        if outcome.holder != holder_did:
            raise DcpError(f"presentation {i} is held by {outcome.holder}, not by the caller {holder_did}")
        for j, cred in enumerate(outcome.credentials):
            reason = await _judge_credential(cred, resolver, trust, holder_did, status_lists, data_space, now)
            if reason:
                claims.rejected.append(f"presentation {i} credential {j}: {reason}")
                continue
            assert cred.credential is not None
            claims.credentials.append(cred.credential)
            until = _valid_until(cred.credential)
            if until is not None and (claims.valid_until is None or until < claims.valid_until):
                claims.valid_until = until
            if MEMBERSHIP_TYPE in cred.types:
                subject = cred.credential.get("credentialSubject", {})
                space = subject.get("memberOf") if isinstance(subject, dict) else None
                trusted = trust.is_trusted(cred.issuer or "", [MEMBERSHIP_TYPE], data_space)
                claims.memberships.append(Membership(str(space), cred.issuer or "", trusted, cred.credential))
    return claims


async def _judge_credential(
    cred: CredentialVerification, resolver: DidResolver, trust: TrustStore, holder: str,
    status_lists: ListFetcher | None, data_space: str | None, now: datetime,
) -> str | None:
    if not cred.ok:
        return "; ".join(cred.reasons) or "did not verify"
    assert cred.credential is not None
    subjects = cred.credential.get("credentialSubject")
    subjects = subjects if isinstance(subjects, list) else [subjects]
    if not any(isinstance(s, dict) and s.get("id") == holder for s in subjects):
        return f"credential subject is not the caller {holder}"
    trusted = trust.is_trusted(cred.issuer or "", cred.types, data_space)
    if not trusted:
        where = f"data space {data_space}" if data_space else "any data space"
        return f"issuer {cred.issuer} is not trusted by {where} for {[t for t in cred.types if t != 'VerifiableCredential']}"
    if cred.credential.get("credentialStatus") is not None:
        if status_lists is None:
            return "credential has a status entry but no status list source is configured"
        status = await check_status(cred.credential, resolver, status_lists, now=now)
        if status.ok is False:
            return f"status: {status.reason}"
    return None
