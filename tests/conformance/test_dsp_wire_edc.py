"""An EDC-shaped consumer against our provider: its message forms are accepted, ours validate.

Eclipse EDC sends DSP messages with its extra context, ``dspace:`` / ``odrl:`` prefixes,
``{"@id": ...}`` wrappers, an ``@id`` on every message and ``reason`` as a plain string. A
stand-in EDC consumer (a small aiohttp app on loopback) drives our provider, in-process,
through catalog, negotiation to FINALIZED, a transfer to COMPLETED and a termination, in
those forms; every message the provider sends back or calls back with is checked, as sent,
against the 2025-1 schemas.
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
from connector.config import Settings
from connector.dev_auth import SharedSecretAuthenticator
from connector.dsp import schemas
from identity.keys import KeyPair

pytestmark = pytest.mark.timeout(60)

ME = "did:web:provider.test"
EDC_PEER = "did:web:edc-consumer.test"
SECRET = "wire-test-shared-secret-0123456789"
API_KEY = "wire-test-api-key-0123456"
EDC = "https://w3id.org/edc/v0.0.1/ns/"
DSPACE = "https://w3id.org/dspace/2025/1/"
EDC_DSP_CONTEXT = ["https://w3id.org/dspace/2025/1/context.jsonld", "https://w3id.org/edc/dspace/v0.0.1",
                   {"edc": EDC, "dspace": DSPACE, "odrl": "http://www.w3.org/ns/odrl/2/",
                    "dct": "http://purl.org/dc/terms/"}]


class EdcConsumer:
    """The callback side of an EDC consumer: records what our provider posts, answers 200 (as EDC does)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.arrived = asyncio.Event()
        self.server: TestServer | None = None

    async def _callback(self, request: web.Request) -> web.Response:
        self.received.append((request.path, await request.json()))
        self.arrived.set()
        return web.Response(status=200)

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


@pytest.fixture
async def edc() -> AsyncIterator[EdcConsumer]:
    consumer = EdcConsumer()
    app = web.Application()
    app.router.add_post("/api/dsp/{tail:.*}", consumer._callback)
    consumer.server = TestServer(app, host="127.0.0.1")
    await consumer.server.start_server()
    yield consumer
    await consumer.server.close()


@pytest.fixture
async def provider(tmp_path: Path) -> AsyncIterator[TestClient]:
    key = tmp_path / "key.jwk"
    KeyPair.generate("Ed25519").save(key)
    settings = Settings(name="p", participant_id=ME, key_file=key, api_key=API_KEY, allow_http_loopback=True,
                        database=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    app = create_app(settings, authenticator=SharedSecretAuthenticator(ME, SECRET))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def dsp(client: TestClient, method: str, path: str, body: Any = None, *, expect: int = 200) -> Any:
    token = SharedSecretAuthenticator(EDC_PEER, SECRET).issue(ME)
    resp = await client.request(method, "/api/dsp" + path, json=body, headers={"Authorization": "Bearer " + token})
    text = await resp.text()
    assert resp.status == expect, f"{method} {path} -> {resp.status}: {text}"
    return await resp.json() if text else None


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


async def test_edc_shaped_consumer_runs_every_flow(provider: TestClient, edc: EdcConsumer) -> None:
    await publish(provider)
    catalog = await dsp(provider, "POST", "/catalog/request", edc_message("CatalogRequestMessage", filter=[]))
    schemas.validate(catalog, "Catalog")
    [dataset] = catalog["dataset"]
    schemas.validate(await dsp(provider, "GET", "/catalog/datasets/pcf-edc"), "Dataset")
    offer_id = dataset["hasPolicy"][0]["@id"]

    # Contract request as EDC writes it: prefixed keys, @id wrappers, odrl: terms, a message @id.
    consumer_pid = f"urn:uuid:{uuid.uuid4()}"
    request = edc_message("ContractRequestMessage", consumerPid=consumer_pid, callbackAddress=edc.url, offer={
        "@type": "odrl:Offer", "@id": offer_id, "odrl:target": {"@id": "pcf-edc"}, "odrl:assigner": {"@id": ME},
        "odrl:permission": [{"odrl:action": {"@id": "odrl:use"}}], "odrl:prohibition": [], "odrl:obligation": []})
    ack = await dsp(provider, "POST", "/negotiations/request", request, expect=201)
    schemas.validate(ack, "ContractNegotiation")
    provider_pid = ack["providerPid"]
    assert ack["consumerPid"] == consumer_pid and ack["state"] == "REQUESTED"

    agreement = await edc.wait_for("ContractAgreementMessage")
    schemas.validate(agreement, "ContractAgreementMessage")
    assert agreement["agreement"]["assignee"] == EDC_PEER and agreement["agreement"]["target"] == "pcf-edc"
    await dsp(provider, "POST", f"/negotiations/{provider_pid}/agreement/verification",
              edc_message("ContractAgreementVerificationMessage", consumerPid={"@id": consumer_pid},
                          providerPid=provider_pid))
    finalized = await edc.wait_for("ContractNegotiationEventMessage")
    schemas.validate(finalized, "ContractNegotiationEventMessage")
    assert finalized["eventType"] == "FINALIZED"
    state = await dsp(provider, "GET", f"/negotiations/{provider_pid}")
    schemas.validate(state, "ContractNegotiation")
    assert state["state"] == "FINALIZED"

    # Transfer: pull, started with a data address, completed by the EDC side.
    transfer_pid = f"urn:uuid:{uuid.uuid4()}"
    ack = await dsp(provider, "POST", "/transfers/request", edc_message(
        "TransferRequestMessage", consumerPid=transfer_pid, agreementId={"@id": agreement["agreement"]["@id"]},
        format="HttpData-PULL", callbackAddress=edc.url), expect=201)
    schemas.validate(ack, "TransferProcess")
    start = await edc.wait_for("TransferStartMessage")
    schemas.validate(start, "TransferStartMessage")
    assert start["dataAddress"]["endpointType"] and start["dataAddress"]["endpointProperties"]
    await dsp(provider, "POST", f"/transfers/{ack['providerPid']}/completion",
              edc_message("TransferCompletionMessage", consumerPid=transfer_pid, providerPid=ack["providerPid"]))
    process = await dsp(provider, "GET", f"/transfers/{ack['providerPid']}")
    schemas.validate(process, "TransferProcess")
    assert process["state"] == "COMPLETED"

    # A second negotiation the EDC side terminates, with `reason` as a bare string.
    second = f"urn:uuid:{uuid.uuid4()}"
    request["dspace:consumerPid"] = second
    ack = await dsp(provider, "POST", "/negotiations/request", {**request, "@id": f"urn:uuid:{uuid.uuid4()}"},
                    expect=201)
    await dsp(provider, "POST", f"/negotiations/{ack['providerPid']}/termination", edc_message(
        "ContractNegotiationTerminationMessage", consumerPid=second, providerPid=ack["providerPid"],
        code="edc:Cancelled", reason="no longer needed"))
    state = await dsp(provider, "GET", f"/negotiations/{ack['providerPid']}")
    schemas.validate(state, "ContractNegotiation")
    assert state["state"] == "TERMINATED"

    # Everything our provider posted to the EDC side conforms as sent.
    assert {body["@type"] for _p, body in edc.received} >= {
        "ContractAgreementMessage", "ContractNegotiationEventMessage", "TransferStartMessage"}
    for path, body in edc.received:
        schemas.validate(body)
        assert path.startswith("/api/dsp/negotiations/" if "Contract" in body["@type"] else "/api/dsp/transfers/")


async def test_edc_forms_that_break_the_schema_are_refused_in_protocol_shape(provider: TestClient) -> None:
    """The normalisation is not a free pass: a request without its consumerPid stays a 400."""
    bad = edc_message("ContractRequestMessage", callbackAddress="http://127.0.0.1:9/api/dsp",
                      offer={"@type": "odrl:Offer", "@id": "urn:x", "odrl:target": {"@id": "pcf-edc"}})
    error = await dsp(provider, "POST", "/negotiations/request", bad, expect=400)
    schemas.validate(error, "ContractNegotiationError")
