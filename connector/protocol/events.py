"""Pushes process events to the callback addresses a Management API client registered.

EDC-style: each callback has a `uri`, the `events` it wants (prefixes such as
`contract.negotiation` or `transfer.process`), and gets a JSON POST per state change, so
clients need not poll. Delivery is best effort with a short timeout; a slow or dead listener
never delays the protocol.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import aiohttp

from ..store import Negotiation, Transfer

log = logging.getLogger(__name__)

TIMEOUT = aiohttp.ClientTimeout(total=5, connect=2)

_NEG_EVENTS = {
    "REQUESTED": "ContractNegotiationRequested", "OFFERED": "ContractNegotiationOffered",
    "ACCEPTED": "ContractNegotiationAccepted", "AGREED": "ContractNegotiationAgreed",
    "VERIFIED": "ContractNegotiationVerified", "FINALIZED": "ContractNegotiationFinalized",
    "TERMINATED": "ContractNegotiationTerminated",
}
_TRANSFER_EVENTS = {
    "REQUESTED": "TransferProcessRequested", "STARTED": "TransferProcessStarted",
    "SUSPENDED": "TransferProcessSuspended", "COMPLETED": "TransferProcessCompleted",
    "TERMINATED": "TransferProcessTerminated",
}


#: The callback address ``POST /v3/edrs`` puts on a negotiation: when it is FINALIZED, the
#: consumer starts a pull transfer in the same transaction (Tractus-X's EDR flow). It lives in
#: the negotiation's stored callbacks, so a restart keeps it; it is never POSTed to.
AUTO_PULL = {"uri": "local:kakehashi/edr", "events": ["contract.negotiation.finalized"], "transactional": True}


def auto_pull(callbacks: list[dict[str, Any]]) -> bool:
    return any(cb.get("uri") == AUTO_PULL["uri"] for cb in callbacks)


def app_callbacks(callbacks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The callbacks an application gave (http(s) URIs), without our own markers."""
    return [cb for cb in callbacks if str(cb.get("uri", "")).startswith(("http://", "https://"))]


def wants(callback: dict[str, Any], event_name: str) -> bool:
    events = callback.get("events") or []
    if isinstance(events, str):
        events = [events]
    return any(event_name.startswith(str(e)) for e in events)


class EventNotifier:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self._tasks: set[asyncio.Task[None]] = set()

    def _push(self, callbacks: list[dict[str, Any]], dotted: str, type_: str, payload: dict[str, Any]) -> None:
        for cb in app_callbacks(callbacks):
            uri = cb.get("uri")
            if not isinstance(uri, str) or not wants(cb, dotted):
                continue
            body = {"id": str(uuid.uuid4()), "at": int(time.time() * 1000), "type": type_,
                    "payload": {**payload, "callbackAddresses": app_callbacks(callbacks)}}
            task = asyncio.create_task(self._post(uri, body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post(self, uri: str, body: dict[str, Any]) -> None:
        try:
            async with self.session.post(uri, json=body, timeout=TIMEOUT) as resp:
                if resp.status >= 300:
                    log.info("callback %s answered %s", uri, resp.status)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            log.info("callback %s unreachable: %s", uri, exc)

    def negotiation_changed(self, rec: Negotiation) -> None:
        if not rec.callback_addresses:
            return
        name = _NEG_EVENTS.get(rec.state, "ContractNegotiationUpdated")
        dotted = "contract.negotiation." + rec.state.lower()
        self._push(rec.callback_addresses, dotted, name, {
            "contractNegotiationId": rec.id, "counterPartyId": rec.counter_party_id,
            "counterPartyAddress": rec.counter_party_address, "protocol": "dataspace-protocol-http:2025-1",
            "state": rec.state, "contractAgreementId": rec.agreement_id, "errorDetail": rec.error_detail,
        })

    def transfer_changed(self, rec: Transfer) -> None:
        if not rec.callback_addresses:
            return
        name = _TRANSFER_EVENTS.get(rec.state, "TransferProcessUpdated")
        dotted = "transfer.process." + rec.state.lower()
        self._push(rec.callback_addresses, dotted, name, {
            "transferProcessId": rec.id, "contractId": rec.agreement_id, "type": rec.role.upper(),
            "state": rec.state, "errorDetail": rec.error_detail,
        })

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
