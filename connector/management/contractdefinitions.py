"""Management API: contract definitions (which assets are offered under which policies).

The provider's catalog (connector/protocol/catalog.py) reads ``assetsSelector`` from the
stored body and the two policy ids from their columns; both policies must exist when a
definition is written, so a definition never silently offers nothing.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..app import plane
from ..store import ContractDefinition
from . import ManagementError, created, found, json_body, millis, query_spec, updated
from .negotiations import run_query
from .shapes import (
    check_type,
    identifier,
    optional_object,
    path_id_matches,
    request_body,
    required_id,
    response_context,
    selector,
)


def definition_json(rec: ContractDefinition) -> dict[str, Any]:
    out: dict[str, Any] = {"@context": response_context(), "@id": rec.id, "@type": "ContractDefinition",
                           "accessPolicyId": rec.access_policy_id, "contractPolicyId": rec.contract_policy_id,
                           "assetsSelector": rec.body.get("assetsSelector", []), "createdAt": millis(rec.created_at)}
    if rec.body.get("privateProperties"):
        out["privateProperties"] = rec.body["privateProperties"]
    return out


async def _definition(request: web.Request, path_id: str | None = None) -> ContractDefinition:
    body, _prefixes = request_body(await json_body(request))
    check_type(body, "ContractDefinition")
    if path_id is not None:
        path_id_matches(body.get("@id"), path_id)
        body.setdefault("@id", path_id)
    def_id = identifier(body)
    access, contract = required_id(body, "accessPolicyId"), required_id(body, "contractPolicyId")
    criteria = selector(body)
    store = plane(request).store
    for name, pid in (("accessPolicyId", access), ("contractPolicyId", contract)):
        if await store.policies.get(pid) is None:
            raise ManagementError(400, f"{name} names no policy definition ({pid!r})", path=name)
    stored: dict[str, Any] = {"assetsSelector": criteria}
    private = optional_object(body, "privateProperties")
    if private:
        stored["privateProperties"] = private
    return ContractDefinition(id=def_id, access_policy_id=access, contract_policy_id=contract, body=stored)


async def create(request: web.Request) -> web.Response:
    rec = await _definition(request)
    return await created(plane(request).store.contract_defs, rec, "contract definition")


async def update(request: web.Request) -> web.Response:
    """``PUT /v3/contractdefinitions`` (EDC) or ``PUT /v3/contractdefinitions/{id}``."""
    rec = await _definition(request, request.match_info.get("id"))
    return await updated(plane(request).store.contract_defs, rec, "contract definition")


async def get(request: web.Request) -> web.Response:
    return web.json_response(definition_json(await found(plane(request).store.contract_defs, request,
                                                         "contract definition")))


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
    app.router.add_put("/v3/contractdefinitions", update)
    app.router.add_post("/v3/contractdefinitions/request", query)
    app.router.add_get("/v3/contractdefinitions/{id}", get)
    app.router.add_put("/v3/contractdefinitions/{id}", update)
    app.router.add_delete("/v3/contractdefinitions/{id}", delete)
