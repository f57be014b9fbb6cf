"""Management API: assets (create, get, delete, query) — the minimal set flows need."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..app import plane
from ..store import AlreadyExists, Document
from . import EDC_CONTEXT, ManagementError, edc_body, id_response, json_body, query_spec, required_str
from .negotiations import run_query


def asset_json(doc: Document) -> dict[str, Any]:
    return {"@context": EDC_CONTEXT, "@type": "Asset", "@id": doc.id, **{k: v for k, v in doc.body.items()
                                                                           if k not in ("@id", "@type", "@context")}}


async def create(request: web.Request) -> web.Response:
    body = edc_body(await json_body(request))
    asset_id = required_str(body, "@id")
    props = body.get("properties", {})
    if not isinstance(props, dict):
        raise ManagementError(400, "properties must be an object", path="properties")
    doc = Document(id=asset_id, body={"@id": asset_id, "properties": props,
                                      "dataAddress": body.get("dataAddress") or {}})
    try:
        stored = await plane(request).store.assets.create(doc)
    except AlreadyExists:
        raise ManagementError(409, f"asset {asset_id!r} already exists", type_="ObjectConflict") from None
    return web.json_response(id_response(stored.id, stored.created_at))


async def get(request: web.Request) -> web.Response:
    doc = await plane(request).store.assets.get(request.match_info["id"])
    if doc is None:
        raise ManagementError(404, f"asset {request.match_info['id']!r} not found", type_="ObjectNotFound")
    return web.json_response(asset_json(doc))


async def delete(request: web.Request) -> web.Response:
    if not await plane(request).store.assets.delete(request.match_info["id"]):
        raise ManagementError(404, f"asset {request.match_info['id']!r} not found", type_="ObjectNotFound")
    return web.Response(status=204)


async def query(request: web.Request) -> web.Response:
    spec = await query_spec(request)
    return web.json_response([asset_json(d) for d in await run_query(plane(request).store.assets.query(spec))])


def register(app: web.Application) -> None:
    app.router.add_post("/v3/assets", create)
    app.router.add_post("/v3/assets/request", query)
    app.router.add_get("/v3/assets/{id}", get)
    app.router.add_delete("/v3/assets/{id}", delete)
