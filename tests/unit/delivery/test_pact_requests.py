"""The store-backed log of PACT RequestCreated events, over a real SQLite store: accepted once,
answered or retried or given up by the replica holding the lease, resumed after a restart."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connector.config import PactClient as PactClientSettings
from connector.dataplane import Principal
from connector.dataplane.cloudevents import parse_event
from connector.dataplane.delivery import DeliveryResult
from connector.delivery.pact_requests import StoreRequestLog
from connector.delivery.partner_events import ConfiguredPartners
from connector.store import Store, open_store

PARTNERS = ConfiguredPartners([PactClientSettings(
    client_id="tw-buyer", client_secret="tw-buyer-secret-0123456789", events_base_url="https://tw.example/pact",
    partner_client_id="jp", partner_client_secret="jp-secret-0123456789")])
PARTNER = PARTNERS.for_request("", "tw-buyer")
SOURCE = "https://jp.example/api/public/3/events"


def _event() -> object:
    body = {"type": "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3", "specversion": "1.0",
            "id": str(uuid.uuid4()), "source": "https://tw.example/pact/3/events", "time": "2025-05-19T11:30:00Z",
            "data": {"productId": ["urn:gtin:4712345060507"]}}
    return parse_event(json.dumps(body).encode(), "3")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'requests.db'}")
    yield opened
    await opened.close()


async def test_accepted_once_then_answered(store: Store) -> None:
    log = StoreRequestLog(lambda: store, PARTNERS, "replica-1")
    event = _event()
    principal = Principal(subject="tw-buyer", footprint_ids=frozenset({"b", "a"}))
    handle = await log.accepted(event, principal, PARTNER, SOURCE)  # type: ignore[arg-type]
    assert handle is not None
    assert await log.accepted(event, principal, PARTNER, SOURCE) is None  # type: ignore[arg-type]
    row = await store.pact_requests.get(handle)
    assert row is not None and row.scope == ["a", "b"] and row.lease_owner == "replica-1"
    await log.outcome(handle, DeliveryResult("tw-buyer", "answer-1", True, 1, 200))
    assert (await store.pact_requests.get(handle)).status == "ANSWERED"  # type: ignore[union-attr]


async def test_failed_delivery_is_retried_later_and_a_refusal_given_up(store: Store) -> None:
    log = StoreRequestLog(lambda: store, PARTNERS, "replica-1")
    retried = await log.accepted(_event(), Principal(subject="tw-buyer"), PARTNER, SOURCE)  # type: ignore[arg-type]
    refused = await log.accepted(_event(), Principal(subject="tw-buyer"), PARTNER, SOURCE)  # type: ignore[arg-type]
    assert retried and refused
    await log.outcome(retried, DeliveryResult("tw-buyer", "x", False, 5, 503, "events endpoint answered 503"))
    row = await store.pact_requests.get(retried)
    assert row is not None and row.status == "PENDING" and row.attempts == 1 and row.lease_owner is None
    assert row.next_attempt_at > row.created_at and "503" in (row.last_error or "")
    await log.outcome(refused, DeliveryResult("tw-buyer", "y", False, 1, 400, "events endpoint answered 400"))
    assert (await store.pact_requests.get(refused)).status == "FAILED"  # type: ignore[union-attr]
    assert await log.due() == []  # the retry is not due before its time; the refusal is over


async def test_a_restarted_replica_resumes_what_it_held(store: Store) -> None:
    before = StoreRequestLog(lambda: store, PARTNERS, "replica-1")
    event = _event()
    handle = await before.accepted(event, Principal(subject="tw-buyer", footprint_ids=frozenset({"a"})),
                                   PARTNER, SOURCE)  # type: ignore[arg-type]
    assert await StoreRequestLog(lambda: store, PARTNERS, "replica-2").due() == []  # leased to replica-1
    after = StoreRequestLog(lambda: store, PARTNERS, "replica-1")  # the same replica id, restarted
    [pending] = await after.due()
    assert pending.handle == handle and pending.event.id == event.id and pending.source == SOURCE  # type: ignore[attr-defined]
    assert pending.principal.footprint_ids == frozenset({"a"}) and pending.partner == PARTNER
    assert await after.due() == []  # leased to it now
    assert await StoreRequestLog(lambda: None, PARTNERS, "replica-1").due() == []  # before start-up
