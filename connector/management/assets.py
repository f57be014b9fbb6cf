"""Management API: assets (create, get, replace, delete, query) in EDC v3 shapes.

An asset is stored compact: ``{"@id", "properties", "privateProperties", "dataAddress",
"prefixes"}``. The provider's catalog reads ``properties`` to evaluate contract definitions'
``assetsSelector`` (connector/protocol/catalog.py), so properties keep bare EDC keys.
"""

from __future__ import annotations

import fnmatch
import operator
import re
from typing import Any

from aiohttp import web

from ..app import plane
from ..store import Criterion, Document, QuerySpec, criteria
from ..store.query import MAX_LIMIT
from . import ManagementError, created, found, json_body, millis, query_spec, unprefix, updated
from .negotiations import run_query
from .shapes import (
    check_type,
    data_address,
    identifier,
    optional_object,
    path_id_matches,
    request_body,
    response_context,
)

#: Query fields that are store columns; any other operandLeft names an asset property.
COLUMN_FIELDS = {"id", "@id", "createdAt", "created_at"}
_COMPARE = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
            ">=": operator.ge}
PROPERTY_OPERATORS = (*_COMPARE, "in", "like", "ilike")


def asset_json(doc: Document) -> dict[str, Any]:
    body = doc.body
    props = {**(body.get("properties") or {}), "id": doc.id}
    out: dict[str, Any] = {"@context": response_context(body.get("prefixes")), "@id": doc.id, "@type": "Asset",
                           "properties": props, "createdAt": millis(doc.created_at)}
    if body.get("privateProperties"):
        out["privateProperties"] = body["privateProperties"]
    if body.get("dataAddress"):
        out["dataAddress"] = body["dataAddress"]
    return out


async def _document(request: web.Request, path_id: str | None = None) -> Document:
    body, prefixes = request_body(await json_body(request))
    check_type(body, "Asset")
    if path_id is not None:
        path_id_matches(body.get("@id"), path_id)
        body.setdefault("@id", path_id)
    asset_id = identifier(body)
    props = optional_object(body, "properties")
    props.pop("id", None)  # the id lives in @id; EDC echoes it into properties on output
    stored: dict[str, Any] = {"@id": asset_id, "properties": props,
                              "privateProperties": optional_object(body, "privateProperties"),
                              "dataAddress": data_address(body)}
    if prefixes:
        stored["prefixes"] = prefixes
    return Document(id=asset_id, body=stored)


async def create(request: web.Request) -> web.Response:
    doc = await _document(request)
    return await created(plane(request).store.assets, doc, "asset")


async def update(request: web.Request) -> web.Response:
    """``PUT /v3/assets`` (EDC) or ``PUT /v3/assets/{id}``: replace everything but ``createdAt``."""
    doc = await _document(request, request.match_info.get("id"))
    return await updated(plane(request).store.assets, doc, "asset")


async def get(request: web.Request) -> web.Response:
    return web.json_response(asset_json(await found(plane(request).store.assets, request, "asset")))


async def delete(request: web.Request) -> web.Response:
    """Refused while a contract agreement names the asset (EDC does the same): the agreement
    and any transfer under it must still be explainable."""
    asset_id = request.match_info["id"]
    store = plane(request).store
    used = await store.agreements.query(criteria(("assetId", "=", asset_id), limit=5))
    if used:
        raise ManagementError(409, f"asset {asset_id!r} is in use by contract agreement(s) "
                              f"{', '.join(a.id for a in used)}", type_="ObjectConflict")
    if not await store.assets.delete(asset_id):
        raise ManagementError(404, f"asset {asset_id!r} not found", type_="ObjectNotFound")
    return web.Response(status=204)


async def query(request: web.Request) -> web.Response:
    spec = await query_spec(request)
    found = await _query(plane(request).store.assets, spec)
    return web.json_response([asset_json(d) for d in found])


def _is_column(name: str | None) -> bool:
    return name is None or unprefix(name) in COLUMN_FIELDS


async def _query(assets: Any, spec: QuerySpec) -> list[Document]:
    """Filters on ``id`` / ``createdAt`` run in the store; filters and sorting on properties
    (``name``, ``edc:contenttype``, ``https://w3id.org/edc/v0.0.1/ns/type``) run here, over
    the assets the column filters left, as EDC clients expect to query by property."""
    on_props = [c for c in spec.filters if not _is_column(c.operand_left)]
    if not on_props and _is_column(spec.sort_field):
        return await run_query(assets.query(spec))
    column_spec = QuerySpec(filters=tuple(c for c in spec.filters if _is_column(c.operand_left)), limit=MAX_LIMIT,
                            sort_field=spec.sort_field if _is_column(spec.sort_field) else None,
                            sort_order=spec.sort_order)
    if spec.offset < 0 or not 0 <= spec.limit <= MAX_LIMIT:
        raise ManagementError(400, f"offset must be >= 0 and limit between 0 and {MAX_LIMIT}")
    for c in on_props:
        if str(c.operator).lower() not in PROPERTY_OPERATORS:
            raise ManagementError(400, f"unsupported operator {c.operator!r} on property {c.operand_left!r}; "
                                  f"use one of {', '.join(PROPERTY_OPERATORS)}", path="filterExpression")
    docs = [d for d in await run_query(assets.query(column_spec)) if all(_holds(c, d) for c in on_props)]
    if not _is_column(spec.sort_field):
        key = unprefix(str(spec.sort_field))
        present = [d for d in docs if _prop(d, key) is not None]
        present.sort(key=lambda d: str(_prop(d, key)), reverse=spec.sort_order == "DESC")
        docs = present + [d for d in docs if _prop(d, key) is None]
    return docs[spec.offset: spec.offset + spec.limit]


def _prop(doc: Document, name: str) -> Any:
    name = unprefix(name.removeprefix("properties."))
    return (doc.body.get("properties") or {}).get(name)


def _holds(c: Criterion, doc: Document) -> bool:
    value, right, op = _prop(doc, str(c.operand_left)), c.operand_right, str(c.operator).lower()
    if op == "in":
        return value in (right if isinstance(right, list) else [right])
    if op in ("like", "ilike"):
        if not isinstance(value, str) or not isinstance(right, str):
            return False
        pattern = fnmatch.translate(right.replace("*", "[*]").replace("?", "[?]").replace("%", "*").replace("_", "?"))
        return re.match(pattern, value, re.IGNORECASE if op == "ilike" else 0) is not None
    try:
        return bool(_COMPARE[op](value, right))
    except TypeError:  # a number compared with a string, or a missing property: no match
        return False


def register(app: web.Application) -> None:
    app.router.add_post("/v3/assets", create)
    app.router.add_put("/v3/assets", update)
    app.router.add_post("/v3/assets/request", query)
    app.router.add_get("/v3/assets/{id}", get)
    app.router.add_put("/v3/assets/{id}", update)
    app.router.add_delete("/v3/assets/{id}", delete)

