"""An EDC-shaped consumer against our provider: its message forms are accepted, ours validate.

Eclipse EDC sends DSP messages with its extra context, ``dspace:`` / ``odrl:`` prefixes,
``{"@id": ...}`` wrappers, an ``@id`` on every message and ``reason`` as a plain string. A
stand-in EDC consumer (a small aiohttp app on loopback) drives our provider, in-process,
through catalog, negotiation to FINALIZED, a transfer to COMPLETED and a termination, in
those forms; every message the provider sends back or calls back with is checked, as sent,
against the 2025-1 schemas.

Identity is DCP on both sides, as between EDC connectors: each side has a did:web on its
loopback address and a MembershipCredential from a running authority (the provider from JP,
the EDC side from TW); the provider is built with the product's default authenticator, and
the EDC side checks the ID token on every callback it receives.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from connector.app import create_app
from connector.auth import AuthError
from connector.config import Settings
from connector.credential_service import ConnectorIdentity, CredentialService, add_identity_routes
from connector.dcp_auth import DcpAuthenticator
from connector.dsp import schemas
from identity.authority import write_credential
from identity.did import DidResolver, did_web_from_url
from identity.keys import KeyPair
from identity.trust import TrustStore
from tests.integration.conftest import dataspace  # noqa: F401  (fixture)
from tests.integration.processes import CLAIMS, Dataspace, free_port

pytestmark = pytest.mark.timeout(60)

API_KEY = "wire-test-api-key-0123456"
EDC = "https://w3id.org/edc/v0.0.1/ns/"
DSPACE = "https://w3id.org/dspace/2025/1/"
EDC_DSP_CONTEXT = ["https://w3id.org/dspace/2025/1/context.jsonld", "https://w3id.org/edc/dspace/v0.0.1",
                   {"edc": EDC, "dspace": DSPACE, "odrl": "http://www.w3.org/ns/odrl/2/",
                    "dct": "http://purl.org/dc/terms/"}]


class EdcConsumer:
    """The EDC side: a DCP identity (DID document, Credential Service) and the callback endpoint,
    which checks each caller's ID token, records what our provider posts and answers 200 (as EDC does)."""

    def __init__(self, auth: DcpAuthenticator, provider_did: str) -> None:
        self.auth = auth
        self.did = auth.identity.did
        self.provider_did = provider_did
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.callers: list[str] = []
        self.arrived = asyncio.Event()
        self.server: TestServer | None = None

    async def _callback(self, request: web.Request) -> web.Response:
        try:
            caller = await self.auth.authenticate(request)
        except AuthError as exc:
            return web.json_response({"error": exc.reason}, status=exc.status)
        self.callers.append(caller.participant_id)
        self.received.append((request.path, await request.json()))
        self.arrived.set()
        return web.Response(status=200)

    async def dsp(self, client: TestClient, method: str, path: str, body: Any = None, *, expect: int = 200) -> Any:
        """Call our provider's DSP endpoint as EDC would: with a fresh DCP ID token."""
        headers = {"Authorization": await self.auth.outgoing_authorization(self.provider_did)}
        resp = await client.request(method, "/api/dsp" + path, json=body, headers=headers)
        text = await resp.text()
        assert resp.status == expect, f"{method} {path} -> {resp.status}: {text}"
        return await resp.json() if text else None

    async def wait_for(self, kind: str, timeout: float = 15) -> dict[str, Any]:
        async def first() -> dict[str, Any]:
            while True:
                for _path, body in self.received:
                    if body.get("@type") == kind:
                        return body
                self.arrived.clear()
                await self.arrived.wait()

        return await asyncio.wait_for(first(), timeout)

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/api/dsp"))


def _member(ds: Dataspace, authority: str, folder: Path) -> tuple[int, str, Path, Path]:
    """(port, DID, key file, credential file) of a new member of `authority`'s data space."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    did = did_web_from_url(f"http://127.0.0.1:{port}")
    KeyPair.generate("Ed25519").save(folder / "key.jwk")
    _, credential = ds.issue(authority, did, dict(CLAIMS[authority]))
    write_credential(folder / "membership.jwt", credential)
    return port, did, folder / "key.jwk", folder / "membership.jwt"


@pytest.fixture
async def parties(dataspace: Dataspace, tmp_path: Path) -> AsyncIterator[tuple[TestClient, EdcConsumer]]:  # noqa: F811
    trust = dataspace.write_trust_file(tmp_path / "trust.json")
    port, me, key, credential = _member(dataspace, "jp", tmp_path / "provider")
    settings = Settings(name="p", participant_id=me, data_space="ouranos-jp", port=port, key_file=key,
                        api_key=API_KEY, trust_file=trust, credential_files=(credential,), allow_http_loopback=True,
                        database=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    app = create_app(settings)  # the product's authenticator: DCP from the settings

    edc_port, edc_did, edc_key, edc_credential = _member(dataspace, "tw", tmp_path / "edc")
    identity = ConnectorIdentity.load(edc_did, edc_key, [edc_credential], base_url=f"http://127.0.0.1:{edc_port}")
    resolver = DidResolver(allow_http_loopback=True)
    auth = DcpAuthenticator(identity, TrustStore.load(trust), data_space="taiwan-tw", resolver=resolver,
                            allow_http_loopback=True)
    edc = EdcConsumer(auth, me)
    edc_app = web.Application()
    add_identity_routes(edc_app, CredentialService(identity, resolver))
    edc_app.router.add_post("/api/dsp/{tail:.*}", edc._callback)
    edc.server = TestServer(edc_app, host="127.0.0.1", port=edc_port)
    await edc.server.start_server()
    try:
        async with TestClient(TestServer(app, host="127.0.0.1", port=port)) as client:
            yield client, edc
    finally:
        await edc.server.close()
        await auth.close()


def edc_message(kind: str, **fields: Any) -> dict[str, Any]:
    return {"@context": EDC_DSP_CONTEXT, "@id": f"urn:uuid:{uuid.uuid4()}", "@type": f"dspace:{kind}",
            **{f"dspace:{k}": v for k, v in fields.items()}}


async def publish(client: TestClient) -> None:
    key = {"X-Api-Key": API_KEY}
    vocab = {"@vocab": EDC, "odrl": "http://www.w3.org/ns/odrl/2/"}
    for path, body in (
        ("/assets", {"@context": vocab, "@id": "pcf-edc", "properties": {"name": "pcf"},
                     "dataAddress": {"type": "HttpData", "baseUrl": "https://example.com"}}),
        ("/policydefinitions", {"@context": vocab, "@id": "open", "policy": {
            "@type": "odrl:Set", "odrl:permission": [{"odrl:action": {"@id": "odrl:use"}}]}}),
        ("/contractdefinitions", {"@context": vocab, "@id": "def", "accessPolicyId": "open",
                                  "contractPolicyId": "open", "assetsSelector": []}),
    ):
        resp = await client.post("/api/management/v3" + path, json=body, headers=key)
        assert resp.status == 200, await resp.text()


async def test_edc_shaped_consumer_runs_every_flow(parties: tuple[TestClient, EdcConsumer]) -> None:
    provider, edc = parties
    ME, EDC_PEER = edc.provider_did, edc.did  # noqa: N806
    await publish(provider)
    catalog = await edc.dsp(provider, "POST", "/catalog/request", edc_message("CatalogRequestMessage", filter=[]))
    schemas.validate(catalog, "Catalog")
    [dataset] = catalog["dataset"]
    schemas.validate(await edc.dsp(provider, "GET", "/catalog/datasets/pcf-edc"), "Dataset")
    offer_id = dataset["hasPolicy"][0]["@id"]

    # Contract request as EDC writes it: prefixed keys, @id wrappers, odrl: terms, a message @id.
    consumer_pid = f"urn:uuid:{uuid.uuid4()}"
    request = edc_message("ContractRequestMessage", consumerPid=consumer_pid, callbackAddress=edc.url, offer={
        "@type": "odrl:Offer", "@id": offer_id, "odrl:target": {"@id": "pcf-edc"}, "odrl:assigner": {"@id": ME},
        "odrl:permission": [{"odrl:action": {"@id": "odrl:use"}}], "odrl:prohibition": [], "odrl:obligation": []})
    ack = await edc.dsp(provider, "POST", "/negotiations/request", request, expect=201)
    schemas.validate(ack, "ContractNegotiation")
    provider_pid = ack["providerPid"]
    assert ack["consumerPid"] == consumer_pid and ack["state"] == "REQUESTED"

    agreement = await edc.wait_for("ContractAgreementMessage")
    schemas.validate(agreement, "ContractAgreementMessage")
    assert agreement["agreement"]["assignee"] == EDC_PEER and agreement["agreement"]["target"] == "pcf-edc"
    await edc.dsp(provider, "POST", f"/negotiations/{provider_pid}/agreement/verification",
              edc_message("ContractAgreementVerificationMessage", consumerPid={"@id": consumer_pid},
                          providerPid=provider_pid))
    finalized = await edc.wait_for("ContractNegotiationEventMessage")
    schemas.validate(finalized, "ContractNegotiationEventMessage")
    assert finalized["eventType"] == "FINALIZED"
    state = await edc.dsp(provider, "GET", f"/negotiations/{provider_pid}")
    schemas.validate(state, "ContractNegotiation")
    assert state["state"] == "FINALIZED"

    # Transfer: pull, started with a data address, completed by the EDC side.
    transfer_pid = f"urn:uuid:{uuid.uuid4()}"
    ack = await edc.dsp(provider, "POST", "/transfers/request", edc_message(
        "TransferRequestMessage", consumerPid=transfer_pid, agreementId={"@id": agreement["agreement"]["@id"]},
        format="HttpData-PULL", callbackAddress=edc.url), expect=201)
    schemas.validate(ack, "TransferProcess")
    start = await edc.wait_for("TransferStartMessage")
    schemas.validate(start, "TransferStartMessage")
    assert start["dataAddress"]["endpointType"] and start["dataAddress"]["endpointProperties"]
    await edc.dsp(provider, "POST", f"/transfers/{ack['providerPid']}/completion",
              edc_message("TransferCompletionMessage", consumerPid=transfer_pid, providerPid=ack["providerPid"]))
    process = await edc.dsp(provider, "GET", f"/transfers/{ack['providerPid']}")
    schemas.validate(process, "TransferProcess")
    assert process["state"] == "COMPLETED"

    # A second negotiation the EDC side terminates, with `reason` as a bare string.
    second = f"urn:uuid:{uuid.uuid4()}"
    request["dspace:consumerPid"] = second
    ack = await edc.dsp(provider, "POST", "/negotiations/request", {**request, "@id": f"urn:uuid:{uuid.uuid4()}"},
                    expect=201)
    await edc.dsp(provider, "POST", f"/negotiations/{ack['providerPid']}/termination", edc_message(
        "ContractNegotiationTerminationMessage", consumerPid=second, providerPid=ack["providerPid"],
        code="edc:Cancelled", reason="no longer needed"))
    state = await edc.dsp(provider, "GET", f"/negotiations/{ack['providerPid']}")
    schemas.validate(state, "ContractNegotiation")
    assert state["state"] == "TERMINATED"

    # Everything our provider posted to the EDC side conforms as sent.
    assert {body["@type"] for _p, body in edc.received} >= {
        "ContractAgreementMessage", "ContractNegotiationEventMessage", "TransferStartMessage"}
    assert set(edc.callers) == {ME}, "every callback carried the provider's valid DCP ID token"
    for path, body in edc.received:
        schemas.validate(body)
        assert path.startswith("/api/dsp/negotiations/" if "Contract" in body["@type"] else "/api/dsp/transfers/")


async def test_edc_forms_that_break_the_schema_are_refused_in_protocol_shape(
        parties: tuple[TestClient, EdcConsumer]) -> None:
    """The normalisation is not a free pass: a request without its consumerPid stays a 400."""
    provider, edc = parties
    bad = edc_message("ContractRequestMessage", callbackAddress="http://127.0.0.1:9/api/dsp",
                      offer={"@type": "odrl:Offer", "@id": "urn:x", "odrl:target": {"@id": "pcf-edc"}})
    error = await edc.dsp(provider, "POST", "/negotiations/request", bad, expect=400)
    schemas.validate(error, "ContractNegotiationError")
