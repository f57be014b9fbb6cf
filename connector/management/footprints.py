"""Management API: footprints we publish and footprints we received.

    POST /v3/footprints            publish one PACT footprint, a list, or {"footprints": [...]};
                                   subscribed PACT partners then get a Published event for what
                                   was stored (new or replaced; not kept-older), in the background
    GET  /v3/footprints/{id}       one footprint (?direction=published|received; published first)
    POST /v3/footprints/request    query: {"direction", "counterPartyId", "agreementId", "productId",
                                   "limit", "after"} (counterPartyId: the issuer of a received one)
    POST /v3/footprints/fetch      consumer: {"transferProcessId"} or {"agreementId"} -> fetch with
                                   the EDR, verify every credential, store the good ones; with
                                   {"agreementId", "startTransfer": true} a new pull transfer is
                                   started first when no usable EDR is left
    POST /v3/footprints/recheck    consumer: verify the received footprints we keep again, as stored
                                   (narrowed by the filters of /request: counterPartyId, agreementId,
                                   productId): the ones revoked since are marked Revoked, other
                                   failures reported
    POST /v3/footprints/{id}/revoke  provider: revoke our credentials for a published footprint
                                   (every version, or {"version": n}); verifiers see it in our
                                   status list at /status/footprints/N
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from ..app import SETTINGS, plane
from ..audit import AuditLog
from ..delivery import SIGNER, VERIFICATION, FetchRefused, FootprintFetcher
from ..delivery.consumer import recheck_received
from ..delivery.partner_events import notify_published
from ..delivery.publishing import PublishError, footprints_of, prepare, publish
from ..delivery.status_lists import list_url
from ..store import Footprint
from ..store.footprints import PUBLISHED, RECEIVED
from . import ManagementError, edc_body, json_body, millis, optional_str, register_routes

DIRECTIONS = {"published": PUBLISHED, "received": RECEIVED}
MAX_QUERY_LIMIT = 1000
SCAN_BATCH = 500


def footprint_json(rec: Footprint, *, with_credential: bool = True) -> dict[str, Any]:
    from identity.footprint_credential import extract_footprint

    credential = rec.credential
    footprint = extract_footprint(credential) or credential
    issuer = credential.get("issuer") if footprint is not credential else None
    out: dict[str, Any] = {
        "@id": rec.id, "direction": rec.direction.lower(), "version": rec.version, "status": rec.status,
        "sha256": rec.sha256, "agreementId": rec.source_agreement_id,
        "issuer": issuer.get("id") if isinstance(issuer, dict) else issuer,
        "updatedAt": millis(rec.updated_at), "footprint": footprint,
    }
    if with_credential and footprint is not credential:
        out["credential"] = credential
    return out


def _direction(value: str) -> str:
    direction = DIRECTIONS.get(value.lower())
    if direction is None:
        raise ManagementError(400, f"direction must be 'published' or 'received', got {value!r}", path="direction")
    return direction


async def create(request: web.Request) -> web.Response:
    settings = request.config_dict[SETTINGS]
    try:
        footprints = prepare(footprints_of(await json_body(request)))
        result = await publish(plane(request).store, request.config_dict[SIGNER], footprints,
                               status_base=settings.base_url if settings.footprint_status else None)
    except PublishError as exc:
        raise ManagementError(400, f"footprints not published: {exc}", type_="ValidationFailure") from None
    if result.published:  # kept-newer ones did not change: nothing to announce
        notify_published(request.config_dict, result.published)
    return web.json_response(result.to_json())


async def get(request: web.Request) -> web.Response:
    fid = request.match_info["id"]
    asked = request.query.get("direction")
    directions = [_direction(asked)] if asked else [PUBLISHED, RECEIVED]
    store = plane(request).store
    for direction in directions:
        rec = await store.footprints.get(direction, fid)
        if rec is not None:
            return web.json_response(footprint_json(rec))
    raise ManagementError(404, f"footprint {fid[:100]!r} not found", type_="ObjectNotFound")


def _matcher(body: dict[str, Any]) -> Any:
    counter_party = optional_str(body, "counterPartyId") or None
    agreement_id = optional_str(body, "agreementId") or None
    product_id = optional_str(body, "productId") or None

    def matches(out: dict[str, Any]) -> bool:
        if counter_party is not None and out["issuer"] != counter_party:
            return False
        if agreement_id is not None and out["agreementId"] != agreement_id:
            return False
        ids = out["footprint"].get("productIds") if isinstance(out["footprint"], dict) else None
        return product_id is None or (isinstance(ids, list) and product_id in ids)

    return matches


async def query(request: web.Request) -> web.Response:
    body = edc_body(await json_body(request, allow_empty=True))
    direction = optional_str(body, "direction")
    directions = [_direction(direction)] if direction else [PUBLISHED, RECEIVED]
    if body.get("counterPartyId") is not None and directions == [PUBLISHED]:
        raise ManagementError(400, "counterPartyId filters received footprints (their issuer); "
                                   "published ones are ours", path="counterPartyId")
    limit = body.get("limit", 100)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_QUERY_LIMIT:
        raise ManagementError(400, f"limit must be an integer from 1 to {MAX_QUERY_LIMIT}", path="limit")
    after = optional_str(body, "after") or None
    matches = _matcher(body)
    store = plane(request).store
    found: list[dict[str, Any]] = []
    for direction in directions:
        cursor = after
        while len(found) < limit:
            batch = await store.footprints.page(direction, after_id=cursor, limit=SCAN_BATCH)
            for rec in batch:
                out = footprint_json(rec, with_credential=False)
                if matches(out):
                    found.append(out)
                    if len(found) >= limit:
                        break
            if len(batch) < SCAN_BATCH:
                break
            cursor = batch[-1].id
    return web.json_response(found)


async def fetch(request: web.Request) -> web.Response:
    body = edc_body(await json_body(request))
    transfer_id = optional_str(body, "transferProcessId") or None
    agreement_id = optional_str(body, "agreementId") or None
    if (transfer_id is None) == (agreement_id is None):
        raise ManagementError(400, "give exactly one of transferProcessId or agreementId")
    start = body.get("startTransfer", False)
    if not isinstance(start, bool) or (start and agreement_id is None):
        raise ManagementError(400, "startTransfer is a boolean, used with agreementId", path="startTransfer")
    control = plane(request)
    fetcher = FootprintFetcher(control.store, control.client.session, request.config_dict[VERIFICATION])
    try:
        try:
            edr = await fetcher.edr_for(transfer_id=transfer_id, agreement_id=agreement_id)
        except FetchRefused as exc:
            if not start or exc.status not in (404, 409):
                raise
            assert agreement_id is not None
            edr = await fetcher.edr_for(transfer_id=await _new_transfer(request, agreement_id), agreement_id=None)
        result = await fetcher.fetch(edr)
    except FetchRefused as exc:
        raise ManagementError(exc.status, exc.reason, type_=exc.type) from None
    return web.json_response(result.to_json())


TRANSFER_WAIT_S = 15.0


async def _new_transfer(request: web.Request, agreement_id: str) -> str:
    """``startTransfer``: no usable EDR under the agreement (none yet, expired, or its transfer
    ended), so start a pull transfer, as ``POST /v3/transferprocesses`` would, and wait until it
    is STARTED (the provider evaluates the agreement's policy again) or refused."""
    from ..dsp.errors import ProtocolError
    from ..protocol.transfers import PULL

    control = plane(request)
    agreement = await control.store.agreements.get(agreement_id)
    negotiation = await control.store.negotiations.get(agreement.negotiation_id) if agreement else None
    if agreement is None or negotiation is None or negotiation.role != "consumer":
        raise FetchRefused(404, f"no agreement {agreement_id[:100]!r} where we are the consumer", "ObjectNotFound")
    try:
        rec = await control.transfers.initiate(counter_party_address=negotiation.counter_party_address,
                                               agreement_id=agreement_id, transfer_type=PULL, callback_addresses=[])
    except ProtocolError as exc:
        raise FetchRefused(409, f"cannot start a transfer: {exc.reason}", "ObjectConflict") from None
    deadline = asyncio.get_running_loop().time() + TRANSFER_WAIT_S
    while True:
        current = await control.store.transfers.get(rec.id)
        if current is not None and current.state == "STARTED" and await control.store.edrs.get(rec.id) is not None:
            return rec.id
        if current is not None and current.state == "TERMINATED":
            raise FetchRefused(409, f"the provider refused the new transfer {rec.id}: {current.error_detail}",
                               "ProviderRefused")
        if asyncio.get_running_loop().time() > deadline:
            raise FetchRefused(502, f"transfer {rec.id} not STARTED within {TRANSFER_WAIT_S:.0f} s (it may still "
                                    "start: fetch with its transferProcessId)", "ProviderUnavailable")
        await asyncio.sleep(0.05)


async def recheck(request: web.Request) -> web.Response:
    """Verify the received footprints we keep again; the ones revoked since are marked Revoked."""
    matches = _matcher(edc_body(await json_body(request, allow_empty=True)))  # the filters of /request
    result = await recheck_received(plane(request).store, request.config_dict[VERIFICATION],
                                    wanted=lambda rec: matches(footprint_json(rec, with_credential=False)))
    if result.revoked:
        await AuditLog(plane(request).store).append("footprint.revocation_seen", {"footprintIds": result.revoked})
    return web.json_response(result.to_json())


async def revoke(request: web.Request) -> web.Response:
    """Revoke our credentials for a published footprint: every version, or ``{"version": n}``."""
    fid = request.match_info["id"]
    body = edc_body(await json_body(request, allow_empty=True))
    version = body.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 0):
        raise ManagementError(400, "version must be a non-negative integer", path="version")
    store = plane(request).store
    entries = await store.footprint_status.revoke(fid, version)
    if not entries:
        which = f"{fid[:100]!r}" + (f" version {version}" if version is not None else "")
        raise ManagementError(404, f"no footprint {which} was published with a revocation entry", type_="ObjectNotFound")
    base = request.config_dict[SETTINGS].base_url
    revoked = [{"version": e.version, "statusListCredential": list_url(base, e.list_id),
                "statusListIndex": str(e.index), "revokedAt": millis(e.revoked_at) if e.revoked_at else None}
               for e in entries]
    await AuditLog(store).append("footprint.revoked", {"footprintId": fid, "revoked": revoked})
    return web.json_response({"@id": fid, "revoked": revoked})


@register_routes
def register(app: web.Application) -> None:
    app.router.add_post("/v3/footprints", create)
    app.router.add_post("/v3/footprints/request", query)
    app.router.add_post("/v3/footprints/fetch", fetch)
    app.router.add_post("/v3/footprints/recheck", recheck)
    app.router.add_get("/v3/footprints/{id}", get)
    app.router.add_post("/v3/footprints/{id}/revoke", revoke)
