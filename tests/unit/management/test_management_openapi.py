"""The OpenAPI document describes exactly the routes the router serves, and real responses fit it."""

from __future__ import annotations

from typing import Any

import jsonschema
from aiohttp import web
from aiohttp.test_utils import TestClient
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from connector.app import MANAGEMENT_BASE
from connector.management.openapi import OPENAPI_PATH, OPERATIONS, SCHEMAS, routes_of
from tests.unit.management.conftest import BASE, EDC, VOCAB, Api

DOC_URI = "urn:kakehashi:management-openapi"


def management_app(client: TestClient) -> web.Application:
    for resource in client.server.app.router.resources():
        info = resource.get_info()
        if info.get("prefix") == MANAGEMENT_BASE:
            return info["app"]
    raise AssertionError("no management sub-app mounted")


async def fetch_document(client: TestClient) -> dict[str, Any]:
    resp = await client.get(BASE + "/openapi.json")  # no X-Api-Key: the document is public
    assert resp.status == 200
    return await resp.json()


def response_validator(doc: dict[str, Any], method: str, path: str, status: int) -> jsonschema.Validator:
    operation = doc["paths"][MANAGEMENT_BASE + path][method.lower()]
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    registry = Registry().with_resource(DOC_URI, Resource.from_contents(doc, default_specification=DRAFT202012))
    wrapper = {"$ref": DOC_URI + schema["$ref"]} if "$ref" in schema else {
        **schema, "items": {"$ref": DOC_URI + schema["items"]["$ref"]}}
    return jsonschema.Draft202012Validator(wrapper, registry=registry)


async def test_document_and_router_agree(client: TestClient) -> None:
    doc = await fetch_document(client)
    assert doc["openapi"].startswith("3.1")
    served = {(m.lower(), p) for m, p, _ in routes_of(management_app(client))}
    documented = {(m, p) for p, item in doc["paths"].items() for m in item}
    assert documented == served
    # Every served route has a hand-written entry (shapes, errors) and no entry is stale.
    local = {(m.upper(), p[len(MANAGEMENT_BASE):]) for m, p in served}
    assert not local - set(OPERATIONS), f"routes without an OpenAPI entry: {sorted(local - set(OPERATIONS))}"
    assert not set(OPERATIONS) - local, f"OpenAPI entries for routes nobody serves: {sorted(set(OPERATIONS) - local)}"
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert "x-undocumented" not in op, (method, path)
            params = {p["name"] for p in op.get("parameters", [])}
            assert params == {seg[1:-1] for seg in path.split("/") if seg.startswith("{")}, (method, path)


async def test_every_schema_is_valid_and_every_ref_resolves(client: TestClient) -> None:
    doc = await fetch_document(client)
    for name, schema in SCHEMAS.items():
        jsonschema.Draft202012Validator.check_schema(schema)
    registry = Registry().with_resource(DOC_URI, Resource.from_contents(doc, default_specification=DRAFT202012))
    resolver = registry.resolver(DOC_URI)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                resolver.lookup(node["$ref"])  # raises when a reference dangles
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert doc["paths"][BASE + "/assets"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AssetInput"}
    assert doc["paths"][BASE + "/openapi.json"]["get"]["security"] == []
    assert doc["components"]["securitySchemes"]["ApiKey"]["name"] == "X-Api-Key"


async def test_real_responses_fit_the_document(client: TestClient, api: Api) -> None:
    doc = await fetch_document(client)

    def check(method: str, path: str, status: int, body: Any) -> None:
        errors = sorted(response_validator(doc, method, path, status).iter_errors(body), key=str)
        assert not errors, f"{method} {path} {status}: {[e.message for e in errors]}"

    status, created = await api("POST", "/assets", {"@context": VOCAB, "@id": "a", "properties": {"name": "n"},
                                                    "dataAddress": {"type": "HttpData", "baseUrl": "https://x"}})
    check("POST", "/v3/assets", status, created)
    check("GET", "/v3/assets/{id}", *(await api("GET", "/assets/a")))
    check("POST", "/v3/assets/request", *(await api("POST", "/assets/request", {})))
    check("POST", "/v3/assets", *(await api("POST", "/assets", {"@context": VOCAB, "@id": "a"})))  # 409
    check("GET", "/v3/assets/{id}", *(await api("GET", "/assets/none")))  # 404
    check("POST", "/v3/policydefinitions", *(await api("POST", "/policydefinitions", {
        "@context": VOCAB, "@id": "p", "policy": {"permission": [{"action": "use"}]}})))
    check("GET", "/v3/policydefinitions/{id}", *(await api("GET", "/policydefinitions/p")))
    check("POST", "/v3/policydefinitions/request", *(await api("POST", "/policydefinitions/request", {})))
    check("POST", "/v3/policydefinitions", *(await api("POST", "/policydefinitions", {"@id": "q"})))  # 400
    check("POST", "/v3/contractdefinitions", *(await api("POST", "/contractdefinitions", {
        "@context": VOCAB, "@id": "d", "accessPolicyId": "p", "contractPolicyId": "p",
        "assetsSelector": [{"operandLeft": EDC + "id", "operator": "=", "operandRight": "a"}]})))
    check("GET", "/v3/contractdefinitions/{id}", *(await api("GET", "/contractdefinitions/d")))
    check("POST", "/v3/contractdefinitions/request", *(await api("POST", "/contractdefinitions/request", {})))
    check("DELETE", "/v3/policydefinitions/{id}", *(await api("DELETE", "/policydefinitions/p")))  # 409
    check("POST", "/v3/contractnegotiations/request", *(await api("POST", "/contractnegotiations/request", {})))
    check("POST", "/v3/transferprocesses/request", *(await api("POST", "/transferprocesses/request", {})))
    check("GET", "/v3/transferprocesses/{id}", *(await api("GET", "/transferprocesses/none")))
    resp = await client.get(BASE + "/assets/a")  # no key
    check("GET", "/v3/assets/{id}", resp.status, await resp.json())
    check("GET", OPENAPI_PATH, 200, doc)


async def test_a_schema_that_does_not_fit_is_noticed(client: TestClient) -> None:
    """The check above can fail: a response missing its @type does not validate."""
    doc = await fetch_document(client)
    bad = {"@context": VOCAB, "@id": "a", "properties": {"id": "a"}, "createdAt": 1}
    assert list(response_validator(doc, "GET", "/v3/assets/{id}", 200).iter_errors(bad))


async def test_unknown_routes_and_methods_answer_in_the_error_shape(client: TestClient, api: Api) -> None:
    for method, path, status in (("GET", "/nope", 404), ("PATCH", "/assets/a", 405)):
        got, errors = await api(method, path)
        assert got == status and isinstance(errors, list) and errors[0]["message"], (method, path, errors)
    resp = await client.get(BASE + "/nope")  # no key, no route: still no 5xx
    assert resp.status in (401, 404)
