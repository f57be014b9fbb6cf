"""DCP 1.0: self-issued ID tokens, access tokens, scopes, messages, and membership presentations
verified across two data spaces (JP and TW authorities with cross-recognition)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from identity.dcp import (
    DCP_CONTEXT,
    DcpError,
    MemoryReplayCache,
    PresentationQueryMessage,
    PresentationResponseMessage,
    build_membership_presentation,
    create_access_token,
    create_id_token,
    credentials_for_scopes,
    issue_membership_credential,
    membership_credential,
    parse_message,
    parse_scope,
    scope_for_type,
    validate_access_token,
    validate_id_token,
    verify_presentations,
)
from identity.did import DidResolver, did_web_document
from identity.jose import sign_jwt
from identity.keys import KeyPair
from identity.status import StatusList, StatusListSource, status_entry, status_list_credential
from identity.trust import TrustList, TrustStore


class Participant:
    def __init__(self, did: str, key_type: str = "ed25519", **doc_kw: object) -> None:
        self.did = did
        self.key = KeyPair.generate(key_type)
        self.kid = did + "#key-1"
        self.doc = did_web_document(did, self.key.public, **doc_kw)  # type: ignore[arg-type]


JP_AUTH = Participant("did:web:authority.ouranos.jp.example")
TW_AUTH = Participant("did:web:authority.taiwan.tw.example", "p256")
JP_CO = Participant("did:web:connector.acme.jp.example")
TW_CO = Participant("did:web:connector.formosa.tw.example", "p256")
ROGUE = Participant("did:web:authority.rogue.example")
STATUS_URL = "https://authority.taiwan.tw.example/status/1"


def resolver(*extra: Participant) -> DidResolver:
    parties = [JP_AUTH, TW_AUTH, JP_CO, TW_CO, ROGUE, *extra]
    return DidResolver(bundle={p.did: p.doc for p in parties}, offline=True)


def trust() -> TrustStore:
    return TrustStore([
        TrustList(name="ouranos-jp", authorities=[JP_AUTH.did], accepted_types=["MembershipCredential"],
                  recognises=[{"data_space": "taiwan-tw", "types": ["MembershipCredential"]}]),  # type: ignore[list-item]
        TrustList(name="taiwan-tw", authorities=[TW_AUTH.did], accepted_types=["MembershipCredential"],
                  recognises=[{"data_space": "ouranos-jp", "types": ["MembershipCredential"]}]),  # type: ignore[list-item]
    ])


# -- ID tokens ------------------------------------------------------------------------------
async def test_id_token_round_trip() -> None:
    token = create_id_token(holder_did=TW_CO.did, key=TW_CO.key, kid=TW_CO.kid, audience=JP_CO.did, access_token="at-1")
    checked = await validate_id_token(token, resolver(), audience=JP_CO.did, replay_check=MemoryReplayCache())
    assert checked.issuer == TW_CO.did and checked.access_token == "at-1" and checked.kid == TW_CO.kid
    assert checked.expires_at - checked.issued_at <= 300


async def test_id_token_rejections() -> None:
    res, replay = resolver(), MemoryReplayCache()
    good = create_id_token(holder_did=TW_CO.did, key=TW_CO.key, kid=TW_CO.kid, audience=JP_CO.did)
    with pytest.raises(DcpError, match="audience .* is not us"):
        await validate_id_token(good, res, audience="did:web:someone.else", replay_check=replay)
    await validate_id_token(good, res, audience=JP_CO.did, replay_check=replay)
    with pytest.raises(DcpError, match="replay"):
        await validate_id_token(good, res, audience=JP_CO.did, replay_check=replay)

    old = create_id_token(holder_did=TW_CO.did, key=TW_CO.key, kid=TW_CO.kid, audience=JP_CO.did, now=time.time() - 900)
    with pytest.raises(DcpError, match="expired"):
        await validate_id_token(old, res, audience=JP_CO.did, replay_check=replay)

    now = int(time.time())
    base = {"iss": TW_CO.did, "sub": TW_CO.did, "aud": JP_CO.did, "jti": "j", "iat": now, "exp": now + 3600}
    with pytest.raises(DcpError, match="exceeds the 300 s maximum"):
        await validate_id_token(sign_jwt(base, TW_CO.key, kid=TW_CO.kid, typ="JWT"), res, audience=JP_CO.did, replay_check=replay)
    with pytest.raises(DcpError, match="iss = sub"):
        await validate_id_token(sign_jwt({**base, "exp": now + 60, "sub": JP_CO.did}, TW_CO.key, kid=TW_CO.kid, typ="JWT"),
                                res, audience=JP_CO.did, replay_check=replay)
    # signed by JP_CO's key but claiming to be TW_CO
    with pytest.raises(DcpError, match="not a key of its issuer"):
        await validate_id_token(sign_jwt({**base, "exp": now + 60}, JP_CO.key, kid=JP_CO.kid, typ="JWT"),
                                res, audience=JP_CO.did, replay_check=replay)
    forged = sign_jwt({**base, "exp": now + 60, "jti": "k"}, JP_CO.key, kid=TW_CO.kid, typ="JWT")
    with pytest.raises(DcpError, match="alg ES256|EdDSA|signature"):
        await validate_id_token(forged, res, audience=JP_CO.did, replay_check=replay)
    with pytest.raises(DcpError, match="malformed"):
        await validate_id_token("garbage", res, audience=JP_CO.did, replay_check=replay)
    with pytest.raises(DcpError, match="lifetime must be"):
        create_id_token(holder_did=TW_CO.did, key=TW_CO.key, kid=TW_CO.kid, audience=JP_CO.did, lifetime=3600)


async def test_id_token_key_must_be_for_invocation_or_authentication() -> None:
    signer = Participant("did:web:assert.only.example", relationships=["assertionMethod"])
    token = create_id_token(holder_did=signer.did, key=signer.key, kid=signer.kid, audience=JP_CO.did)
    with pytest.raises(DcpError, match="capabilityInvocation.*authentication"):
        await validate_id_token(token, resolver(signer), audience=JP_CO.did, replay_check=MemoryReplayCache())
    unknown = Participant("did:web:unknown.example")
    token = create_id_token(holder_did=unknown.did, key=unknown.key, kid=unknown.kid, audience=JP_CO.did)
    with pytest.raises(DcpError, match="cannot resolve did:web:unknown.example"):
        await validate_id_token(token, resolver(), audience=JP_CO.did, replay_check=MemoryReplayCache())


async def test_replay_check_only_counts_authentic_tokens() -> None:
    replay = MemoryReplayCache()
    token = create_id_token(holder_did=TW_CO.did, key=TW_CO.key, kid=TW_CO.kid, audience=JP_CO.did, jti="same")
    with pytest.raises(DcpError):
        await validate_id_token(token, resolver(), audience="did:web:wrong.example", replay_check=replay)
    assert await validate_id_token(token, resolver(), audience=JP_CO.did, replay_check=replay)


# -- access tokens and scopes ----------------------------------------------------------------
async def test_access_token_and_scopes() -> None:
    scope = scope_for_type("MembershipCredential")
    assert parse_scope(scope) == ("org.eclipse.dspace.dcp.vc.type", "MembershipCredential", "read")
    token = create_access_token(holder_did=TW_CO.did, key=TW_CO.key, kid=TW_CO.kid, verifier_did=JP_CO.did, scopes=[scope])
    granted = await validate_access_token(token, resolver(), holder_did=TW_CO.did, presenter_did=JP_CO.did)
    assert granted == [scope]
    with pytest.raises(DcpError, match="issued to"):
        await validate_access_token(token, resolver(), holder_did=TW_CO.did, presenter_did=ROGUE.did)
    with pytest.raises(DcpError, match="not issued by this Credential Service"):
        await validate_access_token(token, resolver(), holder_did=JP_CO.did, presenter_did=JP_CO.did)

    member = issue_membership_credential(
        membership_credential(authority_did=TW_AUTH.did, member_did=TW_CO.did, data_space="taiwan-tw"),
        TW_AUTH.key, verification_method=TW_AUTH.kid,
    )
    other = {"@context": ["https://www.w3.org/ns/credentials/v2"], "id": "urn:uuid:1", "type": ["VerifiableCredential", "Other"]}
    assert credentials_for_scopes([member, other], [scope]) == [member]
    assert credentials_for_scopes([member, other], ["org.eclipse.dspace.dcp.vc.id:1"]) == [other]
    with pytest.raises(DcpError, match="not granted"):
        credentials_for_scopes([member], [scope_for_type("Other")], granted=[scope])
    for bad in ["nocolon", "a:b:write", "a::read"]:
        with pytest.raises(DcpError):
            parse_scope(bad)


def test_messages() -> None:
    query = parse_message({"@context": [DCP_CONTEXT], "type": "PresentationQueryMessage",
                           "scope": [scope_for_type("MembershipCredential")]}, PresentationQueryMessage)
    assert query.to_json()["scope"] == ["org.eclipse.dspace.dcp.vc.type:MembershipCredential:read"]
    with pytest.raises(DcpError, match="exactly one of scope and presentationDefinition"):
        parse_message({"@context": [DCP_CONTEXT], "type": "PresentationQueryMessage"}, PresentationQueryMessage)
    with pytest.raises(DcpError, match="@context must include"):
        parse_message({"@context": ["x"], "type": "PresentationQueryMessage", "scope": []}, PresentationQueryMessage)
    response = PresentationResponseMessage(presentation=["a.b.c", {"type": "VerifiablePresentation"}])
    data = response.to_json()
    assert data["@context"] == [DCP_CONTEXT] and data["type"] == "PresentationResponseMessage"
    assert parse_message(data, PresentationResponseMessage).presentation[0] == "a.b.c"
    with pytest.raises(DcpError, match="presentation"):
        parse_message({"@context": [DCP_CONTEXT], "type": "PresentationResponseMessage"}, PresentationResponseMessage)


# -- membership across data spaces ------------------------------------------------------------
def _membership(authority: Participant, member: Participant, space: str, fmt: str = "jwt", **kw: object) -> dict | str:
    vc = membership_credential(authority_did=authority.did, member_did=member.did, data_space=space, **kw)  # type: ignore[arg-type]
    return issue_membership_credential(vc, authority.key, verification_method=authority.kid, format=fmt)  # type: ignore[arg-type]


@pytest.mark.parametrize("vc_fmt,vp_fmt", [("jwt", "jwt"), ("di", "jwt"), ("di", "di"), ("jwt", "di")])
async def test_tw_member_is_trusted_by_jp_through_recognition(vc_fmt: str, vp_fmt: str) -> None:
    cred = _membership(TW_AUTH, TW_CO, "taiwan-tw", vc_fmt, member_name="Formosa Cells",
                       valid_until=datetime.now(timezone.utc) + timedelta(days=30))
    vp = build_membership_presentation(holder_did=TW_CO.did, key=TW_CO.key, kid=TW_CO.kid, credentials=[cred],
                                       audience=JP_CO.did, format=vp_fmt,  # type: ignore[arg-type]
                                       )
    claims = await verify_presentations([vp], resolver(), trust(), holder_did=TW_CO.did, audience=JP_CO.did,
                                        data_space="ouranos-jp")
    assert claims.rejected == []
    assert [(m.data_space, m.issuer, m.trusted_by) for m in claims.memberships] == [("taiwan-tw", TW_AUTH.did, ["ouranos-jp"])]
    assert claims.valid_until is not None and claims.trusted_by == ["ouranos-jp"]


async def test_untrusted_wrong_subject_and_wrong_holder() -> None:
    rogue = _membership(ROGUE, TW_CO, "rogue")
    someone_elses = _membership(TW_AUTH, JP_CO, "taiwan-tw")
    vp = build_membership_presentation(holder_did=TW_CO.did, key=TW_CO.key, kid=TW_CO.kid,
                                       credentials=[rogue, someone_elses], audience=JP_CO.did)
    claims = await verify_presentations([vp], resolver(), trust(), holder_did=TW_CO.did, audience=JP_CO.did)
    assert claims.memberships == []
    assert "not trusted by any data space" in claims.rejected[0]
    assert f"not the caller {TW_CO.did}" in claims.rejected[1]
    with pytest.raises(DcpError, match="held by"):
        await verify_presentations([vp], resolver(), trust(), holder_did=JP_CO.did, audience=JP_CO.did)
    with pytest.raises(DcpError, match="audience"):
        await verify_presentations([vp], resolver(), trust(), holder_did=TW_CO.did, audience=TW_CO.did)


async def test_revoked_membership_is_rejected() -> None:
    status = StatusList.new()
    index = status.allocate()
    cred = _membership(TW_AUTH, TW_CO, "taiwan-tw", credential_status=status_entry(STATUS_URL, index))
    vp = build_membership_presentation(holder_did=TW_CO.did, key=TW_CO.key, kid=TW_CO.kid, credentials=[cred], audience=JP_CO.did)

    def list_vc() -> str:
        vc = status_list_credential(list_url=STATUS_URL, issuer=TW_AUTH.did, status_list=status)
        return issue_membership_credential(vc, TW_AUTH.key, verification_method=TW_AUTH.kid)  # type: ignore[return-value]

    source = StatusListSource(bundle={STATUS_URL: list_vc()}, offline=True)
    ok = await verify_presentations([vp], resolver(), trust(), holder_did=TW_CO.did, audience=JP_CO.did, status_lists=source)
    assert len(ok.memberships) == 1
    status.set(index)
    source.add(STATUS_URL, list_vc())
    revoked = await verify_presentations([vp], resolver(), trust(), holder_did=TW_CO.did, audience=JP_CO.did, status_lists=source)
    assert revoked.memberships == [] and f"revocation bit {index} is set" in revoked.rejected[0]
    no_source = await verify_presentations([vp], resolver(), trust(), holder_did=TW_CO.did, audience=JP_CO.did)
    assert "no status list source" in no_source.rejected[0]
