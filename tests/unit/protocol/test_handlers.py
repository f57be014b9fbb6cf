"""DSP and Management handlers refuse bad input with 4xx bodies in the protocol's shape, never 5xx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connector.app import SETTINGS, create_app
from connector.config import Settings
from tests.auth_stub import SharedSecretAuthenticator
from connector.dsp import schemas
from identity.keys import KeyPair

ME = "did:web:provider.test"
PEER = "did:web:consumer.test"
SECRET = "unit-test-shared-secret-0123456789"
API_KEY = "unit-test-api-key-0123456"
CTX = ["https://w3id.org/dspace/2025/1/context.jsonld"]


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    key = tmp_path / "key.jwk"
    KeyPair.generate("Ed25519").save(key)
    settings = Settings(name="p", participant_id=ME, key_file=key, api_key=API_KEY, allow_http_loopback=True,
                        database=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", max_body_bytes=4096)
    app = create_app(settings, authenticator=SharedSecretAuthenticator(ME, SECRET))
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c


def peer_auth(audience: str = ME) -> dict[str, str]:
    return {"Authorization": "Bearer " + SharedSecretAuthenticator(PEER, SECRET).issue(audience)}


async def test_health_metrics_and_version(client: TestClient) -> None:
    assert (await client.get("/health/live")).status == 200
    assert (await client.get("/health/ready")).status == 200
    for path in ("/.well-known/dspace-version", "/api/dsp/.well-known/dspace-version"):
        doc = await (await client.get(path)).json()
        schemas.validate(doc, "VersionResponse")
        [v] = doc["protocolVersions"]
        assert v["version"] == "2025-1" and v["path"] == "/api/dsp" and v["auth"]["protocol"] == "DCP"
    await client.get("/health/live")
    assert (await client.get("/metrics")).status == 401  # operators only
    assert (await client.get("/metrics", headers={"X-Api-Key": "wrong-key-0123456789"})).status == 401
    key = client.app[SETTINGS].api_key
    text = await (await client.get("/metrics", headers={"X-Api-Key": key})).text()
    assert "kakehashi_http_requests_total" in text
    bearer = await client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
    assert bearer.status == 200


@pytest.mark.parametrize("body,status,code", [
    (b"{not json", 400, "MalformedMessage"),
    (b"[]", 400, "MalformedMessage"),
    (json.dumps({"@context": CTX, "@type": "ContractRequestMessage", "consumerPid": "urn:x"}).encode(), 400,
     "SchemaViolation"),
    (json.dumps({"@context": CTX, "@type": "TransferRequestMessage", "consumerPid": "urn:x", "agreementId": "a",
                 "format": "HttpData-PULL", "callbackAddress": "http://127.0.0.1:1"}).encode(), 400, "MalformedMessage"),
])
async def test_bad_negotiation_requests(client: TestClient, body: bytes, status: int, code: str) -> None:
    resp = await client.post("/api/dsp/negotiations/request", data=body, headers=peer_auth())
    assert resp.status == status
    error = await resp.json()
    assert error["@type"] == "ContractNegotiationError" and error["code"] == code, error
    schemas.validate(error, "ContractNegotiationError")


async def test_unknown_processes_are_404_in_the_right_shape(client: TestClient) -> None:
    msg = {"@context": CTX, "@type": "TransferCompletionMessage", "consumerPid": "urn:c", "providerPid": "urn:p"}
    resp = await client.post("/api/dsp/transfers/urn:p/completion", json=msg, headers=peer_auth())
    assert resp.status == 404
    body = await resp.json()
    assert body["@type"] == "TransferError" and body["providerPid"] == "urn:p"
    schemas.validate(body, "TransferError")
    resp = await client.get("/api/dsp/negotiations/urn:nope", headers=peer_auth())
    assert resp.status == 404 and (await resp.json())["@type"] == "ContractNegotiationError"
    resp = await client.get("/api/dsp/catalog/datasets/nothing", headers=peer_auth())
    assert resp.status == 404 and (await resp.json())["@type"] == "CatalogError"


async def test_unknown_agreement_transfer_request_is_refused(client: TestClient) -> None:
    msg = {"@context": CTX, "@type": "TransferRequestMessage", "consumerPid": "urn:c", "agreementId": "urn:a",
           "format": "HttpData-PULL", "callbackAddress": "http://127.0.0.1:9/api/dsp"}
    resp = await client.post("/api/dsp/transfers/request", json=msg, headers=peer_auth())
    assert resp.status == 404 and (await resp.json())["code"] == "UnknownAgreement"


async def test_oversized_body_is_413(client: TestClient) -> None:
    resp = await client.post("/api/dsp/catalog/request", data=b"{" + b" " * 10_000 + b"}", headers=peer_auth())
    assert resp.status == 413
    assert (await resp.json())["@type"] == "CatalogError"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, "wrong-audience"])
async def test_unauthenticated_protocol_calls_are_401(client: TestClient, headers: object) -> None:
    if headers == "wrong-audience":
        headers = peer_auth("did:web:someone-else.test")
    msg = {"@context": CTX, "@type": "CatalogRequestMessage"}
    resp = await client.post("/api/dsp/catalog/request", json=msg, headers=headers)  # type: ignore[arg-type]
    assert resp.status == 401 and (await resp.json())["@type"] == "CatalogError"


async def test_catalog_for_an_authenticated_peer(client: TestClient) -> None:
    resp = await client.post("/api/dsp/catalog/request", json={"@context": CTX, "@type": "CatalogRequestMessage"},
                             headers=peer_auth())
    assert resp.status == 200
    catalog = await resp.json()
    schemas.validate(catalog, "Catalog")
    assert catalog["participantId"] == ME


async def test_management_requires_api_key_and_rejects_bad_bodies(client: TestClient) -> None:
    assert (await client.post("/api/management/v3/contractnegotiations", json={})).status == 401
    key = {"X-Api-Key": API_KEY}
    for body in (b"nope", b"[]", b"{}", json.dumps({"counterPartyAddress": "ftp://x", "policy": {}}).encode(),
                 json.dumps({"counterPartyAddress": "http://127.0.0.1:9", "counterPartyId": "did:web:x",
                             "policy": {"@id": "o", "permission": [{"action": "use"}]}}).encode()):
        resp = await client.post("/api/management/v3/contractnegotiations", data=body, headers=key)
        assert 400 <= resp.status < 500, (body, resp.status, await resp.text())
        errors = await resp.json()
        assert isinstance(errors, list) and errors[0]["message"]
    resp = await client.get("/api/management/v3/transferprocesses/unknown", headers=key)
    assert resp.status == 404
    resp = await client.post("/api/management/v3/contractnegotiations/request",
                             json={"filterExpression": [{"operandLeft": "nope", "operator": "=", "operandRight": 1}]},
                             headers=key)
    assert resp.status == 400
    resp = await client.post("/api/management/v3/policydefinitions",
                             json={"@id": "bad", "policy": {"permission": [{"action": "use", "constraint": {
                                 "leftOperand": "noSuchOperand", "operator": "eq", "rightOperand": "x"}}]}},
                             headers=key)
    assert resp.status == 400
