"""Every footprint the PACT host hands out is logged.

The host does not know about the audit log, so a middleware on its sub-application reads
what a successful footprint response carried and appends one entry per response: the
agreement (or, for a direct PACT partner without one, ``pact-client:<client id>``), the
transfer, the caller, and each footprint's id, version and hash. The entry is written
before the response leaves, so a delivery the log does not show never happened.

Signed v2.3 credentials are the ones the store keeps (signed at publication), so they are
``footprint.delivered`` and an evidence export finds each one by its hash. Other
renderings (plain PACT JSON, v3 credentials signed on the fly, the CX-0136 aspect) are
``footprint.served``, same payload: logged, but with no stored credential behind them.

Who called is remembered per request in a context variable by :class:`RememberingAuth`,
the wrapper around the host's authenticator (the host authenticates inside the handler,
which runs in the middleware's task and context).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any

from aiohttp import web

from connector.audit import DELIVERED, AuditError, AuditLog, footprint_ref
from connector.dataplane import PactAuth, Principal

_CALLER: ContextVar[Principal | None] = ContextVar("pact_caller", default=None)
_FOOTPRINT_PATH = re.compile(r"/[23]/footprints(?:/[^/]+(?:/credential)?)?/?$")
#: A handler whose response is not a PACT footprint body (the CX-0136 view) puts the
#: references of what it served here, under the request.
DELIVERED_REFS = web.RequestKey("delivered_refs", list)
SERVED = "footprint.served"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RememberingAuth:
    """Delegates to ``inner`` and remembers the Principal for this request's delivery record;
    token issuing (``issue_token``, ``discovery``, ``jwks``) stays the inner one's."""

    def __init__(self, inner: PactAuth) -> None:
        self.inner = inner

    async def authenticate(self, token: str) -> Principal:
        principal = await self.inner.authenticate(token)
        _CALLER.set(principal)
        return principal

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def delivered_items(path: str, body: bytes) -> list[Mapping[str, Any]]:
    """The footprints (credentials or plain PACT JSON) a footprint response body carries."""
    if not _FOOTPRINT_PATH.search(path):
        return []
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    if path.rstrip("/").endswith("/credential"):
        data: Any = [doc]
    else:
        data = doc.get("data") if isinstance(doc, dict) else None
        data = [data] if isinstance(data, dict) else data
    return [d for d in data or [] if isinstance(d, dict)]


def is_stored_form(item: Mapping[str, Any]) -> bool:
    """A signed credential carrying a PACT v2 footprint: the form the store keeps."""
    subject = item.get("credentialSubject")
    footprint = subject.get("productFootprint") if isinstance(subject, Mapping) else None
    return "proof" in item and isinstance(footprint, Mapping) and str(footprint.get("specVersion", "")).startswith("2")


def footprint_refs(items: list[Mapping[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """(audit kind, references) for the items of one response."""
    refs = []
    for item in items:
        try:
            refs.append(footprint_ref(item))
        except AuditError:
            continue
    return (DELIVERED if items and all(is_stored_form(i) for i in items) else SERVED), refs


def delivery_payload(principal: Principal, refs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ``footprint.delivered`` payload for ``refs`` served to ``principal`` (None if empty)."""
    if not refs:
        return None
    payload: dict[str, Any] = {"agreementId": principal.agreement_id or f"pact-client:{principal.subject}",
                               "footprints": refs, "counterParty": principal.subject}
    transfer = getattr(principal, "transfer_id", None)
    if transfer:
        payload["transferId"] = transfer
    return payload


def delivery_middleware(store: Callable[[], Any]) -> Any:
    """Record successful footprint responses (``store()`` is the running connector's store)."""

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        reset = _CALLER.set(None)
        try:
            response = await handler(request)
            principal = _CALLER.get()
            if (request.method == "GET" and principal is not None and response.status == 200
                    and isinstance(response, web.Response) and isinstance(response.body, (bytes, bytearray))):
                refs = request.get(DELIVERED_REFS)
                kind = SERVED
                if refs is None:
                    kind, refs = footprint_refs(delivered_items(request.path, bytes(response.body)))
                payload = delivery_payload(principal, refs)
                if payload is not None:
                    await AuditLog(store()).append(kind, payload)
            return response
        finally:
            _CALLER.reset(reset)

    return record
