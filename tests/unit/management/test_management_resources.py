"""Assets, policy and contract definitions through the Management API, in the shapes EDC sends."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.management.conftest import EDC, VOCAB, Api

ODRL = "http://www.w3.org/ns/odrl/2/"
OPEN = {"@type": "odrl:Set", "odrl:permission": [{"odrl:action": {"@id": "odrl:use"}}]}
EDC_PREFIXED = {"edc": EDC, "odrl": ODRL}


def asset(asset_id: str, **props: Any) -> dict[str, Any]:
    return {"@context": VOCAB, "@id": asset_id, "@type": "Asset", "properties": {"name": asset_id, **props},
            "dataAddress": {"@type": "DataAddress", "type": "HttpData", "baseUrl": "https://example.com/pcf"}}


def policy(policy_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"@context": {**VOCAB, "odrl": ODRL}, "@id": policy_id, "@type": "PolicyDefinition",
            "policy": body or OPEN}


def definition(def_id: str, access: str = "p-open", contract: str = "p-open", **extra: Any) -> dict[str, Any]:
    return {"@context": VOCAB, "@id": def_id, "@type": "ContractDefinition", "accessPolicyId": access,
            "contractPolicyId": contract, **extra}


def assert_edc_errors(body: Any, *, mentions: str = "") -> None:
    assert isinstance(body, list) and body, body
    for err in body:
        assert set(err) == {"message", "type", "path", "invalidValue"}, err
        assert isinstance(err["message"], str) and err["message"]
    if mentions:
        assert mentions in body[0]["message"] or mentions == body[0]["path"], body


async def test_asset_lifecycle_compact_form(api: Api) -> None:
    status, created = await api("POST", "/assets", asset("a-1", contenttype="application/json"))
    assert status == 200 and created["@type"] == "IdResponse" and created["@id"] == "a-1"
    assert isinstance(created["createdAt"], int) and created["createdAt"] > 1_600_000_000_000
    status, got = await api("GET", "/assets/a-1")
    assert status == 200
    assert got["@context"]["@vocab"] == EDC and got["@type"] == "Asset" and got["@id"] == "a-1"
    assert got["properties"] == {"name": "a-1", "contenttype": "application/json", "id": "a-1"}
    assert got["dataAddress"] == {"@type": "DataAddress", "type": "HttpData", "baseUrl": "https://example.com/pcf"}
    assert got["createdAt"] == created["createdAt"]

    status, _ = await api("PUT", "/assets", {**asset("a-1", version="2"), "privateProperties": {"owner": "x"}})
    assert status == 204
    _, got = await api("GET", "/assets/a-1")
    assert got["properties"]["version"] == "2" and got["privateProperties"] == {"owner": "x"}
    assert got["createdAt"] == created["createdAt"]

    status, _ = await api("DELETE", "/assets/a-1")
    assert status == 204
    status, body = await api("GET", "/assets/a-1")
    assert status == 404
    assert_edc_errors(body, mentions="a-1")
    assert body[0]["type"] == "ObjectNotFound"
    status, body = await api("DELETE", "/assets/a-1")
    assert status == 404


async def test_asset_prefixed_and_expanded_forms_store_the_same(api: Api) -> None:
    prefixed = {"@context": EDC_PREFIXED, "@id": "a-pre", "@type": "edc:Asset",
                "edc:properties": {"edc:name": "steel", "edc:contenttype": "application/json"},
                "edc:dataAddress": {"@type": "edc:DataAddress", "edc:type": "HttpData"}}
    expanded = {"@id": "a-exp", "@type": [EDC + "Asset"],
                EDC + "properties": [{EDC + "name": [{"@value": "steel"}],
                                      EDC + "contenttype": [{"@value": "application/json"}]}],
                EDC + "dataAddress": [{"@type": [EDC + "DataAddress"], EDC + "type": [{"@value": "HttpData"}]}]}
    for body in (prefixed, expanded):
        status, created = await api("POST", "/assets", body)
        assert status == 200, created
    _, pre = await api("GET", "/assets/a-pre")
    _, exp = await api("GET", "/assets/a-exp")
    for got, asset_id in ((pre, "a-pre"), (exp, "a-exp")):
        assert got["properties"] == {"name": "steel", "contenttype": "application/json", "id": asset_id}
        assert got["dataAddress"] == {"@type": "DataAddress", "type": "HttpData"}


async def test_asset_keeps_foreign_prefixes_in_its_context(api: Api) -> None:
    body = {"@context": {**VOCAB, "dct": "http://purl.org/dc/terms/"}, "@id": "a-dct",
            "properties": {"dct:type": {"@id": "cx-taxo:PcfExchange"}}}
    assert (await api("POST", "/assets", body))[0] == 200
    _, got = await api("GET", "/assets/a-dct")
    assert got["@context"]["dct"] == "http://purl.org/dc/terms/"
    assert got["properties"]["dct:type"] == {"@id": "cx-taxo:PcfExchange"}


async def test_asset_without_id_gets_one(api: Api) -> None:
    status, created = await api("POST", "/assets", {"@context": VOCAB, "properties": {"name": "x"}})
    assert status == 200 and len(created["@id"]) == 36
    assert (await api("GET", f"/assets/{created['@id']}"))[0] == 200


@pytest.mark.parametrize("body,path", [
    ({"@context": VOCAB, "@id": "x", "properties": "nope"}, "properties"),
    ({"@context": VOCAB, "@id": "x", "dataAddress": {"baseUrl": "https://x"}}, "dataAddress.type"),
    ({"@context": VOCAB, "@id": "x", "dataAddress": []}, "dataAddress"),
    ({"@context": VOCAB, "@id": 7}, "@id"),
    ({"@context": VOCAB, "@id": "x", "@type": "PolicyDefinition"}, "@type"),
])
async def test_asset_bad_input_is_400_with_the_path(api: Api, body: dict[str, Any], path: str) -> None:
    status, errors = await api("POST", "/assets", body)
    assert status == 400
    assert_edc_errors(errors)
    assert errors[0]["path"] == path, errors


@pytest.mark.parametrize("raw", [b"", b"{nope", b"[]", b'"text"'])
async def test_unreadable_bodies_are_400(api: Api, raw: bytes) -> None:
    for path in ("/assets", "/policydefinitions", "/contractdefinitions"):
        status, errors = await api("POST", path, raw=raw)
        assert status == 400, (path, raw, errors)
        assert_edc_errors(errors)


async def test_duplicates_are_409_and_unknown_updates_404(api: Api) -> None:
    assert (await api("POST", "/assets", asset("dup")))[0] == 200
    status, errors = await api("POST", "/assets", asset("dup"))
    assert status == 409 and errors[0]["type"] == "ObjectConflict" and "dup" in errors[0]["message"]
    assert (await api("PUT", "/assets", asset("ghost")))[0] == 404
    assert (await api("PUT", "/assets/ghost", asset("ghost")))[0] == 404
    status, errors = await api("PUT", "/assets/dup", asset("other"))
    assert status == 400 and errors[0]["path"] == "@id"

    assert (await api("POST", "/policydefinitions", policy("p-dup")))[0] == 200
    assert (await api("POST", "/policydefinitions", policy("p-dup")))[0] == 409
    assert (await api("PUT", "/policydefinitions/p-ghost", policy("p-ghost")))[0] == 404
    assert (await api("POST", "/contractdefinitions", definition("d-dup", "p-dup", "p-dup")))[0] == 200
    assert (await api("POST", "/contractdefinitions", definition("d-dup", "p-dup", "p-dup")))[0] == 409
    assert (await api("PUT", "/contractdefinitions", definition("d-ghost", "p-dup", "p-dup")))[0] == 404


async def test_policy_definition_forms_and_normalised_response(api: Api) -> None:
    members = {"@type": "odrl:Set", "odrl:permission": [{
        "odrl:action": {"@id": "odrl:use"},
        "odrl:constraint": {"odrl:leftOperand": {"@id": "https://w3id.org/kakehashi/2025/policy/OuranosMembership"},
                            "odrl:operator": {"@id": "odrl:eq"}, "odrl:rightOperand": "active"}}]}
    compact_dsp = {"@context": VOCAB, "@id": "p-dsp",
                   "policy": {"@type": "Set", "permission": [{"action": "use"}]}}
    expanded = {"@id": "p-exp", "@type": [EDC + "PolicyDefinition"], EDC + "policy": [{
        "@type": [ODRL + "Set"], ODRL + "permission": [{ODRL + "action": [{"@id": ODRL + "use"}]}]}]}
    for body in (policy("p-members", members), compact_dsp, expanded):
        status, created = await api("POST", "/policydefinitions", body)
        assert status == 200, created
        assert created["@type"] == "IdResponse"
    _, got = await api("GET", "/policydefinitions/p-members")
    assert got["@type"] == "PolicyDefinition" and got["@id"] == "p-members"
    assert got["@context"]["odrl"] == ODRL and got["@context"]["@vocab"] == EDC
    [perm] = got["policy"]["odrl:permission"]
    assert perm["odrl:constraint"][0]["odrl:leftOperand"] == {"@id": "kk:OuranosMembership"}
    assert got["@context"]["kk"] == "https://w3id.org/kakehashi/2025/policy/"
    # The three input forms of the same open policy read back identically.
    _, dsp = await api("GET", "/policydefinitions/p-dsp")
    _, exp = await api("GET", "/policydefinitions/p-exp")
    assert dsp["policy"] == exp["policy"] == {"@type": "odrl:Set", "odrl:permission": [
        {"odrl:action": {"@id": "odrl:use"}}]}


@pytest.mark.parametrize("pol,reason", [
    ({"odrl:permission": [{"odrl:action": {"@id": "odrl:use"}, "odrl:constraint": {
        "odrl:leftOperand": {"@id": "odrl:noSuchOperand"}, "odrl:operator": {"@id": "odrl:eq"},
        "odrl:rightOperand": "x"}}]}, "noSuchOperand"),
    ({"odrl:permission": [{"odrl:action": {"@id": "odrl:use"}}], "odrl:surprise": 1}, "surprise"),
    ("not an object", "policy"),
])
async def test_unusable_policy_is_400_with_the_reason(api: Api, pol: Any, reason: str) -> None:
    status, errors = await api("POST", "/policydefinitions", policy("p-bad", pol))
    assert status == 400
    assert_edc_errors(errors)
    assert reason in errors[0]["message"] and errors[0]["path"] == "policy", errors
    assert (await api("GET", "/policydefinitions/p-bad"))[0] == 404


async def test_policy_update_and_delete_rules(api: Api) -> None:
    assert (await api("POST", "/policydefinitions", policy("p-open")))[0] == 200
    assert (await api("POST", "/policydefinitions", policy("p-other")))[0] == 200
    assert (await api("POST", "/contractdefinitions", definition("d-1", "p-open", "p-open")))[0] == 200
    status, errors = await api("DELETE", "/policydefinitions/p-open")
    assert status == 409 and "d-1" in errors[0]["message"], errors
    use = {"@type": "odrl:Set", "odrl:permission": [{"odrl:action": {"@id": "odrl:use"}}],
           "odrl:prohibition": [{"odrl:action": {"@id": "odrl:distribute"}}]}
    assert (await api("PUT", "/policydefinitions/p-open", policy("p-open", use)))[0] == 204
    _, got = await api("GET", "/policydefinitions/p-open")
    assert got["policy"]["odrl:prohibition"] == [{"odrl:action": {"@id": "odrl:distribute"}}]
    status, errors = await api("PUT", "/policydefinitions/p-open", policy("p-open", {"odrl:permission": 5}))
    assert status == 400
    assert (await api("DELETE", "/policydefinitions/p-other"))[0] == 204
    assert (await api("DELETE", "/policydefinitions/p-other"))[0] == 404
    assert (await api("DELETE", "/contractdefinitions/d-1"))[0] == 204
    assert (await api("DELETE", "/policydefinitions/p-open"))[0] == 204


async def test_contract_definition_lifecycle_and_forms(api: Api) -> None:
    assert (await api("POST", "/policydefinitions", policy("p-open")))[0] == 200
    selector = [{"@type": "Criterion", "operandLeft": EDC + "id", "operator": "=", "operandRight": "a-1"}]
    status, created = await api("POST", "/contractdefinitions", definition("d-1", assetsSelector=selector))
    assert status == 200 and created["@id"] == "d-1"
    expanded = {"@id": "d-exp", "@type": [EDC + "ContractDefinition"],
                EDC + "accessPolicyId": [{"@value": "p-open"}], EDC + "contractPolicyId": [{"@value": "p-open"}],
                EDC + "assetsSelector": [{"@type": [EDC + "Criterion"], EDC + "operandLeft": [{"@value": EDC + "id"}],
                                          EDC + "operator": [{"@value": "in"}],
                                          EDC + "operandRight": [{"@value": "a-1"}, {"@value": "a-2"}]}]}
    assert (await api("POST", "/contractdefinitions", expanded))[0] == 200
    _, got = await api("GET", "/contractdefinitions/d-exp")
    assert got["@type"] == "ContractDefinition" and got["accessPolicyId"] == "p-open"
    assert got["assetsSelector"] == [{"@type": "Criterion", "operandLeft": EDC + "id", "operator": "in",
                                      "operandRight": ["a-1", "a-2"]}]
    status, _ = await api("PUT", "/contractdefinitions", definition("d-1", assetsSelector=[]))
    assert status == 204
    _, got = await api("GET", "/contractdefinitions/d-1")
    assert got["assetsSelector"] == [] and got["createdAt"] == created["createdAt"]
    assert (await api("DELETE", "/contractdefinitions/d-1"))[0] == 204
    assert (await api("GET", "/contractdefinitions/d-1"))[0] == 404


@pytest.mark.parametrize("extra,path", [
    ({"accessPolicyId": "p-nope"}, "accessPolicyId"),
    ({"contractPolicyId": None}, "contractPolicyId"),
    ({"assetsSelector": "all"}, "assetsSelector"),
    ({"assetsSelector": [{"operandLeft": "id", "operator": "like", "operandRight": "a%"}]}, "assetsSelector[0].operator"),
    ({"assetsSelector": [{"operator": "=", "operandRight": "a"}]}, "assetsSelector[0].operandLeft"),
    ({"assetsSelector": [{"operandLeft": "id", "operator": "="}]}, "assetsSelector[0].operandRight"),
])
async def test_contract_definition_bad_input(api: Api, extra: dict[str, Any], path: str) -> None:
    assert (await api("POST", "/policydefinitions", policy("p-open")))[0] == 200
    status, errors = await api("POST", "/contractdefinitions", {**definition("d-bad"), **extra})
    assert status == 400, errors
    assert_edc_errors(errors)
    assert errors[0]["path"] == path, errors


async def test_queries_with_edc_queryspec(api: Api) -> None:
    for i, kind in enumerate(["steel", "steel", "aluminium", "copper"]):
        assert (await api("POST", "/assets", asset(f"q-{i}", material=kind, rank=i)))[0] == 200
    q = {"@context": VOCAB, "@type": "QuerySpec", "offset": 0, "limit": 10, "sortField": "id", "sortOrder": "DESC"}
    status, found = await api("POST", "/assets/request", q)
    assert status == 200 and [a["@id"] for a in found] == ["q-3", "q-2", "q-1", "q-0"]
    assert all(a["@type"] == "Asset" and a["@context"]["@vocab"] == EDC for a in found)
    by_id = {**q, "filterExpression": [{"operandLeft": EDC + "id", "operator": "in", "operandRight": ["q-1", "q-2"]}]}
    assert [a["@id"] for a in (await api("POST", "/assets/request", by_id))[1]] == ["q-2", "q-1"]
    # Filters on properties, EDC-prefixed, with sort, offset and limit applied after filtering.
    by_prop = {"@context": EDC_PREFIXED, "edc:filterExpression": [
        {"edc:operandLeft": "edc:material", "edc:operator": "=", "edc:operandRight": "steel"}],
        "edc:sortField": "rank", "edc:sortOrder": "DESC", "edc:limit": 1, "edc:offset": 1}
    status, found = await api("POST", "/assets/request", by_prop)
    assert status == 200 and [a["@id"] for a in found] == ["q-0"], found
    like = {"filterExpression": [{"operandLeft": "material", "operator": "like", "operandRight": "%l"}]}
    assert sorted(a["@id"] for a in (await api("POST", "/assets/request", like))[1]) == ["q-0", "q-1"]
    status, errors = await api("POST", "/assets/request",
                               {"filterExpression": [{"operandLeft": "material", "operator": "~", "operandRight": 1}]})
    assert status == 400 and "~" in errors[0]["message"]
    status, found = await api("POST", "/assets/request")  # no body: everything, first page
    assert status == 200 and len(found) == 4

    assert (await api("POST", "/policydefinitions", policy("p-open")))[0] == 200
    assert (await api("POST", "/policydefinitions", policy("p-2")))[0] == 200
    status, found = await api("POST", "/policydefinitions/request", {
        "@context": VOCAB, "filterExpression": [{"operandLeft": "id", "operator": "=", "operandRight": "p-2"}]})
    assert status == 200 and [p["@id"] for p in found] == ["p-2"] and found[0]["@type"] == "PolicyDefinition"
    assert (await api("POST", "/contractdefinitions", definition("d-a", "p-open", "p-2")))[0] == 200
    assert (await api("POST", "/contractdefinitions", definition("d-b", "p-2", "p-2")))[0] == 200
    status, found = await api("POST", "/contractdefinitions/request", {
        "filterExpression": [{"operandLeft": "accessPolicyId", "operator": "=", "operandRight": "p-open"}]})
    assert status == 200 and [d["@id"] for d in found] == ["d-a"]
    status, errors = await api("POST", "/contractdefinitions/request",
                               {"filterExpression": [{"operandLeft": "nope", "operator": "=", "operandRight": 1}]})
    assert status == 400 and "nope" in errors[0]["message"]
    status, errors = await api("POST", "/policydefinitions/request", {"limit": -1})
    assert status == 400


async def test_api_key_is_required(client: Any) -> None:
    for method, path in (("GET", "/assets/x"), ("POST", "/assets"), ("PUT", "/policydefinitions/x"),
                         ("POST", "/contractdefinitions/request")):
        resp = await client.request(method, "/api/management/v3" + path, json={})
        assert resp.status == 401, (method, path)
        assert_edc_errors(await resp.json())
