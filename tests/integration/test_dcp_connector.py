"""DCP in front of the real connector application: a TW caller asks a JP connector (built by
`create_app` with the authenticator from `connector.dcp_auth.from_settings`) for its catalog."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from connector.app import create_app
from connector.authority_app import listening_socket, start_app
from connector.config import Settings
from connector.credential_service import ConnectorIdentity, CredentialService, add_identity_routes
from connector.dcp_auth import DcpAuthenticator, from_settings
from connector.dsp.messages import CatalogRequestMessage
from identity.authority import Authority, bootstrap_participant, trust_store_for, write_trust_file
from identity.did import DidResolver, did_web_from_url
from identity.keys import KeyPair


@pytest.fixture
async def jp_connector(tmp_path: Path) -> AsyncIterator[tuple[str, str, DcpAuthenticator]]:
    """(JP DSP base URL, JP DID, the TW caller's authenticator) with both sides on loopback."""
    runners: list[web.AppRunner] = []
    jp_auth = Authority.create("did:web:authority.jp.example", KeyPair.generate(), "ouranos-jp")
    tw_auth = Authority.create("did:web:authority.tw.example", KeyPair.generate(), "taiwan-tw")
    trust_file = write_trust_file(tmp_path / "trust.json", trust_store_for([jp_auth, tw_auth]))
    # The authorities are pinned (DID documents and status lists) rather than served: this test is
    # about the connector; test_dcp_auth.py runs them as servers.
    bundle = tmp_path / "dids.json"
    bundle.write_text(json.dumps({a.did: a.did_document().to_json() for a in (jp_auth, tw_auth)}))
    try:
        jp_sock = listening_socket("127.0.0.1", 0)
        jp_url = f"http://127.0.0.1:{jp_sock.getsockname()[1]}"
        jp_did = did_web_from_url(jp_url)
        jp = bootstrap_participant(jp_auth, jp_did, tmp_path / "jp", credential_service_url=jp_url + "/api/credentials")
        settings = Settings(name="JP Battery", participant_id=jp_did, data_space="ouranos-jp",
                            port=int(jp_url.rsplit(":", 1)[1]), database=f"sqlite+aiosqlite:///{tmp_path / 'jp.db'}", key_file=jp.key_file,
                            api_key="management-key-0123456789", trust_file=trust_file,
                            credential_files=tuple(jp.credential_files), did_bundle=bundle, allow_http_loopback=True)
        verifier = from_settings(settings, status_ttl=0)
        app = create_app(settings, authenticator=verifier)
        add_identity_routes(app, CredentialService(verifier.identity, verifier.resolver))
        runners.append(await start_app(app, jp_sock))

        tw_sock = listening_socket("127.0.0.1", 0)
        tw_url = f"http://127.0.0.1:{tw_sock.getsockname()[1]}"
        tw = bootstrap_participant(tw_auth, did_web_from_url(tw_url), tmp_path / "tw",
                                   credential_service_url=tw_url + "/api/credentials")
        for a in (jp_auth, tw_auth):
            verifier.status_lists.add(a.status_list_url("1"), a.signed_status_list("1"))
        tw_identity = ConnectorIdentity(tw.did, tw.key, [c.credential for c in tw.issued], base_url=tw_url)
        caller = DcpAuthenticator(tw_identity, verifier.trust, data_space="taiwan-tw",
                                  resolver=DidResolver(allow_http_loopback=True), allow_http_loopback=True)
        tw_app = web.Application()
        add_identity_routes(tw_app, CredentialService(tw_identity, DidResolver(allow_http_loopback=True)))
        runners.append(await start_app(tw_app, tw_sock))
        yield jp_url + "/api/dsp", jp_did, caller
        await caller.close()
    finally:
        for r in reversed(runners):
            await r.cleanup()


async def test_catalog_request_over_dcp(jp_connector: tuple[str, str, DcpAuthenticator]) -> None:
    dsp, jp_did, caller = jp_connector
    body = CatalogRequestMessage().to_dict()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        async with http.post(dsp + "/catalog/request", json=body) as resp:
            refused = await resp.json()
            assert resp.status == 401, refused
        assert "missing bearer token" in str(refused)
        headers = {"Authorization": await caller.outgoing_authorization(jp_did)}
        async with http.post(dsp + "/catalog/request", json=body, headers=headers) as resp:
            catalog = await resp.json()
            assert resp.status == 200, catalog
        assert catalog.get("participantId") == jp_did or catalog.get("dspace:participantId") == jp_did, catalog
        async with http.post(dsp + "/catalog/request", json=body, headers=headers) as resp:
            replayed = await resp.json()
            assert resp.status == 401 and "replay" in str(replayed)


async def test_process_message_records_its_token_with_the_state_change(
        jp_connector: tuple[str, str, DcpAuthenticator]) -> None:
    """A message that changes a process records its token id in the same transaction: a
    replayed token is refused (401) and creates nothing; a token first used on a message that
    failed (404) is used up all the same."""
    from connector.dsp.messages import ContractRequestMessage, Offer

    dsp, jp_did, caller = jp_connector
    offer = Offer.model_validate({"@id": "urn:offer:1", "@type": "Offer", "target": "asset-1",
                                  "permission": [{"action": "use"}]})

    def request(pid: str) -> dict:
        return ContractRequestMessage(consumer_pid=pid, offer=offer, callback_address="http://127.0.0.1:9/api/dsp").to_dict()

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        headers = {"Authorization": await caller.outgoing_authorization(jp_did)}
        async with http.post(dsp + "/negotiations/request", json=request("urn:uuid:first"), headers=headers) as resp:
            first = await resp.json()
            assert resp.status == 201, first
        async with http.post(dsp + "/negotiations/request", json=request("urn:uuid:second"), headers=headers) as resp:
            replayed = await resp.json()
            assert resp.status == 401 and "replay" in str(replayed), replayed
        async with http.get(dsp + "/negotiations/" + first["providerPid"],
                            headers={"Authorization": await caller.outgoing_authorization(jp_did)}) as resp:
            assert resp.status == 200 and (await resp.json())["consumerPid"] == "urn:uuid:first"

        headers = {"Authorization": await caller.outgoing_authorization(jp_did)}
        termination = {"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
                       "@type": "ContractNegotiationTerminationMessage", "consumerPid": "urn:uuid:nope",
                       "providerPid": "urn:uuid:nope", "code": "x"}
        async with http.post(dsp + "/negotiations/urn:uuid:nope/termination", json=termination, headers=headers) as resp:
            assert resp.status == 404, await resp.text()
        async with http.post(dsp + "/negotiations/request", json=request("urn:uuid:third"), headers=headers) as resp:
            again = await resp.json()
            assert resp.status == 401 and "replay" in str(again), again
