"""Management API: policy definitions in EDC v3 shapes.

A policy the engine cannot read is refused on input with the parser's reason, so the catalog
never meets one it must skip. What we store is the policy re-written by `policies.jsonld.to_edc`
(``odrl:``-prefixed, one known ``@context``): the catalog parses it without depending on the
contexts or the form (compact, prefixed, expanded) the client happened to use.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from policies.errors import PolicyError
from policies.jsonld import EDC_CONTEXT as POLICY_CONTEXT
from policies.jsonld import parse_policy, to_edc

from ..app import plane
from ..store import Document
from . import ManagementError, created, found, json_body, millis, query_spec, unprefix, updated
from .negotiations import run_query
from .shapes import check_type, compact, identifier, is_expanded, optional_object, path_id_matches


def policy_json(doc: Document) -> dict[str, Any]:
    out: dict[str, Any] = {"@context": dict(POLICY_CONTEXT), "@id": doc.id, "@type": "PolicyDefinition",
                           "policy": doc.body.get("policy"), "createdAt": millis(doc.created_at)}
    if doc.body.get("privateProperties"):
        out["privateProperties"] = doc.body["privateProperties"]
    return out


def _definition(raw: Any, path_id: str | None = None) -> Document:
    """Validate a PolicyDefinition body and return what to store."""
    if not isinstance(raw, dict):
        raise ManagementError(400, f"request body must be a JSON object, got {type(raw).__name__}")
    # Only the wrapper is compacted here; the policy itself is read by the ODRL parser, which
    # resolves the client's prefixes and full IRIs against the client's own @context.
    expanded = is_expanded(raw)
    top = {unprefix(k): v for k, v in raw.items()}
    check_type(compact({"@type": top.get("@type")}, expanded=True), "PolicyDefinition")
    if path_id is not None:
        path_id_matches(top.get("@id"), path_id)
        top.setdefault("@id", path_id)
    policy_id = identifier(top)
    policy = top.get("policy")
    if expanded and isinstance(policy, list) and len(policy) == 1:
        policy = policy[0]
    if not isinstance(policy, dict):
        raise ManagementError(400, "policy is required and must be an ODRL policy object", path="policy")
    document = policy if expanded or "@context" not in raw else {"@context": raw["@context"], **policy}
    try:
        parsed = parse_policy(document, form="expanded" if expanded else "edc")
    except PolicyError as exc:
        raise ManagementError(400, f"policy is not usable: {exc}", type_="ValidationFailure", path="policy") from None
    except RecursionError:
        raise ManagementError(400, "policy is nested too deeply", type_="ValidationFailure", path="policy") from None
    stored = to_edc(parsed, definition_id=policy_id)
    private = compact(optional_object(top, "privateProperties"), expanded=expanded)
    if private:
        stored["privateProperties"] = private
    return Document(id=policy_id, body=stored)


async def create(request: web.Request) -> web.Response:
    doc = _definition(await json_body(request))
    return await created(plane(request).store.policies, doc, "policy definition")


async def update(request: web.Request) -> web.Response:
    """``PUT /v3/policydefinitions/{id}``. Offers already in partners' catalogs carry a digest of
    the old policy, so contract requests for them are recognised as stale (protocol/catalog.py)."""
    doc = _definition(await json_body(request), request.match_info["id"])
    return await updated(plane(request).store.policies, doc, "policy definition", path=None)


async def get(request: web.Request) -> web.Response:
    return web.json_response(policy_json(await found(plane(request).store.policies, request, "policy definition")))


async def delete(request: web.Request) -> web.Response:
    store = plane(request).store
    policy_id = request.match_info["id"]
    users = await store.contract_defs.referencing_policy(policy_id)
    if users:
        raise ManagementError(409, f"policy definition {policy_id!r} is used by contract definition(s) "
                              f"{', '.join(u.id for u in users)}", type_="ObjectConflict")
    if not await store.policies.delete(policy_id):
        raise ManagementError(404, f"policy definition {policy_id!r} not found", type_="ObjectNotFound")
    return web.Response(status=204)


async def query(request: web.Request) -> web.Response:
    spec = await query_spec(request)
    return web.json_response([policy_json(d) for d in await run_query(plane(request).store.policies.query(spec))])


def register(app: web.Application) -> None:
    app.router.add_post("/v3/policydefinitions", create)
    app.router.add_post("/v3/policydefinitions/request", query)
    app.router.add_get("/v3/policydefinitions/{id}", get)
    app.router.add_put("/v3/policydefinitions/{id}", update)
    app.router.add_delete("/v3/policydefinitions/{id}", delete)
