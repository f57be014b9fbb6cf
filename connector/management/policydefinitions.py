"""Management API: policy definitions; a policy the engine cannot read is refused on input."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from policies.errors import PolicyError

from ..app import plane
from ..protocol.policy_port import policy_from_definition
from ..store import AlreadyExists, Document
from . import EDC_CONTEXT, ManagementError, edc_body, id_response, json_body, query_spec, required_str
from .negotiations import run_query


def policy_json(doc: Document) -> dict[str, Any]:
    return {"@context": EDC_CONTEXT, "@type": "PolicyDefinition", "@id": doc.id, "policy": doc.body.get("policy")}


async def create(request: web.Request) -> web.Response:
    raw = await json_body(request)
    body = edc_body(raw)
    policy_id = required_str(body, "@id")
    if not isinstance(body.get("policy"), dict):
        raise ManagementError(400, "policy is required and must be an object", path="policy")
    stored_body = {"@context": raw.get("@context", EDC_CONTEXT), "@type": "PolicyDefinition", "@id": policy_id,
                   "policy": body["policy"]}
    try:
        policy_from_definition(stored_body)
    except PolicyError as exc:
        raise ManagementError(400, f"policy is not usable: {exc}", path="policy") from None
    try:
        stored = await plane(request).store.policies.create(Document(id=policy_id, body=stored_body))
    except AlreadyExists:
        raise ManagementError(409, f"policy definition {policy_id!r} already exists", type_="ObjectConflict") from None
    return web.json_response(id_response(stored.id, stored.created_at))


async def get(request: web.Request) -> web.Response:
    doc = await plane(request).store.policies.get(request.match_info["id"])
    if doc is None:
        raise ManagementError(404, f"policy definition {request.match_info['id']!r} not found", type_="ObjectNotFound")
    return web.json_response(policy_json(doc))


async def delete(request: web.Request) -> web.Response:
    store = plane(request).store
    users = await store.contract_defs.referencing_policy(request.match_info["id"])
    if users:
        raise ManagementError(409, f"policy is used by contract definition(s) {', '.join(u.id for u in users)}",
                              type_="ObjectConflict")
    if not await store.policies.delete(request.match_info["id"]):
        raise ManagementError(404, f"policy definition {request.match_info['id']!r} not found", type_="ObjectNotFound")
    return web.Response(status=204)


async def query(request: web.Request) -> web.Response:
    spec = await query_spec(request)
    return web.json_response([policy_json(d) for d in await run_query(plane(request).store.policies.query(spec))])


def register(app: web.Application) -> None:
    app.router.add_post("/v3/policydefinitions", create)
    app.router.add_post("/v3/policydefinitions/request", query)
    app.router.add_get("/v3/policydefinitions/{id}", get)
    app.router.add_delete("/v3/policydefinitions/{id}", delete)
