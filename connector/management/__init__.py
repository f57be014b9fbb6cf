"""Management API v3 (EDC shapes) as an aiohttp sub-application under `/api/management`.

Authentication is one shared `X-Api-Key` (compared in constant time). Route modules register
themselves with `register_routes` — one function per module taking the sub-app — so new
resource modules (OpenAPI, footprints, ...) plug in without touching this file's logic.
Bodies are JSON-LD in the EDC vocabulary; `edc_body` accepts compact, `edc:`-prefixed and
full-IRI keys alike.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

EDC_NS = "https://w3id.org/edc/v0.0.1/ns/"
EDC_CONTEXT = {"@vocab": EDC_NS, "edc": EDC_NS, "odrl": "http://www.w3.org/ns/odrl/2/"}
API_KEY_HEADER = "X-Api-Key"

RouteModule = Callable[[web.Application], None]
_MODULES: list[str] = [
    "connector.management.catalog",
    "connector.management.negotiations",
    "connector.management.transfers",
    "connector.management.assets",
    "connector.management.policydefinitions",
    "connector.management.contractdefinitions",
    "connector.management.openapi",
]
#: Route names served without X-Api-Key (the OpenAPI document only; the API itself needs the key).
PUBLIC_ROUTES: set[str] = {"management-openapi"}
_EXTRA: list[RouteModule] = []


def register_routes(module: RouteModule) -> RouteModule:
    """Add a route module (usable as a decorator); it is called with every new management app."""
    _EXTRA.append(module)
    return module


class ManagementError(Exception):
    """A Management API request was refused; rendered as EDC's error list."""

    def __init__(self, status: int, message: str, *, type_: str = "InvalidRequest", path: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.path = path


def error_body(message: str, type_: str = "InvalidRequest", path: str | None = None) -> list[dict[str, Any]]:
    return [{"message": message, "type": type_, "path": path, "invalidValue": None}]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def api_key_middleware(expected: str) -> Any:
    expected_bytes = expected.encode("utf-8")

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get(API_KEY_HEADER, "").encode("utf-8")
        public = request.match_info.route.name in PUBLIC_ROUTES
        if not public and not hmac.compare_digest(given, expected_bytes):
            return web.json_response(error_body("missing or wrong X-Api-Key", "AuthenticationFailed"), status=401)
        try:
            return await handler(request)
        except ManagementError as exc:
            return web.json_response(error_body(exc.message, exc.type, exc.path), status=exc.status)

    return middleware


def create_management_app(root: web.Application) -> web.Application:
    import importlib

    from ..app import SETTINGS

    app = web.Application(middlewares=[api_key_middleware(root[SETTINGS].api_key)],
                          client_max_size=root[SETTINGS].max_body_bytes)
    for name in _MODULES:
        importlib.import_module(name).register(app)
    for module in _EXTRA:
        module(app)
    return app


# ---------------------------------------------------------------------- EDC JSON-LD helpers

def unprefix(key: str) -> str:
    for prefix in (EDC_NS, "edc:"):
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def scalar(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict) and set(value) <= {"@value", "@type", "@language"} and "@value" in value:
        return value["@value"]
    if isinstance(value, dict) and set(value) == {"@id"}:
        return value["@id"]
    return value


def edc_body(body: Any) -> dict[str, Any]:
    """Top-level keys without the EDC prefix (values untouched)."""
    if not isinstance(body, dict):
        raise ManagementError(400, f"request body must be a JSON object, got {type(body).__name__}")
    return {unprefix(k): v for k, v in body.items() if k != "@context"}


def required_str(body: dict[str, Any], name: str) -> str:
    value = scalar(body.get(name))
    if not isinstance(value, str) or not value:
        raise ManagementError(400, f"{name} is required and must be a non-empty string", path=name)
    return value


def optional_str(body: dict[str, Any], name: str, default: str = "") -> str:
    value = scalar(body.get(name))
    if value is None:
        return default
    if not isinstance(value, str):
        raise ManagementError(400, f"{name} must be a string", path=name)
    return value


def callback_addresses(body: dict[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("callbackAddresses") or []
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ManagementError(400, "callbackAddresses must be a list", path="callbackAddresses")
    out = []
    for item in raw:
        if not isinstance(item, dict):
            raise ManagementError(400, "each callback address must be an object", path="callbackAddresses")
        cb = {unprefix(k): scalar(v) if k not in ("events", EDC_NS + "events", "edc:events") else v
              for k, v in item.items() if k != "@type"}
        uri = cb.get("uri")
        if not isinstance(uri, str) or not uri.startswith(("http://", "https://")):
            raise ManagementError(400, "a callback address needs an http(s) uri", path="callbackAddresses")
        events = cb.get("events") or []
        events = [scalar(e) for e in (events if isinstance(events, list) else [events])]
        out.append({"uri": uri, "events": [str(e) for e in events], "transactional": bool(cb.get("transactional"))})
    return out


def millis(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def id_response(identifier: str, created: datetime | None = None) -> dict[str, Any]:
    return {"@context": EDC_CONTEXT, "@type": "IdResponse", "@id": identifier,
            "createdAt": millis(created) if created else int(time.time() * 1000)}


async def json_body(request: web.Request, *, allow_empty: bool = False) -> Any:
    from ..app import read_json
    from ..dsp.errors import ProtocolError

    if allow_empty and not request.can_read_body:
        return {}
    try:
        return await read_json(request)
    except ProtocolError as exc:
        raise ManagementError(exc.status, exc.reason) from None


async def query_spec(request: web.Request) -> Any:
    from ..store import InvalidQuery, QuerySpec

    body = await json_body(request, allow_empty=True)
    if isinstance(body, dict):
        inner = body.get("querySpec") or body.get(EDC_NS + "querySpec")
        body = inner if isinstance(inner, dict) else body
    try:
        return QuerySpec.from_json(body if isinstance(body, dict) else None)
    except InvalidQuery as exc:
        raise ManagementError(400, str(exc)) from None


# -- the same answers for every stored resource (``repo`` is e.g. ``store.assets``; ``noun``
# names the resource in messages, e.g. "contract definition") ------------------------------
async def found(repo: Any, request: web.Request, noun: str) -> Any:
    """The record ``{id}`` of the path names, or 404 ObjectNotFound."""
    rec = await repo.get(request.match_info["id"])
    if rec is None:
        raise ManagementError(404, f"{noun} {request.match_info['id']!r} not found", type_="ObjectNotFound")
    return rec


async def created(repo: Any, rec: Any, noun: str) -> web.Response:
    """Store a new ``rec`` and answer its IdResponse, or 409 ObjectConflict if the id is taken."""
    from ..store import AlreadyExists

    try:
        stored = await repo.create(rec)
    except AlreadyExists:
        raise ManagementError(409, f"{noun} {rec.id!r} already exists", type_="ObjectConflict", path="@id") from None
    return web.json_response(id_response(stored.id, stored.created_at))


async def updated(repo: Any, rec: Any, noun: str, *, path: str | None = "@id") -> web.Response:
    """Replace the stored ``rec`` (204), or 404 ObjectNotFound if there is none."""
    from ..store import NotFound

    try:
        await repo.update(rec)
    except NotFound:
        raise ManagementError(404, f"{noun} {rec.id!r} not found", type_="ObjectNotFound", path=path) from None
    return web.Response(status=204)
