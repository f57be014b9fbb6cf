"""Management API: transfer processes and EDRs (EDC v3 shapes)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..app import plane
from ..store import Edr, QuerySpec, Transfer
from . import (
    EDC_CONTEXT,
    ManagementError,
    callback_addresses,
    edc_body,
    found,
    id_response,
    json_body,
    millis,
    optional_str,
    query_spec,
    required_str,
)
from .negotiations import run_query


def transfer_json(rec: Transfer) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@context": EDC_CONTEXT, "@type": "TransferProcess", "@id": rec.id, "type": rec.role.upper(),
        "state": rec.state, "contractId": rec.agreement_id, "transferType": rec.transfer_type,
        "counterPartyId": rec.counter_party_id, "counterPartyAddress": rec.counter_party_address,
        "protocol": "dataspace-protocol-http:2025-1", "callbackAddresses": rec.callback_addresses,
        "createdAt": millis(rec.created_at), "stateTimestamp": millis(rec.updated_at),
        "correlationId": rec.provider_pid if rec.role == "consumer" else rec.consumer_pid,
    }
    if rec.error_detail:
        body["errorDetail"] = rec.error_detail
    return body


async def initiate(request: web.Request) -> web.Response:
    body = edc_body(await json_body(request))
    address = required_str(body, "counterPartyAddress")
    if not address.startswith(("http://", "https://")):
        raise ManagementError(400, "counterPartyAddress must be an http(s) URL", path="counterPartyAddress")
    contract_id = required_str(body, "contractId")
    transfer_type = optional_str(body, "transferType", "HttpData-PULL")
    cp = plane(request)
    base = await cp.client.protocol_base(address)
    rec = await cp.transfers.initiate(counter_party_address=base, agreement_id=contract_id,
                                      transfer_type=transfer_type, callback_addresses=callback_addresses(body))
    return web.json_response(id_response(rec.id, rec.created_at))


async def _get(request: web.Request) -> Transfer:
    rec: Transfer = await found(plane(request).store.transfers, request, "transfer process")
    return rec


async def get(request: web.Request) -> web.Response:
    return web.json_response(transfer_json(await _get(request)))


async def state(request: web.Request) -> web.Response:
    rec = await _get(request)
    return web.json_response({"@context": EDC_CONTEXT, "@type": "TransferState", "state": rec.state})


async def query(request: web.Request) -> web.Response:
    spec: QuerySpec = await query_spec(request)
    return web.json_response([transfer_json(r) for r in await run_query(plane(request).store.transfers.query(spec))])


async def _reason(request: web.Request, default: str) -> str:
    body = edc_body(await json_body(request, allow_empty=True) or {})
    return optional_str(body, "reason", default)


async def terminate(request: web.Request) -> web.Response:
    rec = await _get(request)
    await plane(request).transfers.terminate(rec.id, await _reason(request, "terminated via Management API"))
    return web.Response(status=204)


async def suspend(request: web.Request) -> web.Response:
    rec = await _get(request)
    await plane(request).transfers.suspend(rec.id, await _reason(request, "suspended via Management API"))
    return web.Response(status=204)


async def resume(request: web.Request) -> web.Response:
    rec = await _get(request)
    await plane(request).transfers.resume(rec.id)
    return web.Response(status=204)


async def complete(request: web.Request) -> web.Response:
    rec = await _get(request)
    await plane(request).transfers.complete(rec.id)
    return web.Response(status=204)


def edr_json(edr: Edr, rec: Transfer | None) -> dict[str, Any]:
    return {"@context": EDC_CONTEXT, "@type": "EndpointDataReferenceEntry", "@id": edr.transfer_id,
            "transferProcessId": edr.transfer_id, "agreementId": edr.agreement_id,
            "providerId": rec.counter_party_id if rec else None, "createdAt": millis(edr.created_at),
            "expiresAt": millis(edr.expires_at), "revoked": edr.revoked}


async def edr_query(request: web.Request) -> web.Response:
    spec: QuerySpec = await query_spec(request)
    store = plane(request).store
    out = []
    for edr in await run_query(store.edrs.query(spec)):
        if edr.token is None:
            continue  # provider-side records: not ours to hand out
        out.append(edr_json(edr, await store.transfers.get(edr.transfer_id)))
    return web.json_response(out)


async def edr_data_address(request: web.Request) -> web.Response:
    store = plane(request).store
    edr = await store.edrs.get(request.match_info["id"])
    if edr is None or edr.token is None:
        raise ManagementError(404, f"no EDR for transfer {request.match_info['id']!r}", type_="ObjectNotFound")
    if edr.revoked:
        raise ManagementError(409, "the EDR was revoked (transfer suspended, completed or terminated)", type_="Conflict")
    return web.json_response({"@context": EDC_CONTEXT, "@type": "DataAddress",
                              "type": "https://w3id.org/idsa/v4.1/HTTP",
                              "endpointType": "https://w3id.org/idsa/v4.1/HTTP", "endpoint": edr.endpoint,
                              "authType": "bearer", "authorization": edr.token,
                              "expiresAt": millis(edr.expires_at)})


async def edr_delete(request: web.Request) -> web.Response:
    """Forget the EDR we hold for a transfer (EDC: ``DELETE /v3/edrs/{id}``); the transfer itself
    is left as it is (terminate it to end the access on the provider's side too)."""
    store = plane(request).store
    transfer_id = request.match_info["id"]
    edr = await store.edrs.get(transfer_id)
    if edr is None or edr.token is None or not await store.edrs.delete(transfer_id):
        raise ManagementError(404, f"no EDR for transfer {transfer_id[:100]!r}", type_="ObjectNotFound")
    return web.Response(status=204)


def register(app: web.Application) -> None:
    r = app.router
    r.add_post("/v3/transferprocesses", initiate)
    r.add_post("/v3/transferprocesses/request", query)
    r.add_get("/v3/transferprocesses/{id}", get)
    r.add_get("/v3/transferprocesses/{id}/state", state)
    r.add_post("/v3/transferprocesses/{id}/terminate", terminate)
    r.add_post("/v3/transferprocesses/{id}/suspend", suspend)
    r.add_post("/v3/transferprocesses/{id}/resume", resume)
    r.add_post("/v3/transferprocesses/{id}/complete", complete)
    r.add_post("/v3/edrs/request", edr_query)
    r.add_get("/v3/edrs/{id}/dataaddress", edr_data_address)
    r.add_delete("/v3/edrs/{id}", edr_delete)
