"""`POST /v3/catalog/request` and `/v3/catalog/dataset/request`: ask a partner's connector."""

from __future__ import annotations

from aiohttp import web

from ..app import plane
from ..dsp.messages import CatalogRequestMessage
from ..protocol.client import PeerError
from . import ManagementError, edc_body, json_body, optional_str, required_str


async def _peer(request: web.Request) -> tuple[dict, str, str]:
    body = edc_body(await json_body(request))
    address = required_str(body, "counterPartyAddress")
    if not address.startswith(("http://", "https://")):
        raise ManagementError(400, "counterPartyAddress must be an http(s) URL", path="counterPartyAddress")
    counter_party_id = optional_str(body, "counterPartyId")
    if not counter_party_id.startswith("did:"):
        raise ManagementError(400, "counterPartyId must be the partner's DID", path="counterPartyId")
    return body, await plane(request).client.protocol_base(address), counter_party_id


def _peer_failure(exc: PeerError) -> ManagementError:
    status = 502 if exc.retryable else (exc.status if exc.status in (401, 403, 404) else 502)
    return ManagementError(status, f"partner answered: {'; '.join(exc.peer_reasons())}", type_="PartnerError")


async def catalog_request(request: web.Request) -> web.Response:
    body, base, counter_party_id = await _peer(request)
    try:
        resp = await plane(request).client.call_with_retry(
            "POST", base + "/catalog/request", counter_party_id, CatalogRequestMessage().to_dict())
    except PeerError as exc:
        raise _peer_failure(exc) from None
    return web.json_response(resp.body)


async def dataset_request(request: web.Request) -> web.Response:
    body, base, counter_party_id = await _peer(request)
    dataset_id = required_str(body, "@id")
    from urllib.parse import quote

    try:
        resp = await plane(request).client.call_with_retry(
            "GET", f"{base}/catalog/datasets/{quote(dataset_id, safe='')}", counter_party_id)
    except PeerError as exc:
        raise _peer_failure(exc) from None
    return web.json_response(resp.body)


def register(app: web.Application) -> None:
    app.router.add_post("/v3/catalog/request", catalog_request)
    app.router.add_post("/v3/catalog/dataset/request", dataset_request)
