"""The Catena-X CX-0136 view of our published footprints: ``GET /productIds/{productId}``.

CX-0136 (PCF exchange, request endpoint 1.1.x) names the product in the path, carries a
``requestId`` query parameter and the caller's BPN in ``Edc-Bpn``, and answers with an
``io.catenax.pcf`` aspect. We answer synchronously (200 with the 9.0.0 aspect of the
newest footprint for that product) instead of 202 plus a later ``PUT`` to the requester:
we hold no callback address for a Catena-X partner. Access is the same bearer token as
for the PACT API (EDR or client credentials), limited to the same footprints.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from connector.audit import credential_sha256
from connector.dataplane import PACT_HOST, ErrorKind, PactError
from connector.dataplane.auth import SCOPE_READ
from connector.footprints import MappingError, to_catenax

from .recording import DELIVERED_REFS

PRODUCT_PATH = "/productIds/{productId}"
MAX_PRODUCT_ID = 500
MAX_SCAN = 100_000


def newest(footprints: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The footprint a product's PCF request means: Active before Deprecated, then the
    highest version, then the latest ``updated``/``created``."""
    def rank(fp: dict[str, Any]) -> tuple[bool, int, str]:
        version = fp.get("version") if isinstance(fp.get("version"), int) else 0
        return (fp.get("status") == "Active", version, str(fp.get("updated") or fp.get("created") or ""))

    return max(footprints, key=rank) if footprints else None


async def get_product_pcf(request: web.Request) -> web.Response:
    host = request.app[PACT_HOST]
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise PactError(ErrorKind.BAD_REQUEST, "missing Authorization: Bearer <access token>")
    principal = await host.auth.authenticate(token.strip())
    principal.require(SCOPE_READ)
    product_id = request.match_info["productId"]
    if not product_id or len(product_id) > MAX_PRODUCT_ID:
        raise PactError(ErrorKind.BAD_REQUEST, f"productId must be 1..{MAX_PRODUCT_ID} characters")

    def for_product(fp: dict[str, Any]) -> bool:
        ids = fp.get("productIds")
        return isinstance(ids, list) and product_id in ids

    matches: list[dict[str, Any]] = []
    after: str | None = None
    scanned = 0
    while scanned < MAX_SCAN:
        batch = await host.source.page(after=after, limit=500, where=for_product, ids=principal.footprint_ids)
        matches.extend(batch)
        scanned += 500
        if len(batch) < 500:
            break
        after = batch[-1]["id"]
    chosen = newest(matches)
    if chosen is None:
        raise PactError(ErrorKind.NOT_FOUND, f"no footprint for product {product_id[:100]!r}")
    try:
        aspect = to_catenax(chosen)
    except MappingError as exc:
        raise PactError(ErrorKind.NOT_FOUND,
                        f"footprint {chosen.get('id')} has no Catena-X PCF 9.0.0 form: {exc}") from None
    headers = {"requestId": request.query["requestId"][:200]} if "requestId" in request.query else None
    response = web.json_response(aspect, headers=headers)
    version = chosen.get("version")
    request[DELIVERED_REFS] = [{"id": chosen["id"], "version": version if isinstance(version, int) else 0,
                                "credentialId": None, "sha256": credential_sha256(aspect)}]
    return response


def add_catenax_routes(pact_app: web.Application) -> None:
    pact_app.router.add_get(PRODUCT_PATH, get_product_pcf, allow_head=False)
