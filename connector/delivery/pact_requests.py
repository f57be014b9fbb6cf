"""PACT ``RequestCreated`` events kept in the store until they are answered.

The PACT host acknowledges a ``RequestCreated`` event with 200 and answers later, on the
partner's events endpoint. With this log the event is written to ``pact_requests`` before the
200 goes out, leased to the replica that accepted it, which answers at once; a delivery that
fails is retried later with backoff (after the host's own quick retries), and a replica that
restarts takes back its leases at start-up, so an acknowledged request is answered even if the
connector died in between. The same event (partner and id) sent twice is answered once.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from connector.dataplane import PendingRequest, Principal
from connector.dataplane.cloudevents import PactEvent, parse_event
from connector.dataplane.delivery import DeliveryResult, Partner
from connector.dataplane.errors import PactError
from connector.store import PactRequest, utcnow
from connector.store.outbox import backoff_delay

from .partner_events import ConfiguredPartners

log = logging.getLogger(__name__)

LEASE_SECONDS = 60.0  # longer than the host's own retries of one delivery (about 8 s)
KEEP_FINISHED = timedelta(days=7)  # answered and given-up requests, for the operator to look at
PURGE_EVERY = 3600.0  # seconds
MAX_ROUNDS = 8  # rounds of delivery attempts, backing off to 10 minutes: about half an hour
BATCH = 20


def retry_at_delay(rounds: int) -> float:
    return backoff_delay(rounds, base=5.0, cap=600.0)


class StoreRequestLog:
    """``RequestLog`` over ``store.pact_requests``; ``store_of`` returns the running store, or
    None before the control plane has started (nothing is due yet then)."""

    def __init__(self, store_of: Callable[[], Any], partners: ConfiguredPartners, owner: str) -> None:
        self._store_of, self.partners, self.owner = store_of, partners, owner
        self._released = False
        self._next_purge = 0.0

    async def accepted(self, event: PactEvent, principal: Principal, partner: Partner, source: str) -> str | None:
        scope = sorted(principal.footprint_ids) if principal.footprint_ids is not None else None
        row, new = await self._store_of().pact_requests.add(
            PactRequest(id=f"urn:uuid:{uuid.uuid4()}", partner=partner.name, event_id=event.id, version=event.version,
                        event=event.raw, scope=scope, source=source),
            claim_for=self.owner, lease_seconds=LEASE_SECONDS)
        return row.id if new else None

    async def outcome(self, handle: str, result: DeliveryResult) -> None:
        requests = self._store_of().pact_requests
        if result.delivered:
            await requests.answered(handle, self.owner)
            return
        row = await requests.get(handle)
        rounds = (row.attempts if row is not None else 0) + 1
        refused = result.status is not None and 400 <= result.status < 500 and result.status not in (401, 408, 429)
        if refused or rounds >= MAX_ROUNDS:
            log.warning("PACT request %s: giving up after %d round(s): %s", handle, rounds, result.reason)
            await requests.give_up(handle, self.owner, result.reason or "not delivered")
        else:
            at = utcnow() + timedelta(seconds=retry_at_delay(rounds))
            await requests.retry_later(handle, self.owner, result.reason or "not delivered", at)

    async def due(self) -> list[PendingRequest]:
        store = self._store_of()
        if store is None:
            return []
        if not self._released:  # what this replica held before a restart is ours to do now
            await store.pact_requests.release_all(self.owner)
            self._released = True
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + PURGE_EVERY
            await store.pact_requests.purge_answered(utcnow() - KEEP_FINISHED)
        out = []
        for row in await store.pact_requests.lease_due(self.owner, BATCH, LEASE_SECONDS):
            pending = self._pending(row)
            if isinstance(pending, str):
                log.warning("PACT request %s cannot be answered: %s", row.id, pending)
                await store.pact_requests.give_up(row.id, self.owner, pending)
            else:
                out.append(pending)
        return out

    def _pending(self, row: PactRequest) -> PendingRequest | str:
        partner = self.partners.for_request("", row.partner)
        if partner is None:
            return f"partner {row.partner!r} is no longer configured to receive events"
        try:
            event = parse_event(json.dumps(row.event).encode("utf-8"), row.version)  # type: ignore[arg-type]
        except PactError as exc:
            return f"the stored event no longer parses: {exc}"
        scope = frozenset(row.scope) if row.scope is not None else None
        return PendingRequest(row.id, event, Principal(subject=row.partner, footprint_ids=scope), partner, row.source)
