"""What the Management API stores is what the provider's DSP catalog offers (connector/protocol/catalog.py)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from connector.app import CONTROL_PLANE
from tests.auth_stub import SharedSecretAuthenticator
from connector.dsp import schemas
from connector.store import Agreement, Negotiation
from tests.unit.management.conftest import EDC, ME, SECRET, VOCAB, Api

PEER = "did:web:consumer.test"
ODRL = "http://www.w3.org/ns/odrl/2/"
CTX = ["https://w3id.org/dspace/2025/1/context.jsonld"]


async def catalog(client: TestClient) -> dict[str, Any]:
    token = SharedSecretAuthenticator(PEER, SECRET).issue(ME)
    resp = await client.post("/api/dsp/catalog/request", json={"@context": CTX, "@type": "CatalogRequestMessage"},
                             headers={"Authorization": "Bearer " + token})
    assert resp.status == 200
    body = await resp.json()
    schemas.validate(body, "Catalog")
    return body


async def test_prefixed_and_expanded_definitions_offer_their_assets(client: TestClient, api: Api) -> None:
    await api("POST", "/assets", {"@context": {"edc": EDC}, "@id": "steel", "edc:properties": {"edc:group": "metal"}})
    await api("POST", "/assets", {"@id": "wood", "@type": [EDC + "Asset"],
                                  EDC + "properties": [{EDC + "group": [{"@value": "plant"}]}]})
    await api("POST", "/assets", {"@context": VOCAB, "@id": "glass", "properties": {"group": "mineral"}})
    await api("POST", "/policydefinitions", {"@context": {**VOCAB, "odrl": ODRL}, "@id": "open", "policy": {
        "@type": "odrl:Set", "odrl:permission": [{"odrl:action": {"@id": "odrl:use"}}]}})
    status, _ = await api("POST", "/contractdefinitions", {
        "@context": {"edc": EDC}, "@id": "by-group", "edc:accessPolicyId": "open", "edc:contractPolicyId": "open",
        "edc:assetsSelector": {"edc:operandLeft": "edc:group", "edc:operator": "in",
                               "edc:operandRight": ["metal", "plant"]}})
    assert status == 200
    offered = {d["@id"]: d for d in (await catalog(client)).get("dataset", [])}
    assert sorted(offered) == ["steel", "wood"]
    assert offered["steel"]["hasPolicy"][0]["permission"] == [{"action": "use"}]

    # Narrow the definition: the catalog follows the replaced selector at once.
    status, _ = await api("PUT", "/contractdefinitions/by-group", {
        "@context": VOCAB, "accessPolicyId": "open", "contractPolicyId": "open",
        "assetsSelector": [{"operandLeft": EDC + "id", "operator": "=", "operandRight": "glass"}]})
    assert status == 204
    assert [d["@id"] for d in (await catalog(client))["dataset"]] == ["glass"]


async def test_asset_under_an_agreement_cannot_be_deleted(client: TestClient, api: Api) -> None:
    await api("POST", "/assets", {"@context": VOCAB, "@id": "contracted"})
    store = client.server.app[CONTROL_PLANE].store
    await store.negotiations.create(Negotiation(id="neg-1", role="provider", consumer_pid="urn:c", provider_pid="neg-1",
                                                counter_party_id=PEER, counter_party_address="http://127.0.0.1:9/dsp",
                                                state="FINALIZED"))
    await store.agreements.create(Agreement(id="agr-1", negotiation_id="neg-1", asset_id="contracted",
                                            policy={"@type": "Agreement"}, assigner=ME, assignee=PEER))
    status, errors = await api("DELETE", "/assets/contracted")
    assert status == 409 and "agr-1" in errors[0]["message"] and errors[0]["type"] == "ObjectConflict"
    assert (await api("GET", "/assets/contracted"))[0] == 200


async def test_catalog_filter_and_paging(client: TestClient, api: Api) -> None:
    for name, group in (("a-steel", "metal"), ("b-wood", "plant"), ("c-iron", "metal"), ("d-glass", "mineral")):
        await api("POST", "/assets", {"@context": VOCAB, "@id": name, "properties": {"group": group}})
    await api("POST", "/policydefinitions", {"@context": {**VOCAB, "odrl": ODRL}, "@id": "open", "policy": {
        "@type": "odrl:Set", "odrl:permission": [{"odrl:action": {"@id": "odrl:use"}}]}})
    await api("POST", "/contractdefinitions", {"@context": VOCAB, "@id": "all", "accessPolicyId": "open",
                                               "contractPolicyId": "open", "assetsSelector": []})
    token = SharedSecretAuthenticator(PEER, SECRET).issue(ME)

    async def request(body: dict[str, Any], query: str = "") -> Any:
        return await client.post("/api/dsp/catalog/request" + query, headers={"Authorization": "Bearer " + token},
                                  json={"@context": CTX, "@type": "CatalogRequestMessage", **body})

    resp = await request({"filter": [{"operandLeft": "group", "operator": "=", "operandRight": "metal"}]})
    assert resp.status == 200
    assert [d["@id"] for d in (await resp.json())["dataset"]] == ["a-steel", "c-iron"]
    resp = await request({"filter": [{"operandLeft": "https://w3id.org/edc/v0.0.1/ns/id", "operator": "in",
                                      "operandRight": ["b-wood", "d-glass", "nothing"]}]})
    assert [d["@id"] for d in (await resp.json())["dataset"]] == ["b-wood", "d-glass"]
    # Paging: two per page, an absolute next link, the last page without one.
    resp = await request({}, "?limit=2")
    assert [d["@id"] for d in (await resp.json())["dataset"]] == ["a-steel", "b-wood"]
    assert 'rel="next"' in resp.headers["Link"] and "offset=2" in resp.headers["Link"]
    resp = await request({}, "?offset=2&limit=2")
    assert [d["@id"] for d in (await resp.json())["dataset"]] == ["c-iron", "d-glass"]
    assert 'rel="next"' not in resp.headers.get("Link", "")
    # A filter we cannot evaluate is refused in the catalog error shape, not ignored.
    resp = await request({"filter": [{"operandLeft": "group", "operator": "~=", "operandRight": "x"}]})
    assert resp.status == 400
    body = await resp.json()
    assert body["@type"] == "CatalogError" and body["code"] == "UnsupportedFilter"
