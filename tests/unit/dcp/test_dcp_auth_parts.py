"""Pure parts of the DCP authenticator and the Credential Service, without a network."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from connector.credential_service import ConnectorIdentity, CredentialService, QueryRefused
from connector.dcp_auth import MEMBERSHIP_SCOPE, DcpAuthenticator, PresentationCache, membership_problem, store_replay_check
from identity.authority import Authority, trust_store_for
from identity.dcp import (
    DCP_CONTEXT,
    Membership,
    PresentationResponseMessage,
    VerifiedClaims,
    create_access_token,
    parse_message,
    verify_presentations,
)
from identity.did import DidResolver
from identity.keys import KeyPair
from identity.status import StatusListSource
from identity.trust import TrustError

JP = Authority.create("did:web:authority.jp.example", KeyPair.generate(), "ouranos-jp")
TW = Authority.create("did:web:authority.tw.example", KeyPair.generate("P-256"), "taiwan-tw")
TRUST = trust_store_for([JP, TW])
HOLDER = ConnectorIdentity("did:web:formosa.tw.example", KeyPair.generate("P-256"),
                           base_url="https://formosa.tw.example")
VERIFIER = ConnectorIdentity("did:web:acme.jp.example", KeyPair.generate(), base_url="https://acme.jp.example")
HOLDER.credentials = [TW.issue_membership(HOLDER.did, {"name": "Formosa"}).credential,
                      JP.issue_membership(HOLDER.did, format="di").credential]


def resolver() -> DidResolver:
    return DidResolver(bundle={d.id: d for d in (JP.did_document(), TW.did_document(), HOLDER.did_document(),
                                                 VERIFIER.did_document())}, offline=True)


def query(scope: list[str] | None = None) -> dict[str, Any]:
    return {"@context": [DCP_CONTEXT], "type": "PresentationQueryMessage", "scope": scope or [MEMBERSHIP_SCOPE]}


def membership(issuer: str, space: str) -> Membership:
    return Membership(space, issuer, [], {"id": "urn:uuid:1"})


# -- presentation cache ----------------------------------------------------------------------
def test_presentation_cache_is_bounded_in_time_and_size() -> None:
    now = [1000.0]
    cache = PresentationCache(ttl=60, max_entries=2, clock=lambda: now[0])
    cache.put("a", VerifiedClaims("a"))
    assert cache.get("a") is not None
    now[0] += 61
    assert cache.get("a") is None and len(cache) == 0
    # a credential expiring sooner than the TTL bounds the entry
    soon = VerifiedClaims("b", valid_until=datetime.fromtimestamp(now[0] + 5, timezone.utc))
    cache.put("b", soon)
    now[0] += 6
    assert cache.get("b") is None
    expired = VerifiedClaims("c", valid_until=datetime.fromtimestamp(now[0] - 1, timezone.utc))
    cache.put("c", expired)
    assert len(cache) == 0
    for name in ("x", "y", "z"):
        cache.put(name, VerifiedClaims(name))
    assert cache.get("x") is None and cache.get("y") is not None and cache.get("z") is not None
    off = PresentationCache(ttl=0)
    off.put("a", VerifiedClaims("a"))
    assert off.get("a") is None


# -- trust rules -------------------------------------------------------------------------------
def test_membership_must_come_from_the_authority_of_the_named_data_space() -> None:
    assert membership_problem(membership(TW.did, "taiwan-tw"), TRUST, "ouranos-jp") is None
    assert membership_problem(membership(JP.did, "ouranos-jp"), TRUST, "ouranos-jp") is None
    # a recognised foreign authority cannot vouch for membership of our data space
    problem = membership_problem(membership(TW.did, "ouranos-jp"), TRUST, "ouranos-jp")
    assert problem is not None and "not an authority of data space 'ouranos-jp'" in problem
    problem = membership_problem(membership(TW.did, "atlantis"), TRUST, "ouranos-jp")
    assert problem is not None and "'atlantis', which is not in our trust lists" in problem
    lonely = trust_store_for([JP, TW], recognise=False)
    problem = membership_problem(membership(TW.did, "taiwan-tw"), lonely, "ouranos-jp")
    assert problem is not None and "not trusted by data space 'ouranos-jp'" in problem


def test_authenticator_needs_its_data_space_in_the_trust_lists() -> None:
    with pytest.raises(TrustError, match="no trust list for data space 'atlantis'"):
        DcpAuthenticator(VERIFIER, TRUST, data_space="atlantis", resolver=resolver())


# -- outgoing tokens ---------------------------------------------------------------------------
async def test_outgoing_id_token_carries_a_scoped_access_token() -> None:
    from identity.dcp import MemoryReplayCache, validate_access_token, validate_id_token

    auth = DcpAuthenticator(HOLDER, TRUST, data_space="taiwan-tw", resolver=resolver(), token_lifetime=30)
    header = await auth.outgoing_authorization(VERIFIER.did)
    assert header.startswith("Bearer ")
    token = await validate_id_token(header[7:], resolver(), audience=VERIFIER.did, replay_check=MemoryReplayCache())
    assert token.issuer == HOLDER.did and token.expires_at - token.issued_at == 30 and token.access_token
    scopes = await validate_access_token(token.access_token, resolver(), holder_did=HOLDER.did,
                                         presenter_did=VERIFIER.did)
    assert scopes == [MEMBERSHIP_SCOPE]


async def test_access_token_is_reused_for_half_its_lifetime_per_audience() -> None:
    """Each ID token is new (jti, expiry); the access token inside is reused for the first half
    of its lifetime, for the same audience only."""
    from identity.dcp import MemoryReplayCache, validate_id_token
    from identity.jose import split_jwt

    now = [1_800_000_000.0]
    auth = DcpAuthenticator(HOLDER, TRUST, data_space="taiwan-tw", resolver=resolver(), token_lifetime=30,
                            clock=lambda: now[0])
    first, second = auth.id_token(VERIFIER.did), auth.id_token(VERIFIER.did)
    claims = [split_jwt(t)[1] for t in (first, second)]
    assert claims[0]["jti"] != claims[1]["jti"] and claims[0]["token"] == claims[1]["token"]
    assert split_jwt(auth.id_token("did:web:other.example"))[1]["token"] != claims[0]["token"]
    now[0] += 14
    assert split_jwt(auth.id_token(VERIFIER.did))[1]["token"] == claims[0]["token"]
    now[0] += 1  # half of the 30 s lifetime has passed: a new access token
    later = auth.id_token(VERIFIER.did)
    assert split_jwt(later)[1]["token"] != claims[0]["token"]
    assert split_jwt(split_jwt(later)[1]["token"])[1]["exp"] == int(now[0]) + 30
    checked = await validate_id_token(later, resolver(), audience=VERIFIER.did, replay_check=MemoryReplayCache(),
                                      now=now[0])
    assert checked.access_token == split_jwt(later)[1]["token"]


async def test_store_replay_check_adapter() -> None:
    seen: dict[str, datetime] = {}

    class Repo:
        async def remember(self, jti: str, expires_at: datetime) -> bool:
            if jti in seen:
                return False
            seen[jti] = expires_at
            return True

    check = store_replay_check(Repo(), margin=10)
    assert await check("did:web:a", "j1", 2000.0) is True
    assert await check("did:web:a", "j1", 2000.0) is False
    assert await check("did:web:b", "j1", 2000.0) is True  # token ids are per issuer
    assert seen["did:web:a j1"] == datetime.fromtimestamp(2010, timezone.utc)


# -- Credential Service ------------------------------------------------------------------------
def access_token(verifier: str = VERIFIER.did, scopes: tuple[str, ...] = (MEMBERSHIP_SCOPE,), **kw: Any) -> str:
    return create_access_token(holder_did=HOLDER.did, key=HOLDER.key, kid=HOLDER.kid, verifier_did=verifier,
                               scopes=list(scopes), **kw)


def wrapped(access: str, *, key: KeyPair | None = None) -> str:
    from identity.dcp import create_id_token
    return create_id_token(holder_did=VERIFIER.did, key=key or VERIFIER.key, kid=VERIFIER.kid, audience=HOLDER.did,
                           access_token=access)


async def test_credential_service_answers_a_wrapped_token_with_a_verifiable_presentation() -> None:
    service = CredentialService(HOLDER, resolver())
    answer = await service.answer(f"Bearer {wrapped(access_token())}", query())
    message = parse_message(answer, PresentationResponseMessage)
    claims = await verify_presentations(message.presentation, resolver(), TRUST, holder_did=HOLDER.did,
                                        audience=VERIFIER.did, status_lists=_lists())
    assert sorted(m.data_space for m in claims.memberships) == ["ouranos-jp", "taiwan-tw"], claims.rejected
    # addressed to that verifier only
    with pytest.raises(Exception, match="audience"):
        await verify_presentations(message.presentation, resolver(), TRUST, holder_did=HOLDER.did,
                                   audience="did:web:someone.else", status_lists=_lists())


def _lists() -> StatusListSource:
    source = StatusListSource(offline=True)
    for a in (JP, TW):
        source.add(a.status_list_url("1"), a.signed_status_list("1"))
    return source


async def test_credential_service_accepts_a_bare_access_token() -> None:
    answer = await CredentialService(HOLDER, resolver()).answer(f"Bearer {access_token()}", query())
    assert len(answer["presentation"]) == 1


@pytest.mark.parametrize("authorization, body, status, reason", [
    (None, query(), 401, "missing bearer token"),
    ("Bearer nonsense", query(), 401, "malformed"),
    ("Bearer {other_verifier}", query(), 401, "not to did:web:acme.jp.example"),
    ("Bearer {expired}", query(), 401, "expired"),
    ("Bearer {forged_wrapper}", query(), 401, "signature"),
    ("Bearer {foreign_token}", query(), 401, "not issued by this Credential Service"),
    ("Bearer {good}", {"@context": ["https://example.org/other"], "type": "PresentationQueryMessage",
                       "scope": [MEMBERSHIP_SCOPE]}, 400, "@context must include"),
    ("Bearer {good}", {"type": "PresentationQueryMessage"}, 400, "exactly one of scope and presentationDefinition"),
    ("Bearer {good}", "not an object", 400, "must be a JSON object"),
    ("Bearer {good}", {"@context": [DCP_CONTEXT], "type": "PresentationQueryMessage",
                       "presentationDefinition": {"id": "pd"}}, 400, "not supported"),
    ("Bearer {good}", query(["org.eclipse.dspace.dcp.vc.type:SecretCredential:read"]), 403, "not granted"),
])
async def test_credential_service_refusals(authorization: str | None, body: object, status: int, reason: str) -> None:
    stranger = ConnectorIdentity("did:web:stranger.example", KeyPair.generate())
    values = {
        "other_verifier": wrapped(access_token("did:web:someone.else")),
        "expired": wrapped(access_token(now=time.time() - 3600)),
        "forged_wrapper": wrapped(access_token(), key=KeyPair.generate()),
        "foreign_token": create_access_token(holder_did=stranger.did, key=stranger.key, kid=stranger.kid,
                                             verifier_did=VERIFIER.did, scopes=[MEMBERSHIP_SCOPE]),
        "good": wrapped(access_token()),
    }
    res = resolver()
    res.add(stranger.did_document())
    service = CredentialService(HOLDER, res)
    with pytest.raises(QueryRefused) as info:
        await service.answer(authorization.format(**values) if authorization else None, body)
    assert info.value.status == status and reason in info.value.reason, info.value.reason


async def test_credential_service_only_presents_what_was_asked_and_granted() -> None:
    extra = {"@context": ["https://www.w3.org/ns/credentials/v2"], "id": "urn:uuid:x",
             "type": ["VerifiableCredential", "OtherCredential"], "issuer": JP.did,
             "validFrom": "2025-01-01T00:00:00Z", "credentialSubject": {"id": HOLDER.did}}
    holder = ConnectorIdentity(HOLDER.did, HOLDER.key, [*HOLDER.credentials, extra])
    answer = await CredentialService(holder, resolver(), presentation_format="di").answer(
        f"Bearer {wrapped(access_token())}", query())
    vp = answer["presentation"][0]
    assert isinstance(vp, dict) and len(vp["verifiableCredential"]) == 2
    assert vp["proof"]["domain"] == VERIFIER.did and vp["holder"] == HOLDER.did


def test_valid_until_is_bounded_by_the_credentials() -> None:
    until = datetime.now(timezone.utc) + timedelta(days=1)
    cache = PresentationCache(ttl=10 ** 9)
    cache.put("a", VerifiedClaims("a", valid_until=until))
    assert cache._entries["a"].expires_at == pytest.approx(until.timestamp())
