"""DCP between real servers on loopback: JP and TW authorities (plus an untrusted one), JP and TW
participants with did:web documents and Credential Services, trust lists with cross-recognition.

A caller's request goes to a participant's `/whoami`, which runs the real `DcpAuthenticator`
and answers the Caller (200) or the AuthError (401/403 with its reason)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from connector.auth import AuthError
from connector.authority_app import create_authority_app, listening_socket, start_app
from connector.credential_service import ConnectorIdentity, CredentialService, add_identity_routes
from connector.dcp_auth import DcpAuthenticator
from identity.authority import Authority, bootstrap_participant, trust_store_for
from identity.dcp import create_id_token
from identity.did import DidResolver, did_web_from_url
from identity.jose import sign_jwt
from identity.keys import KeyPair
from identity.trust import TrustList, TrustStore

ADMIN_KEY = "integration-admin-key-0123456789"
AUTHENTICATOR = web.AppKey("authenticator", DcpAuthenticator)


@dataclass
class Participant:
    did: str
    url: str
    identity: ConnectorIdentity
    auth: DcpAuthenticator
    credential_ids: list[str] = field(default_factory=list)


@dataclass
class Topology:
    jp_authority: Authority
    tw_authority: Authority
    rogue_authority: Authority
    trust: TrustStore
    jp: Participant
    tw: Participant
    tmp: Path
    runners: list[web.AppRunner]
    http: aiohttp.ClientSession

    async def whoami(self, target: Participant, authorization: str | None) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": authorization} if authorization is not None else {}
        async with self.http.get(target.url + "/whoami", headers=headers) as resp:
            return resp.status, await resp.json()

    async def call(self, caller: Participant, target: Participant) -> tuple[int, dict[str, Any]]:
        return await self.whoami(target, await caller.auth.outgoing_authorization(target.did))

    async def add_participant(self, authority: Authority, *, data_space: str, name: str,
                              routes: web.RouteTableDef | None = None) -> Participant:
        sock = listening_socket("127.0.0.1", 0)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        did = did_web_from_url(url)
        boot = bootstrap_participant(authority, did, self.tmp / name, credential_service_url=url + "/api/credentials",
                                     claims={"name": name})
        identity = ConnectorIdentity(did, boot.key, [c.credential for c in boot.issued], base_url=url)
        auth = DcpAuthenticator(identity, self.trust, data_space=data_space, allow_http_loopback=True, status_ttl=0,
                                presentation_ttl=300)
        app = web.Application()
        app[AUTHENTICATOR] = auth
        if routes is None:
            add_identity_routes(app, CredentialService(identity, DidResolver(allow_http_loopback=True)))
        else:
            app.router.add_get("/.well-known/did.json", _static(identity.did_document().to_json()))
            app.router.add_routes(routes)
        app.router.add_get("/whoami", _whoami)

        async def close(app: web.Application) -> AsyncIterator[None]:
            yield
            await app[AUTHENTICATOR].close()

        app.cleanup_ctx.append(close)
        self.runners.append(await start_app(app, sock))
        return Participant(did, url, identity, auth, [c.record.id for c in boot.issued])


def _static(doc: dict[str, Any]) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(doc)
    return handler


async def _whoami(request: web.Request) -> web.Response:
    try:
        caller = await request.app[AUTHENTICATOR].authenticate(request)
    except AuthError as exc:
        return web.json_response({"status": exc.status, "reason": exc.reason}, status=exc.status)
    return web.json_response({"participantId": caller.participant_id, "dataSpaces": list(caller.data_spaces),
                              "credentials": len(caller.credentials), **caller.extra})


async def _authority(tmp: Path, data_space: str, runners: list[web.AppRunner], key_type: str = "Ed25519") -> Authority:
    sock = listening_socket("127.0.0.1", 0)
    did = did_web_from_url(f"http://127.0.0.1:{sock.getsockname()[1]}")
    authority = Authority.create(did, KeyPair.generate(key_type), data_space, allow_http_loopback=True,
                                 state_file=tmp / f"{data_space}-state.json")
    runners.append(await start_app(create_authority_app(authority, admin_api_key=ADMIN_KEY), sock))
    return authority


@pytest.fixture
async def topo(tmp_path: Path) -> AsyncIterator[Topology]:
    runners: list[web.AppRunner] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        try:
            jp_auth = await _authority(tmp_path, "ouranos-jp", runners)
            tw_auth = await _authority(tmp_path, "taiwan-tw", runners, "P-256")
            rogue = await _authority(tmp_path, "rogue-space", runners)
            trust = trust_store_for([jp_auth, tw_auth])
            t = Topology(jp_auth, tw_auth, rogue, trust, None, None, tmp_path, runners, http)  # type: ignore[arg-type]
            t.jp = await t.add_participant(jp_auth, data_space="ouranos-jp", name="jp")
            t.tw = await t.add_participant(tw_auth, data_space="taiwan-tw", name="tw")
            yield t
        finally:
            for runner in reversed(runners):
                await runner.cleanup()


# -- success and caching ---------------------------------------------------------------------
async def test_tw_caller_is_a_trusted_member_for_the_jp_verifier(topo: Topology) -> None:
    status, body = await topo.call(topo.tw, topo.jp)
    assert status == 200, body
    assert body["participantId"] == topo.tw.did
    assert body["dataSpaces"] == ["taiwan-tw"]
    assert body["trustedBy"] == ["ouranos-jp", "taiwan-tw"]  # ouranos-jp through its recognition of taiwan-tw
    assert body["memberships"][0]["issuer"] == topo.tw_authority.did
    assert body["credentials"] == 1 and body["cachedPresentation"] is False

    # and the reverse direction: a JP caller at the TW verifier
    status, body = await topo.call(topo.jp, topo.tw)
    assert status == 200, body
    assert body["dataSpaces"] == ["ouranos-jp"] and "taiwan-tw" in body["trustedBy"]


async def test_verified_presentation_is_cached_per_caller(topo: Topology) -> None:
    for _ in range(3):
        status, body = await topo.call(topo.tw, topo.jp)
        assert status == 200, body
    assert body["cachedPresentation"] is True
    assert topo.jp.auth.queries == 1  # one presentation round trip for three requests


# -- refused at the ID token: 401 -----------------------------------------------------------
async def test_missing_token(topo: Topology) -> None:
    status, body = await topo.whoami(topo.jp, None)
    assert status == 401 and "missing bearer token" in body["reason"]
    status, body = await topo.whoami(topo.jp, "Basic dXNlcjpwdw==")
    assert status == 401 and "missing bearer token" in body["reason"]


async def test_expired_token(topo: Topology) -> None:
    token = topo.tw.auth.id_token(topo.jp.did, now=time.time() - 900)
    status, body = await topo.whoami(topo.jp, f"Bearer {token}")
    assert status == 401 and "expired" in body["reason"]


async def test_replayed_token(topo: Topology) -> None:
    header = await topo.tw.auth.outgoing_authorization(topo.jp.did)
    assert (await topo.whoami(topo.jp, header))[0] == 200
    status, body = await topo.whoami(topo.jp, header)
    assert status == 401 and "replay" in body["reason"]


async def test_token_for_another_audience(topo: Topology) -> None:
    header = await topo.tw.auth.outgoing_authorization("did:web:someone.else.example")
    status, body = await topo.whoami(topo.jp, header)
    assert status == 401 and "audience" in body["reason"] and topo.jp.did in body["reason"]


async def test_token_signed_by_another_key(topo: Topology) -> None:
    now = int(time.time())
    claims = {"iss": topo.tw.did, "sub": topo.tw.did, "aud": topo.jp.did, "jti": "forged-1", "iat": now,
              "exp": now + 60, "token": "x"}
    forged = sign_jwt(claims, KeyPair.generate(topo.tw.identity.key.key_type), kid=topo.tw.identity.kid, typ="JWT")
    status, body = await topo.whoami(topo.jp, f"Bearer {forged}")
    assert status == 401 and "signature does not verify" in body["reason"]


async def test_token_without_access_token(topo: Topology) -> None:
    ident = topo.tw.identity
    token = create_id_token(holder_did=ident.did, key=ident.key, kid=ident.kid, audience=topo.jp.did)
    status, body = await topo.whoami(topo.jp, f"Bearer {token}")
    assert status == 401 and "'token' claim" in body["reason"]


async def test_garbage_token(topo: Topology) -> None:
    status, body = await topo.whoami(topo.jp, "Bearer not.a.jwt")
    assert status == 401 and "malformed" in body["reason"]


# -- refused at trust or status: 403 -------------------------------------------------------
async def test_credential_from_an_untrusted_authority(topo: Topology) -> None:
    rogue_member = await _rogue_member(topo)
    status, body = await topo.call(rogue_member, topo.jp)
    assert status == 403, body
    assert "not trusted by data space ouranos-jp" in body["reason"] and topo.rogue_authority.did in body["reason"]


async def _rogue_member(topo: Topology) -> Participant:
    # its own verifier must know its data space; give it one that trusts the rogue authority
    topo.trust = TrustStore([*(topo.trust.get(n) for n in topo.trust.names)])
    topo.trust.add(TrustList(name="rogue-space", authorities=[topo.rogue_authority.did],
                             accepted_types=["MembershipCredential"]))
    return await topo.add_participant(topo.rogue_authority, data_space="rogue-space", name="rogue")


async def test_revoked_credential_is_refused_despite_the_cached_presentation(topo: Topology) -> None:
    assert (await topo.call(topo.tw, topo.jp))[0] == 200
    cred_id = topo.tw.credential_ids[0]
    async with topo.http.post(f"{topo.tw_authority.base_url}/api/admin/credentials/{cred_id}/revoke",
                              headers={"X-Api-Key": ADMIN_KEY}) as resp:
        assert resp.status == 200 and (await resp.json())["revoked"] is True
    status, body = await topo.call(topo.tw, topo.jp)
    assert status == 403, body
    assert "revocation bit" in body["reason"] and f"{topo.tw_authority.base_url}/status/1" in body["reason"]
    assert topo.jp.auth.queries == 1  # refused from the cached presentation, with a fresh status list
    # the cache entry is dropped: the next attempt queries again and is refused again
    status, body = await topo.call(topo.tw, topo.jp)
    assert status == 403 and "revocation bit" in body["reason"] and topo.jp.auth.queries == 2


# -- refused at the presentation: 401 -------------------------------------------------------
async def _hostile(topo: Topology, answer: Any, status: int = 200) -> Participant:
    routes = web.RouteTableDef()

    @routes.post("/api/credentials/presentations/query")
    async def query(request: web.Request) -> web.Response:
        if isinstance(answer, bytes):
            return web.Response(body=answer, status=status, content_type="application/json")
        return web.json_response(answer(topo) if callable(answer) else answer, status=status)

    return await topo.add_participant(topo.tw_authority, data_space="taiwan-tw", name=f"hostile{len(topo.runners)}",
                                      routes=routes)


@pytest.mark.parametrize("answer, reason", [
    (b"{ this is not json", "not JSON"),
    ({"hello": "world"}, "invalid PresentationResponseMessage"),
    ({"@context": ["https://w3id.org/dspace-dcp/v1.0/dcp.jsonld"], "type": "PresentationResponseMessage",
      "presentation": ["eyJhbGciOiJFZERTQSJ9.e30.c2ln"]}, "presentation 0 rejected"),
])
async def test_garbage_presentation(topo: Topology, answer: Any, reason: str) -> None:
    hostile = await _hostile(topo, answer)
    status, body = await topo.call(hostile, topo.jp)
    assert status == 401 and reason in body["reason"], body


async def test_presentation_held_by_someone_else(topo: Topology) -> None:
    """A caller replaying another participant's (valid, signed) presentation."""
    def someone_elses(t: Topology) -> dict[str, Any]:
        from identity.dcp import PresentationResponseMessage, build_membership_presentation
        ident = t.tw.identity
        vp = build_membership_presentation(holder_did=ident.did, key=ident.key, kid=ident.kid,
                                           credentials=ident.credentials, audience=t.jp.did)
        return PresentationResponseMessage(presentation=[vp]).to_json()

    hostile = await _hostile(topo, someone_elses)
    status, body = await topo.call(hostile, topo.jp)
    assert status == 401 and f"not by the caller {hostile.did}" in body["reason"], body


async def test_credential_service_refusal_is_reported(topo: Topology) -> None:
    hostile = await _hostile(topo, {"error": "no such token", "status": 401}, status=401)
    status, body = await topo.call(hostile, topo.jp)
    assert status == 401 and "HTTP 401: no such token" in body["reason"]
