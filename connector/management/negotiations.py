"""Management API: contract negotiations and agreements (EDC v3 shapes)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..app import plane
from ..dsp.states import NegState
from ..protocol.events import AUTO_PULL, app_callbacks
from ..store import Agreement, InvalidQuery, Negotiation, QuerySpec, criteria
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

ODRL = "http://www.w3.org/ns/odrl/2/"


def negotiation_json(rec: Negotiation) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@context": EDC_CONTEXT, "@type": "ContractNegotiation", "@id": rec.id, "type": rec.role.upper(),
        "protocol": "dataspace-protocol-http:2025-1", "state": rec.state, "counterPartyId": rec.counter_party_id,
        "counterPartyAddress": rec.counter_party_address, "callbackAddresses": app_callbacks(rec.callback_addresses),
        "createdAt": millis(rec.created_at), "correlationId": rec.provider_pid if rec.role == "consumer" else rec.consumer_pid,
    }
    if rec.agreement_id:
        body["contractAgreementId"] = rec.agreement_id
    if rec.error_detail:
        body["errorDetail"] = rec.error_detail
    return body


def agreement_json(agreement: Agreement) -> dict[str, Any]:
    return {"@context": EDC_CONTEXT, "@type": "ContractAgreement", "@id": agreement.id, "assetId": agreement.asset_id,
            "policy": agreement.policy, "contractSigningDate": int(agreement.signed_at.timestamp()),
            "consumerId": agreement.assignee, "providerId": agreement.assigner,
            "contractNegotiationId": agreement.negotiation_id}


def _strip_odrl(obj: Any) -> Any:
    """EDC clients send `odrl:`-prefixed or full-IRI ODRL terms; the DSP offer wants bare ones."""
    if isinstance(obj, list):
        return [_strip_odrl(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if key == "@context":
            continue
        bare = key[len("odrl:"):] if key.startswith("odrl:") else key[len(ODRL):] if key.startswith(ODRL) else key
        if bare == "@type" and isinstance(value, str):
            value = value.split(":")[-1].split("/")[-1]
        if isinstance(value, dict) and set(value) == {"@id"} and bare in ("target", "assigner", "assignee", "action"):
            value = value["@id"]
        if isinstance(value, str) and bare in ("action", "operator", "leftOperand"):
            value = value[len("odrl:"):] if value.startswith("odrl:") else value[len(ODRL):] if value.startswith(ODRL) else value
        if bare in ("permission", "prohibition", "obligation", "constraint", "duty") and isinstance(value, dict):
            value = [value]
        out[bare] = _strip_odrl(value)
    return out


async def _reusable(request: web.Request, counter_party_id: str, target: str) -> Negotiation | None:
    store = plane(request).store
    agreements = await store.agreements.query(criteria(("assetId", "=", target), limit=100))
    for agreement in agreements:
        if agreement.assigner != counter_party_id:
            continue
        rec = await store.negotiations.get(agreement.negotiation_id)
        if rec is not None and rec.role == "consumer" and rec.state == NegState.FINALIZED:
            return rec
    return None


async def initiate(request: web.Request) -> web.Response:
    return await _initiate(request, await json_body(request), ())


async def edr_initiate(request: web.Request) -> web.Response:
    """Tractus-X's EDR flow (``POST /v3/edrs``, a ContractRequest): negotiate, and once the
    negotiation is FINALIZED start a pull transfer at once; its EDR then appears under
    ``/v3/edrs``. Answers the negotiation's id."""
    return await _initiate(request, await json_body(request), (dict(AUTO_PULL),))


async def _initiate(request: web.Request, raw: Any, markers: tuple[dict[str, Any], ...]) -> web.Response:
    body = edc_body(raw)
    address = required_str(body, "counterPartyAddress")
    if not address.startswith(("http://", "https://")):
        raise ManagementError(400, "counterPartyAddress must be an http(s) URL", path="counterPartyAddress")
    policy = body.get("policy")
    if not isinstance(policy, dict):
        raise ManagementError(400, "policy (the offer from the catalog) is required", path="policy")
    offer = _strip_odrl(policy)
    offer["@type"] = "Offer"
    counter_party_id = optional_str(body, "counterPartyId") or (offer.get("assigner") or "")
    if not isinstance(counter_party_id, str) or not counter_party_id.startswith("did:"):
        raise ManagementError(400, "counterPartyId (or policy.assigner) must be the provider's DID", path="counterPartyId")
    target = offer.get("target")
    if not isinstance(target, str):
        raise ManagementError(400, "policy.target (the asset id) is required", path="policy.target")
    reuse = str(body.get("reuseAgreement", request.query.get("reuseAgreement", ""))).lower() in ("true", "1")
    if reuse and not markers:
        existing = await _reusable(request, counter_party_id, target)
        if existing is not None:
            return web.json_response({**id_response(existing.id, existing.created_at), "reused": True})
    cp = plane(request)
    base = await cp.client.protocol_base(address)
    rec = await cp.negotiations.initiate(counter_party_address=base, counter_party_id=counter_party_id, offer=offer,
                                         callback_addresses=callback_addresses(body) + list(markers))
    return web.json_response(id_response(rec.id, rec.created_at))


async def _get(request: web.Request) -> Negotiation:
    rec: Negotiation = await found(plane(request).store.negotiations, request, "contract negotiation")
    return rec


async def get(request: web.Request) -> web.Response:
    return web.json_response(negotiation_json(await _get(request)))


async def state(request: web.Request) -> web.Response:
    rec = await _get(request)
    return web.json_response({"@context": EDC_CONTEXT, "@type": "NegotiationState", "state": rec.state})


async def agreement(request: web.Request) -> web.Response:
    rec = await _get(request)
    found = await plane(request).store.agreements.for_negotiation(rec.id)
    if found is None:
        raise ManagementError(404, f"negotiation {rec.id!r} has no agreement (state {rec.state})", type_="ObjectNotFound")
    return web.json_response(agreement_json(found))


async def terminate(request: web.Request) -> web.Response:
    rec = await _get(request)
    body = edc_body(await json_body(request, allow_empty=True) or {})
    await plane(request).negotiations.terminate(rec.id, optional_str(body, "reason", "terminated via Management API"))
    return web.Response(status=204)


async def accept(request: web.Request) -> web.Response:
    """Accept the provider's (counter-)offer of a negotiation in state OFFERED."""
    rec = await _get(request)
    await plane(request).negotiations.accept(rec.id)
    return web.Response(status=204)


async def run_query(coro: Any) -> Any:
    try:
        return await coro
    except InvalidQuery as exc:
        raise ManagementError(400, str(exc)) from None


async def query(request: web.Request) -> web.Response:
    spec: QuerySpec = await query_spec(request)
    found = await run_query(plane(request).store.negotiations.query(spec))
    return web.json_response([negotiation_json(r) for r in found])


async def agreement_get(request: web.Request) -> web.Response:
    found = await plane(request).store.agreements.get(request.match_info["id"])
    if found is None:
        raise ManagementError(404, f"contract agreement {request.match_info['id']!r} not found", type_="ObjectNotFound")
    return web.json_response(agreement_json(found))


async def agreement_negotiation(request: web.Request) -> web.Response:
    found = await plane(request).store.agreements.get(request.match_info["id"])
    rec = await plane(request).store.negotiations.get(found.negotiation_id) if found else None
    if rec is None:
        raise ManagementError(404, f"contract agreement {request.match_info['id']!r} not found", type_="ObjectNotFound")
    return web.json_response(negotiation_json(rec))


async def agreement_query(request: web.Request) -> web.Response:
    spec: QuerySpec = await query_spec(request)
    found = await run_query(plane(request).store.agreements.query(spec))
    return web.json_response([agreement_json(a) for a in found])


def register(app: web.Application) -> None:
    r = app.router
    r.add_post("/v3/contractnegotiations", initiate)
    r.add_post("/v3/edrs", edr_initiate)
    r.add_post("/v3/contractnegotiations/request", query)
    r.add_get("/v3/contractnegotiations/{id}", get)
    r.add_get("/v3/contractnegotiations/{id}/state", state)
    r.add_get("/v3/contractnegotiations/{id}/agreement", agreement)
    r.add_post("/v3/contractnegotiations/{id}/terminate", terminate)
    r.add_post("/v3/contractnegotiations/{id}/accept", accept)
    r.add_post("/v3/contractagreements/request", agreement_query)
    r.add_get("/v3/contractagreements/{id}", agreement_get)
    r.add_get("/v3/contractagreements/{id}/negotiation", agreement_negotiation)
