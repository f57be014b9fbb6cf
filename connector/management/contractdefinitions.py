"""Management API: contract definitions (which assets are offered under which policies)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..app import plane
from ..store import AlreadyExists, ContractDefinition
from . import EDC_CONTEXT, ManagementError, edc_body, id_response, json_body, query_spec, required_str
from .negotiations import run_query


def definition_json(rec: ContractDefinition) -> dict[str, Any]:
    return {"@context": EDC_CONTEXT, "@type": "ContractDefinition", "@id": rec.id,
            "accessPolicyId": rec.access_policy_id, "contractPolicyId": rec.contract_policy_id,
            "assetsSelector": rec.body.get("assetsSelector", [])}


async def create(request: web.Request) -> web.Response:
    body = edc_body(await json_body(request))
    def_id = required_str(body, "@id")
    access, contract = required_str(body, "accessPolicyId"), required_str(body, "contractPolicyId")
    store = plane(request).store
    for name, pid in (("accessPolicyId", access), ("contractPolicyId", contract)):
        if await store.policies.get(pid) is None:
            raise ManagementError(400, f"{name} names no policy definition ({pid!r})", path=name)
    selector = body.get("assetsSelector") or []
    if isinstance(selector, dict):
        selector = [selector]
    if not isinstance(selector, list) or not all(isinstance(c, dict) for c in selector):
        raise ManagementError(400, "assetsSelector must be a list of criteria", path="assetsSelector")
    rec = ContractDefinition(id=def_id, access_policy_id=access, contract_policy_id=contract,
                             body={"assetsSelector": selector})
    try:
        stored = await store.contract_defs.create(rec)
    except AlreadyExists:
        raise ManagementError(409, f"contract definition {def_id!r} already exists", type_="ObjectConflict") from None
    return web.json_response(id_response(stored.id, stored.created_at))


async def get(request: web.Request) -> web.Response:
    rec = await plane(request).store.contract_defs.get(request.match_info["id"])
    if rec is None:
        raise ManagementError(404, f"contract definition {request.match_info['id']!r} not found", type_="ObjectNotFound")
    return web.json_response(definition_json(rec))


async def delete(request: web.Request) -> web.Response:
    if not await plane(request).store.contract_defs.delete(request.match_info["id"]):
        raise ManagementError(404, f"contract definition {request.match_info['id']!r} not found", type_="ObjectNotFound")
    return web.Response(status=204)


async def query(request: web.Request) -> web.Response:
    spec = await query_spec(request)
    found = await run_query(plane(request).store.contract_defs.query(spec))
    return web.json_response([definition_json(r) for r in found])


def register(app: web.Application) -> None:
    app.router.add_post("/v3/contractdefinitions", create)
    app.router.add_post("/v3/contractdefinitions/request", query)
    app.router.add_get("/v3/contractdefinitions/{id}", get)
    app.router.add_delete("/v3/contractdefinitions/{id}", delete)
