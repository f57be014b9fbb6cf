"""Revocation of our published footprints: Bitstring Status Lists served by the connector.

Every footprint credential we publish carries a ``BitstringStatusListEntry`` (purpose
``revocation``) at an index the store allocated for that footprint id and version (random
within the list: an index says nothing about when or what was published). The list itself
is a ``BitstringStatusListCredential`` issued by our DID, as the footprint credentials are,
so a verifier accepts it only from the footprint's own issuer; it is public, like our DID
document: a verifier must be able to check a credential it was handed.

The list is built from the store (the revoked indexes) and signed only when a revocation
changed it or half its validity has passed, so every replica serves the same bits.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from identity.credentials import default_cryptosuite, sign_credential_di
from identity.keys import KeyPair
from identity.status import MIN_BITS, StatusList, status_entry, status_list_credential

STATUS_PATH = "/status/footprints"
LIST_VALIDITY = timedelta(days=1)


def list_url(base_url: str, list_id: int) -> str:
    return f"{base_url.rstrip('/')}{STATUS_PATH}/{list_id}"


def footprint_status_entry(base_url: str, list_id: int, index: int) -> dict[str, Any]:
    """The ``credentialStatus`` of a footprint credential at ``index`` of our list ``list_id``."""
    return status_entry(list_url(base_url, list_id), index)


class FootprintStatusLists:
    """Our signed status list credentials, by list id, from the store's revoked indexes."""

    def __init__(self, key: KeyPair, did: str, verification_method: str, base_url: str, *,
                 ttl_seconds: int = 300) -> None:
        self.key, self.did, self.vm, self.base_url = key, did, verification_method, base_url
        self.ttl_ms = ttl_seconds * 1000
        self.suite = default_cryptosuite(key, "jcs")
        # list id -> (revision it was signed at, monotonic time to re-sign by, credential)
        self._signed: dict[int, tuple[tuple[int, datetime | None], float, dict[str, Any]]] = {}

    async def credential(self, store: Any, list_id: int) -> dict[str, Any] | None:
        """The signed list ``list_id``, or None when we never allocated from it."""
        revision = await store.footprint_status.revision(list_id)
        hit = self._signed.get(list_id)
        if hit is not None and hit[0] == revision and hit[1] > time.monotonic():
            return hit[2]
        if list_id not in await store.footprint_status.list_ids():
            return None
        bits = StatusList.new(MIN_BITS)  # the store's list size (FootprintStatusRepository.LIST_SIZE)
        for index in await store.footprint_status.revoked_indexes(list_id):
            bits.set(index)
        now = datetime.now(timezone.utc).replace(microsecond=0)
        unsigned = status_list_credential(list_url=list_url(self.base_url, list_id), issuer=self.did,
                                          status_list=bits, valid_from=now, valid_until=now + LIST_VALIDITY,
                                          ttl_ms=self.ttl_ms)
        signed = sign_credential_di(unsigned, self.key, verification_method=self.vm, cryptosuite=self.suite)
        self._signed[list_id] = (revision, time.monotonic() + LIST_VALIDITY.total_seconds() / 2, signed)
        return signed


STATUS_LISTS = web.AppKey("footprint_status_lists", FootprintStatusLists)


async def serve_status_list(request: web.Request) -> web.Response:
    """``GET /status/footprints/{listId}``: public, as our DID document is."""
    from connector.app import CONTROL_PLANE

    raw = request.match_info["listId"]
    list_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else None  # not "²"
    credential = None
    if list_id is not None:
        credential = await request.app[STATUS_LISTS].credential(request.app[CONTROL_PLANE].store, list_id)
    if credential is None:
        return web.json_response({"error": f"no status list {raw[:40]!r} here"}, status=404)
    ttl = request.app[STATUS_LISTS].ttl_ms // 1000
    return web.json_response(credential, content_type="application/vc",
                             headers={"Cache-Control": f"public, max-age={ttl}"})


def mount_status_lists(app: web.Application, lists: FootprintStatusLists) -> None:
    app[STATUS_LISTS] = lists
    app.router.add_get(STATUS_PATH + "/{listId}", serve_status_list)
