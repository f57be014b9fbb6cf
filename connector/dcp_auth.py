"""DCP 1.0 authentication between connectors: the `connector.auth.Authenticator` the DSP layer uses.

Outgoing: `Authorization: Bearer <self-issued ID token>` (iss = sub = our DID, aud = the
partner's DID, unique jti, short exp) whose `token` claim is an access token for *our*
Credential Service, scoped to MembershipCredential and usable only by that partner.

Incoming, in order (each failure is an AuthError with the precise reason):
  1. the ID token: signed by a key under capabilityInvocation/authentication of its issuer's
     DID document, addressed to us, unexpired, lifetime within bounds, jti not seen (401);
  2. the caller's presentation: from the cache if one verified earlier is still valid, else
     we POST a PresentationQueryMessage to the CredentialService in the caller's DID document
     (wrapping the caller's access token in our own ID token, as DCP prescribes; bounded:
     timeout, size cap, no redirects, https or allowed loopback http) and verify the VP (signed
     by the caller, addressed to us) and each credential (signature, validity, subject = caller)
     — a bad answer is 401;
  3. trust: each MembershipCredential must come from an issuer our data space trusts
     (directly or through recognition of another data space), be issued by an authority of
     the data space it names in `memberOf`, and not be revoked — status lists are fetched
     with the same bounded rules and cached for `status_ttl` seconds, and they are re-checked
     on every request, cached presentation or not, so a revocation shows within that TTL.
     No trusted membership left: 403 with every credential's reason.

The verified presentation is cached per caller until the earliest of: its credentials'
`validUntil`, `presentation_ttl` seconds, and the cache's size bound.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from identity.dcp import (
    MEMBERSHIP_TYPE,
    DcpError,
    Membership,
    MemoryReplayCache,
    PresentationQueryMessage,
    PresentationResponseMessage,
    ReplayCheck,
    SelfIssuedToken,
    VerifiedClaims,
    create_access_token,
    create_id_token,
    parse_message,
    scope_for_type,
    validate_id_token,
    verify_presentations,
)
from identity.did.http import FetchError, check_url_scheme
from identity.did.resolver import DidResolver
from identity.errors import IdentityError
from identity.status import StatusListSource, check_status
from identity.trust import TrustStore

from .auth import AuthError, Caller, PendingReplay
from .credential_service import QUERY_PATH, ConnectorIdentity

log = logging.getLogger(__name__)

MEMBERSHIP_SCOPE = scope_for_type(MEMBERSHIP_TYPE)
MAX_PRESENTATION_BYTES = 1024 * 1024


class ReplayRepository(Protocol):
    async def remember(self, jti: str, expires_at: datetime) -> bool: ...


def store_replay_check(repo: ReplayRepository, *, margin: float = 60.0) -> ReplayCheck:
    """Adapt the store's replay repository (`Store.replay.remember(jti, expires_at)`, shared by
    replicas) to the `(issuer, jti, exp) -> first time?` check the token validation calls."""

    async def check(issuer: str, jti: str, exp: float) -> bool:
        expires = datetime.fromtimestamp(exp + margin, timezone.utc)
        return await repo.remember(f"{issuer} {jti}", expires)

    return check


@dataclass
class _Cached:
    claims: VerifiedClaims
    expires_at: float


class PresentationCache:
    """Verified presentations per caller DID, bounded in size and time (pure; clock injected)."""

    def __init__(self, ttl: float, max_entries: int = 10_000, clock: Callable[[], float] = time.time) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Cached] = OrderedDict()

    def get(self, caller: str) -> VerifiedClaims | None:
        hit = self._entries.get(caller)
        if hit is None:
            return None
        if hit.expires_at <= self._clock():
            del self._entries[caller]
            return None
        self._entries.move_to_end(caller)
        return hit.claims

    def put(self, caller: str, claims: VerifiedClaims) -> None:
        if self.ttl <= 0:
            return
        expires = self._clock() + self.ttl
        if claims.valid_until is not None:
            expires = min(expires, claims.valid_until.timestamp())
        if expires <= self._clock():
            return
        self._entries[caller] = _Cached(claims, expires)
        self._entries.move_to_end(caller)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def drop(self, caller: str) -> None:
        self._entries.pop(caller, None)

    def __len__(self) -> int:
        return len(self._entries)


def membership_problem(membership: Membership, trust: TrustStore, data_space: str | None) -> str | None:
    """Why a (verified, trusted-issuer) membership must still be refused, or None.

    The issuer must be an authority of the data space the credential names (`memberOf`), so a
    recognised foreign authority cannot vouch for membership of *our* data space."""
    named = membership.data_space
    if named not in trust.names:
        return f"credential names data space {named!r}, which is not in our trust lists"
    if not trust.get(named).trusts_directly(membership.issuer, MEMBERSHIP_TYPE):
        return f"issuer {membership.issuer} is not an authority of data space {named!r}, the credential's memberOf"
    if data_space is not None and data_space not in trust.who_trusts(membership.issuer, MEMBERSHIP_TYPE):
        return f"issuer {membership.issuer} is not trusted by data space {data_space!r} for {MEMBERSHIP_TYPE}"
    return None


class DcpAuthenticator:
    """Self-issued ID tokens out, verified presentations in (see the module docstring)."""

    def __init__(
        self,
        identity: ConnectorIdentity,
        trust: TrustStore,
        *,
        data_space: str | None,
        resolver: DidResolver | None = None,
        replay_check: ReplayCheck | None = None,
        allow_http_loopback: bool = False,
        status_ttl: float = 60.0,
        presentation_ttl: float = 300.0,
        token_lifetime: int = 60,
        timeout: float = 10.0,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if data_space is not None:
            trust.get(data_space)  # raises a TrustError naming the missing data space
        self.identity = identity
        self.trust = trust
        self.data_space = data_space
        self.allow_http_loopback = allow_http_loopback
        self.resolver = resolver or DidResolver(allow_http_loopback=allow_http_loopback, session=session)
        self.replay_check = replay_check or MemoryReplayCache()
        self.replay_repo: ReplayRepository | None = None  # set by `use_store_replay`
        self.replay_margin = 60.0
        self.status_lists = StatusListSource(allow_http_loopback=allow_http_loopback, default_ttl=status_ttl,
                                             session=session, clock=time.monotonic)
        self.cache = PresentationCache(presentation_ttl, clock=clock)
        self.token_lifetime = token_lifetime
        self.timeout = timeout
        self._session = session
        self._own_session = False
        self._clock = clock
        self._inflight: dict[str, asyncio.Future[VerifiedClaims]] = {}
        self._access_tokens: dict[str, tuple[int, str]] = {}  # audience -> (issued at, access token)
        self.queries = 0  # presentation round trips made (observable: the cache works)

    async def close(self) -> None:
        await self.status_lists.close()
        await self.resolver.close()
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    # -- outgoing --------------------------------------------------------------------------
    def id_token(self, audience: str, *, now: float | None = None) -> str:
        """A self-issued ID token for `audience`, carrying an access token to our Credential Service.

        Every ID token is new (its own jti, short expiry). The access token inside it (bound to
        `audience` and the membership scope, as short-lived) is reused for the first half of its
        lifetime: the partner uses it only when it has no valid presentation of ours cached,
        and it then still has at least half its lifetime left."""
        ident = self.identity
        at = self._clock() if now is None else now
        cached = self._access_tokens.get(audience)
        if cached is not None and cached[0] <= at < cached[0] + self.token_lifetime / 2:
            access = cached[1]
        else:
            access = create_access_token(holder_did=ident.did, key=ident.key, kid=ident.kid, verifier_did=audience,
                                         scopes=[MEMBERSHIP_SCOPE], lifetime=self.token_lifetime, now=at)
            if len(self._access_tokens) >= 10_000:
                self._access_tokens.clear()
            self._access_tokens[audience] = (int(at), access)
        return create_id_token(holder_did=ident.did, key=ident.key, kid=ident.kid, audience=audience,
                               access_token=access, lifetime=self.token_lifetime, now=at)

    async def outgoing_authorization(self, audience: str) -> str:
        return f"Bearer {self.id_token(audience)}"

    # -- incoming --------------------------------------------------------------------------
    async def authenticate(self, request: web.Request) -> Caller:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(401, "missing bearer token (a DCP self-issued ID token) in Authorization header")
        return await self.authenticate_token(token.strip())

    async def authenticate_deferring_replay(self, request: web.Request) -> tuple[Caller, PendingReplay | None]:
        """`authenticate`, except that the token id is not yet recorded as used: the returned
        `PendingReplay` must be recorded (`record_replay`, or in the transaction of the state
        change the request causes) before anything is answered or committed. Without a
        store-backed replay check the token id is recorded at once, as in `authenticate`."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(401, "missing bearer token (a DCP self-issued ID token) in Authorization header")
        if self.replay_repo is None:
            return await self.authenticate_token(token.strip()), None
        pending: list[PendingReplay] = []

        async def defer(issuer: str, jti: str, exp: float) -> bool:
            pending.append(PendingReplay(f"{issuer} {jti}", datetime.fromtimestamp(exp + self.replay_margin, timezone.utc),
                                         f"ID token {jti} from {issuer} was already used (replay)"))
            return True

        caller = await self.authenticate_token(token.strip(), replay_check=defer)
        return caller, pending[0] if pending else None

    async def record_replay(self, pending: PendingReplay) -> bool:
        """Record a deferred token id on its own; False if it was used before (a replay)."""
        if pending.recorded:
            return True
        assert self.replay_repo is not None
        fresh = await self.replay_repo.remember(pending.key, pending.expires_at)
        pending.recorded = True
        return fresh

    def use_store_replay(self, repo: ReplayRepository, *, margin: float = 60.0) -> None:
        """Remember token ids in the store (shared by replicas) instead of in memory."""
        self.replay_repo = repo
        self.replay_margin = margin
        self.replay_check = store_replay_check(repo, margin=margin)

    async def authenticate_token(self, token: str, *, replay_check: ReplayCheck | None = None) -> Caller:
        try:
            checked = await validate_id_token(token, self.resolver, audience=self.identity.did,
                                              replay_check=replay_check or self.replay_check, now=self._clock())
        except (DcpError, IdentityError) as exc:
            raise AuthError(401, str(exc)) from None
        caller = checked.issuer
        claims = self.cache.get(caller)
        cached = claims is not None
        if claims is None:
            if not checked.access_token:
                raise AuthError(401, "ID token has no 'token' claim: nothing to query the caller's credentials with")
            claims = await self._presentation_once(checked)
            self.cache.put(caller, claims)
        accepted, problems = await self._judge(claims, recheck_status=cached)
        if not accepted:
            self.cache.drop(caller)
            reasons = "; ".join(problems) or "the presentation holds no MembershipCredential"
            raise AuthError(403, f"{caller} has no membership trusted by {self.data_space or 'any data space'}: {reasons}")
        return self._caller(checked, claims, accepted, cached)

    async def _presentation_once(self, token: SelfIssuedToken) -> VerifiedClaims:
        """One presentation round trip per caller at a time; concurrent requests share it."""
        pending = self._inflight.get(token.issuer)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[VerifiedClaims] = asyncio.get_running_loop().create_future()
        self._inflight[token.issuer] = future
        try:
            claims = await self._query_and_verify(token)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        finally:
            self._inflight.pop(token.issuer, None)
        future.set_result(claims)
        return claims

    async def _query_and_verify(self, token: SelfIssuedToken) -> VerifiedClaims:
        caller = token.issuer
        doc = await self.resolver.resolve(caller)  # already resolved by the token check
        services = doc.services_of_type("CredentialService")
        endpoint = services[0].serviceEndpoint if services else None
        if not isinstance(endpoint, str):
            raise AuthError(401, f"DID document of {caller} lists no CredentialService with a URL endpoint")
        url = endpoint.rstrip("/") + QUERY_PATH
        wrapper = create_id_token(holder_did=self.identity.did, key=self.identity.key, kid=self.identity.kid,
                                  audience=caller, access_token=token.access_token, lifetime=self.token_lifetime)
        query = PresentationQueryMessage(scope=[MEMBERSHIP_SCOPE]).to_json()
        self.queries += 1
        try:
            body = await self._post(url, query, wrapper)
            message: PresentationResponseMessage = parse_message(body, PresentationResponseMessage)
        except (FetchError, DcpError) as exc:
            raise AuthError(401, f"no usable presentation from {caller}'s credential service: {exc}") from None
        try:
            return await verify_presentations(
                message.presentation, self.resolver, self.trust, holder_did=caller, audience=self.identity.did,
                status_lists=self.status_lists, data_space=self.data_space,
                now=datetime.fromtimestamp(self._clock(), timezone.utc),
            )
        except (DcpError, IdentityError) as exc:
            raise AuthError(401, f"presentation from {caller} rejected: {exc}") from None

    async def _post(self, url: str, body: dict[str, Any], bearer: str) -> Any:
        check_url_scheme(url, allow_http_loopback=self.allow_http_loopback)
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        try:
            async with asyncio.timeout(self.timeout):
                async with self._session.post(
                    url, json=body, allow_redirects=False, timeout=aiohttp.ClientTimeout(total=self.timeout),
                    headers={"Authorization": f"Bearer {bearer}", "Accept": "application/json"},
                ) as resp:
                    raw = await resp.content.read(MAX_PRESENTATION_BYTES + 1)
                    status = resp.status
        except TimeoutError:
            raise FetchError(f"{url} did not answer within {self.timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise FetchError(f"{url} could not be reached: {type(exc).__name__}: {exc}") from None
        if len(raw) > MAX_PRESENTATION_BYTES:
            raise FetchError(f"{url} answered more than {MAX_PRESENTATION_BYTES} bytes")
        try:
            data = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError, RecursionError):
            data = None
            if status < 300:
                raise FetchError(f"{url} answered something that is not JSON") from None
        if status != 200:
            detail = data.get("error") if isinstance(data, dict) else None
            raise FetchError(f"{url} answered HTTP {status}" + (f": {detail}" if detail else ""))
        return data

    async def _judge(self, claims: VerifiedClaims, *, recheck_status: bool) -> tuple[list[Membership], list[str]]:
        """Memberships that hold now (trusted, right authority, not revoked), and every reason for
        those that do not. A cached presentation's status is re-checked (lists cached by TTL); a
        fresh one was checked by `verify_presentations` a moment ago."""
        problems = list(claims.rejected)
        accepted: list[Membership] = []
        now = datetime.fromtimestamp(self._clock(), timezone.utc)
        for m in claims.memberships:
            problem = membership_problem(m, self.trust, self.data_space)
            if problem is None and recheck_status and m.credential.get("credentialStatus") is not None:
                status = await check_status(m.credential, self.resolver, self.status_lists, now=now)
                if status.ok is False:
                    problem = f"status: {status.reason}"
            until = m.credential.get("validUntil")
            if problem is None and isinstance(until, str) and _expired(until, now):
                problem = f"credential expired at {until}"
            if problem:
                problems.append(f"membership of {m.data_space!r} from {m.issuer}: {problem}")
            else:
                accepted.append(m)
        return accepted, problems

    def _caller(self, token: SelfIssuedToken, claims: VerifiedClaims, accepted: list[Membership], cached: bool) -> Caller:
        spaces: list[str] = []
        for m in accepted:
            if m.data_space not in spaces:
                spaces.append(m.data_space)
        memberships = [{
            "dataSpace": m.data_space, "issuer": m.issuer, "credentialId": m.credential.get("id"),
            "trustedBy": self.trust.who_trusts(m.issuer, MEMBERSHIP_TYPE),
        } for m in accepted]
        trusted_by = sorted({n for m in memberships for n in m["trustedBy"]})
        refused = [id(m.credential) for m in claims.memberships if all(m is not a for a in accepted)]
        return Caller(
            participant_id=token.issuer,
            credentials=tuple(c for c in claims.credentials if id(c) not in refused),
            data_spaces=tuple(spaces),
            extra={"auth": "dcp", "jti": token.jti, "kid": token.kid, "memberships": memberships,
                   "trustedBy": trusted_by, "rejected": list(claims.rejected), "cachedPresentation": cached},
        )


def _expired(until: str, now: datetime) -> bool:
    try:
        return datetime.fromisoformat(until) < now
    except ValueError:
        return True


def from_settings(settings: Any, *, replay_check: ReplayCheck | None = None,
                  session: aiohttp.ClientSession | None = None, **options: Any) -> DcpAuthenticator:
    """The DCP authenticator for a connector's settings (`connector.config.Settings`).

    Needs `trust_file`; `credential_files` are what we present; `did_bundle` pins DID documents
    (others are resolved over HTTPS, or loopback http when `allow_http_loopback`)."""
    from identity.did.resolver import load_did_bundle

    if settings.trust_file is None:
        raise RuntimeError("DCP authentication needs a trust_file (the data spaces and authorities we trust)")
    try:
        trust = TrustStore.load(settings.trust_file)
        identity = ConnectorIdentity.load(settings.participant_id, settings.key_file, settings.credential_files,
                                          base_url=settings.base_url)
        bundle = load_did_bundle(settings.did_bundle) if settings.did_bundle else None
    except (IdentityError, ValueError) as exc:
        raise RuntimeError(f"cannot set up DCP authentication: {exc}") from None
    resolver = DidResolver(bundle=bundle, allow_http_loopback=settings.allow_http_loopback, session=session)
    resolver.add(identity.did_document())
    return DcpAuthenticator(identity, trust, data_space=settings.data_space, resolver=resolver,
                            replay_check=replay_check, allow_http_loopback=settings.allow_http_loopback,
                            session=session, **options)


__all__ = [
    "MEMBERSHIP_SCOPE", "DcpAuthenticator", "PresentationCache", "from_settings", "membership_problem",
    "store_replay_check",
]
