"""Who is calling the PACT API, and what they may read.

Two kinds of bearer token reach the host: short-lived OAuth2 client-credentials tokens
it issues itself (direct PACT partners), and EDR tokens the connector issued for a
contract agreement (data-space partners). Both resolve to a :class:`Principal`.

Failures map to the PACT codes the conformance tool expects: a token we cannot read or
did not issue -> BadRequest (400); an expired one -> TokenExpired (401); a genuine token
that does not grant this request (wrong audience, footprint outside the agreement,
missing scope) -> AccessDenied (403).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .errors import ErrorKind, PactError

SCOPE_LIST = "footprint:list"
SCOPE_READ = "footprint:read"
SCOPE_EVENTS = "events:write"
SCOPE_VC = "footprint:vc"
DEFAULT_SCOPES = frozenset({SCOPE_LIST, SCOPE_READ, SCOPE_EVENTS})
MAX_TOKEN_LENGTH = 8192
MAX_CACHED_TOKENS = 4096


@dataclass(frozen=True)
class Principal:
    """An authenticated caller and the slice of data it may see."""

    subject: str
    scopes: frozenset[str] = DEFAULT_SCOPES
    footprint_ids: frozenset[str] | None = None  # None: every footprint
    agreement_id: str | None = None
    signed_delivery: bool = False  # footprints as VCs unless the caller asks for plain JSON
    kind: str = "client"  # "client" | "edr"

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise PactError(ErrorKind.ACCESS_DENIED, f"token lacks scope {scope!r}")

    def may_read(self, footprint_id: str) -> bool:
        return self.footprint_ids is None or footprint_id in self.footprint_ids


@runtime_checkable
class PactAuth(Protocol):
    async def authenticate(self, token: str) -> Principal:
        """The caller behind ``token``; raises PactError (400/401/403) otherwise."""
        ...


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    expires_in: int
    scope: str


class ClientAuthError(Exception):
    """An RFC 6749 section 5.2 error from the token endpoint."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


@runtime_checkable
class TokenIssuer(Protocol):
    def issue_token(self, client_id: str, client_secret: str, scope: str | None) -> TokenGrant: ...

    def discovery(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ClientRecord:
    client_id: str
    secret_sha256: bytes
    scopes: frozenset[str] = DEFAULT_SCOPES
    footprint_ids: frozenset[str] | None = None
    signed_delivery: bool = False


def _hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


class ClientCredentialsAuth:
    """Issues and checks the host's own OAuth2 client-credentials access tokens (JWTs).

    Tokens are HS256 (shared ``secret``) or EdDSA (Ed25519 ``private_key``), bound to
    ``audience``, expire after ``ttl`` seconds. Client secrets are kept as SHA-256 digests
    (they are random, high-entropy strings; see :func:`new_client_secret`).

    A token that passed the full check is remembered (by its exact string, at most
    ``cache_size`` of them, oldest dropped first) with its expiry and the client record it
    was checked against: until it expires, and while that client's registration is the
    same, a repeated request skips the JWT decode. Anything else takes the full check.
    """

    def __init__(
        self,
        *,
        audience: str = "kakehashi-pact",
        issuer: str = "kakehashi",
        secret: bytes | None = None,
        private_key: Ed25519PrivateKey | None = None,
        ttl: int = 3600,
        leeway: int = 5,
        cache_size: int = MAX_CACHED_TOKENS,
    ) -> None:
        if private_key is not None:
            self._alg, self._sign_key, self._verify_key = "EdDSA", private_key, private_key.public_key()
        else:
            key = secret or secrets.token_bytes(32)
            self._alg, self._sign_key, self._verify_key = "HS256", key, key
        self.audience, self.issuer, self.ttl, self.leeway = audience, issuer, ttl, leeway
        self._clients: dict[str, ClientRecord] = {}
        self._cache_size = cache_size
        # token -> (valid while time.time() < this, the client record, the principal)
        self._verified: dict[str, tuple[float, ClientRecord, Principal]] = {}

    @property
    def algorithm(self) -> str:
        return self._alg

    def unregister_client(self, client_id: str) -> None:
        """Forget a client: its tokens stop working at once."""
        self._clients.pop(client_id, None)

    def register_client(
        self,
        client_id: str,
        client_secret: str,
        *,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        footprint_ids: Collection[str] | None = None,
        signed_delivery: bool = False,
    ) -> None:
        self._clients[client_id] = ClientRecord(
            client_id,
            _hash_secret(client_secret),
            frozenset(scopes),
            frozenset(footprint_ids) if footprint_ids is not None else None,
            signed_delivery,
        )

    def issue_token(self, client_id: str, client_secret: str, scope: str | None) -> TokenGrant:
        record = self._clients.get(client_id)
        # compare against a dummy digest for unknown clients so timing does not reveal ids
        expected = record.secret_sha256 if record else _hash_secret(secrets.token_hex(16))
        if not hmac.compare_digest(expected, _hash_secret(client_secret)) or record is None:
            raise ClientAuthError("invalid_client", "client authentication failed", 401)
        granted = record.scopes
        if scope:
            asked = frozenset(scope.split())
            if not asked <= record.scopes:
                raise ClientAuthError("invalid_scope", f"scopes not granted to this client: {sorted(asked - record.scopes)}")
            granted = asked
        return TokenGrant(self.mint(client_id, granted, ttl=self.ttl), self.ttl, " ".join(sorted(granted)))

    def mint(self, subject: str, scopes: Iterable[str], *, ttl: int | None = None, now: float | None = None) -> str:
        """A signed access token (also used by tests to craft expired tokens)."""
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.audience,
            "iat": issued,
            "exp": issued + (ttl if ttl is not None else self.ttl),
            "jti": str(uuid.uuid4()),
            "scope": " ".join(sorted(scopes)),
        }
        return jwt.encode(claims, self._sign_key, algorithm=self._alg)

    async def authenticate(self, token: str) -> Principal:
        if len(token) > MAX_TOKEN_LENGTH:
            raise PactError(ErrorKind.BAD_REQUEST, "invalid access token (too long)")
        hit = self._verified.get(token)
        if hit is not None:
            until, record, principal = hit
            if time.time() < until and self._clients.get(principal.subject) is record:
                return principal
            del self._verified[token]  # expired or client re-registered: the full check decides
        return self._check(token)

    def _check(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._verify_key,
                algorithms=[self._alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "sub", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise PactError(ErrorKind.TOKEN_EXPIRED, "access token has expired; request a new one") from None
        except (jwt.InvalidAudienceError, jwt.InvalidIssuerError):
            raise PactError(ErrorKind.ACCESS_DENIED, "access token was issued for another service") from None
        except jwt.PyJWTError:
            raise PactError(ErrorKind.BAD_REQUEST, "invalid access token") from None
        record = self._clients.get(claims["sub"])
        if record is None:
            raise PactError(ErrorKind.ACCESS_DENIED, "client of this token is no longer registered")
        scopes = frozenset(str(claims.get("scope", "")).split()) & record.scopes
        principal = Principal(claims["sub"], scopes, record.footprint_ids, None, record.signed_delivery, "client")
        exp = claims["exp"]
        if self._cache_size > 0 and isinstance(exp, (int, float)) and not isinstance(exp, bool):
            # PyJWT accepts the token while exp > now - leeway
            if len(self._verified) >= self._cache_size:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = (float(exp) + self.leeway, record, principal)
        return principal

    def discovery(self) -> dict[str, Any]:
        scopes = sorted({s for c in self._clients.values() for s in c.scopes} | DEFAULT_SCOPES)
        return {"scopes_supported": scopes, "id_token_signing_alg_values_supported": [self._alg]}

    def jwks(self) -> dict[str, Any] | None:
        """The public key set for EdDSA tokens (None for HS256, whose key is secret)."""
        if self._alg != "EdDSA":
            return None
        raw = self._verify_key.public_bytes_raw()  # type: ignore[union-attr]
        import base64

        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "alg": "EdDSA", "use": "sig"}]}


EdrValidator = Callable[[str], Awaitable[Principal | None]]


class EdrAuth:
    """Accepts EDR tokens through the connector's validator.

    The validator returns the Principal for a token it issued (bound to an agreement and
    its footprint ids), None for a token it does not know, and raises PactError for a
    known token that is expired or revoked (e.g. the agreement was terminated).
    """

    def __init__(self, validator: EdrValidator) -> None:
        self._validator = validator

    async def authenticate(self, token: str) -> Principal:
        principal = await self._validator(token)
        if principal is None:
            raise PactError(ErrorKind.BAD_REQUEST, "invalid access token")
        return principal


@dataclass
class ChainedAuth:
    """Tries each authenticator in turn; the first that recognises the token decides."""

    members: list[PactAuth] = field(default_factory=list)

    async def authenticate(self, token: str) -> Principal:
        last: PactError | None = None
        for member in self.members:
            try:
                return await member.authenticate(token)
            except PactError as exc:
                if exc.kind is not ErrorKind.BAD_REQUEST:
                    raise
                last = exc
        raise last or PactError(ErrorKind.BAD_REQUEST, "invalid access token")

    def __getattr__(self, name: str) -> Any:
        # expose a member's token issuing (issue_token, discovery, jwks) as our own
        for member in self.members:
            if hasattr(member, name):
                return getattr(member, name)
        raise AttributeError(name)


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)
