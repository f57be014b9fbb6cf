"""Small record builders shared by the store tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connector.store import Negotiation, OutboxMessage, PactRequest, Transfer


@dataclass
class FakeClock:
    """Time that only moves when a test says so (lease expiry without sleeping)."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def negotiation(*, role: str = "provider", consumer_pid: str | None = None, counter_party: str = "did:web:tw.example",
                due_at: datetime | None = None, **kw: Any) -> Negotiation:
    nid = kw.pop("id", None) or f"urn:uuid:{uuid.uuid4()}"
    return Negotiation(
        id=nid, role=role, consumer_pid=consumer_pid or f"urn:uuid:{uuid.uuid4()}",
        provider_pid=kw.pop("provider_pid", nid if role == "provider" else None),
        counter_party_id=counter_party, counter_party_address="http://127.0.0.1:1/dsp",
        state=kw.pop("state", "REQUESTED"), due_at=due_at, **kw,
    )


def transfer(*, agreement_id: str = "agr-1", due_at: datetime | None = None, **kw: Any) -> Transfer:
    tid = kw.pop("id", None) or f"urn:uuid:{uuid.uuid4()}"
    return Transfer(
        id=tid, role=kw.pop("role", "provider"), consumer_pid=kw.pop("consumer_pid", f"urn:uuid:{uuid.uuid4()}"),
        provider_pid=tid, counter_party_id="did:web:tw.example", counter_party_address="http://127.0.0.1:1/dsp",
        agreement_id=agreement_id, transfer_type="HttpData-PULL", state=kw.pop("state", "REQUESTED"),
        due_at=due_at, **kw,
    )


def message(process_id: str, n: int, *, at: datetime) -> OutboxMessage:
    return OutboxMessage(
        id=f"{process_id}/msg-{n}", process_id=process_id, target_url="http://127.0.0.1:1/dsp/negotiations",
        payload={"@type": "ContractRequestMessage", "n": n}, next_attempt_at=at, created_at=at,
    )


def pact_request(event_id: str, *, partner: str = "tw-client", at: datetime, **kw: Any) -> PactRequest:
    event = {"specversion": "1.0", "id": event_id, "source": f"https://{partner}.example/events",
             "type": "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3", "data": {"productId": ["urn:gtin:1"]}}
    return PactRequest(
        id=kw.pop("id", None) or str(uuid.uuid4()), partner=partner, event_id=event_id, version=kw.pop("version", "3"),
        event=event, source="https://jp.example/pact/3/events", next_attempt_at=kw.pop("next_attempt_at", at),
        created_at=at, **kw,
    )
