"""The aiohttp application of one connector, built from its settings.

`create_app` wires the pieces together and nothing else: the store, the authenticator, the
HTTP client, the process managers (`connector.protocol`), the DSP routes under `/api/dsp`,
the Management API under `/api/management`, health, metrics and version discovery. Every
resource that must be closed is opened in a `cleanup_ctx`, so tests and `kakehashi run`
start and stop connectors the same way.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from .auth import Authenticator
from .config import Settings
from .dsp.errors import MalformedMessage, ProtocolError, catalog_error, negotiation_error, transfer_error
from .dsp.messages import VersionResponse
from .logs import bind
from .dcp_auth import store_replay_check
from .protocol.services import ControlPlane, build_control_plane, default_authenticator

log = logging.getLogger(__name__)

DSP_BASE = "/api/dsp"
MANAGEMENT_BASE = "/api/management"
WELL_KNOWN_VERSION = "/.well-known/dspace-version"

SETTINGS = web.AppKey("settings", Settings)
CONTROL_PLANE = web.AppKey("control_plane", ControlPlane)
METRICS = web.AppKey("metrics", "Metrics")
READY = web.AppKey("ready", asyncio.Event)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Metrics:
    """Per-application registry, so several connectors can live in one test process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kakehashi_http_requests", "HTTP requests served", ["area", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "kakehashi_http_request_seconds", "HTTP request latency", ["area"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.transitions = Counter(
            "kakehashi_process_transitions", "Protocol state transitions", ["process", "state"],
            registry=self.registry,
        )
        self.outbox = Counter(
            "kakehashi_outbox_deliveries", "Outbox delivery attempts", ["outcome"], registry=self.registry
        )


def area_of(path: str) -> str:
    """Which error shape a path answers in: catalog / negotiation / transfer / management / other."""
    if path.startswith(DSP_BASE + "/catalog"):
        return "catalog"
    if path.startswith(DSP_BASE + "/negotiations"):
        return "negotiation"
    if path.startswith(DSP_BASE + "/transfers"):
        return "transfer"
    if path.startswith(MANAGEMENT_BASE):
        return "management"
    return "other"


def error_response(request: web.Request, error: ProtocolError) -> web.Response:
    """Render a refusal in the body shape the area's protocol prescribes."""
    area = area_of(request.path)
    pids = {"consumer_pid": request.get("consumerPid") or "", "provider_pid": request.get("providerPid") or ""}
    body: Any
    if area == "catalog":
        body = catalog_error(error=error)
    elif area == "negotiation":
        body = negotiation_error(error=error, **pids)
    elif area == "transfer":
        body = transfer_error(error=error, **pids)
    elif area == "management":
        body = [{"message": "; ".join(error.reasons()), "type": error.code, "path": request.path,
                 "invalidValue": None}]
    else:
        body = {"code": error.code, "reason": error.reasons()}
    return web.json_response(body, status=error.status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bad input becomes a 4xx in the protocol's error shape; only genuine faults are 500."""
    metrics = request.app[METRICS]
    area = area_of(request.path)
    started = time.perf_counter()
    status = 500
    try:
        limit = request.app[SETTINGS].max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise ProtocolError(413, "PayloadTooLarge", f"request body exceeds {limit} bytes")
        response = await handler(request)
        status = response.status
        return response
    except ProtocolError as exc:
        status = exc.status
        return error_response(request, exc)
    except web.HTTPRequestEntityTooLarge:
        status = 413
        limit = request.app[SETTINGS].max_body_bytes
        return error_response(request, ProtocolError(413, "PayloadTooLarge", f"request body exceeds {limit} bytes"))
    except web.HTTPException as exc:
        status = exc.status
        if exc.status >= 400 and area != "other":
            return error_response(request, ProtocolError(exc.status, exc.reason.replace(" ", ""), exc.text or exc.reason))
        raise
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error serving %s %s", request.method, request.path)
        status = 500
        return error_response(request, ProtocolError(500, "InternalError", "internal error; see the connector log"))
    finally:
        metrics.requests.labels(area, str(status)).inc()
        metrics.latency.labels(area).observe(time.perf_counter() - started)


async def read_json(request: web.Request) -> Any:
    """The request body as JSON, or a 400 that says why it is not."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise
    if not raw:
        raise MalformedMessage("request body is empty; expected a JSON object")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedMessage(f"request body is not valid JSON: {exc}") from None


def version_document(settings: Settings) -> dict[str, Any]:
    doc = VersionResponse.for_2025_1(DSP_BASE, identifier_type="did:web", auth_profiles=["vc20-bssl/jwt"])
    return doc.to_dict()


async def _version(request: web.Request) -> web.Response:
    return web.json_response(version_document(request.app[SETTINGS]))


async def _live(request: web.Request) -> web.Response:
    return web.json_response({"status": "UP"})


async def _ready(request: web.Request) -> web.Response:
    if not request.app[READY].is_set():
        return web.json_response({"status": "DOWN", "reason": "starting"}, status=503)
    try:
        await asyncio.wait_for(request.app[CONTROL_PLANE].store_ready(), timeout=3)
    except Exception as exc:  # any store failure means "not ready"; report it, never crash
        return web.json_response({"status": "DOWN", "reason": f"store: {type(exc).__name__}: {exc}"}, status=503)
    return web.json_response({"status": "UP"})


async def _metrics(request: web.Request) -> web.Response:
    """Prometheus metrics, for the operator only: the Management API key, as ``X-Api-Key`` or
    as a bearer token (Prometheus' ``authorization`` scrape setting)."""
    expected = request.app[SETTINGS].api_key.encode("utf-8")
    bearer = request.headers.get("Authorization", "")
    given = request.headers.get("X-Api-Key") or (bearer[7:] if bearer[:7].lower() == "bearer " else "")
    if not hmac.compare_digest(given.encode("utf-8"), expected):
        return web.json_response({"error": "missing or wrong X-Api-Key (or Authorization: Bearer <api key>)"},
                                 status=401, headers={"WWW-Authenticate": "Bearer"})
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_app(
    settings: Settings,
    *,
    authenticator: Authenticator | None = None,
    store: Any = None,
) -> web.Application:
    """The connector's application. ``authenticator`` defaults to DCP built from the settings
    (trust list, credentials, DID key); ``store`` defaults to `open_store(settings.database)`,
    opened on startup and closed on cleanup."""
    from .delivery import mount_delivery
    from .management import create_management_app
    from .protocol.routes import dsp_routes

    app = web.Application(middlewares=[errors_middleware], client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[READY] = asyncio.Event()
    # Built now, not at start-up: with DCP the connector also serves its DID document and
    # Credential Service, whose routes must exist before the router is frozen.
    auth = authenticator or default_authenticator(settings)
    dcp = _dcp_parts(app, auth)

    async def control_plane_ctx(app: web.Application) -> AsyncIterator[None]:
        async with build_control_plane(settings, authenticator=auth, store=store,
                                       metrics=app[METRICS]) as plane:
            app[CONTROL_PLANE] = plane
            if dcp is not None:
                # Token ids are remembered in the shared database, so a replayed token is
                # refused by every replica, not only the one that saw it first.
                dcp[0].use_store_replay(plane.store.replay)
                dcp[1].replay_check = store_replay_check(plane.store.replay)
            await plane.start()
            app[READY].set()
            yield
            app[READY].clear()
            await plane.stop()
            if dcp is not None:
                await dcp[0].close()

    app.cleanup_ctx.append(control_plane_ctx)
    app.router.add_get("/health/live", _live)
    app.router.add_get("/health/ready", _ready)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get(WELL_KNOWN_VERSION, _version)
    app.router.add_get(DSP_BASE + WELL_KNOWN_VERSION, _version)
    app.router.add_routes(dsp_routes(DSP_BASE))
    mount_delivery(app, settings)  # PACT host at /api/public; footprint Management API routes
    app.add_subapp(MANAGEMENT_BASE, create_management_app(app))
    return app


def _dcp_parts(app: web.Application, auth: Authenticator) -> Any:
    """Serve our DID document and Credential Service when identity is proven with DCP."""
    from .dcp_auth import DcpAuthenticator

    if not isinstance(auth, DcpAuthenticator):
        return None
    from .credential_service import CredentialService, add_identity_routes

    service = CredentialService(auth.identity, auth.resolver)
    add_identity_routes(app, service)
    return auth, service


def plane(request: web.Request) -> ControlPlane:
    """The control plane of the (root) application serving ``request``."""
    root = request.config_dict
    return root[CONTROL_PLANE]


def bind_pids(request: web.Request, **pids: str | None) -> None:
    """Remember process ids for the error body and every log line of this request."""
    for key, value in pids.items():
        if value:
            request[key] = value
    bind(**pids)


__all__ = [
    "create_app", "DSP_BASE", "MANAGEMENT_BASE", "SETTINGS", "CONTROL_PLANE", "METRICS", "Metrics",
    "read_json", "plane", "bind_pids", "error_response",
]
