"""Typed records the store hands out.

Field names equal column names, so a row maps to a record with ``Record(**row)``.
Records are frozen: change one with :func:`dataclasses.replace` and hand it back to
the repository, which checks ``version`` (compare-and-set) before writing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JsonObject = dict[str, Any]
JsonValue = Any


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """A Management API resource stored as its JSON-LD body (asset, policy definition)."""

    id: str
    body: JsonObject
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractDefinition:
    """Contract definition; the policy ids are columns so deletes can check references."""

    id: str
    access_policy_id: str
    contract_policy_id: str
    body: JsonObject
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True, kw_only=True)
class Negotiation:
    """One side's view of a DSP contract negotiation.

    ``due_at`` says when a replica should next drive this process (send the next message,
    retry after a crash); ``None`` means it waits for the partner. ``lease_owner`` and
    ``lease_expires_at`` are owned by the lease methods; ``update`` never changes them.
    """

    id: str
    role: str  # "consumer" | "provider"
    consumer_pid: str | None
    provider_pid: str | None
    counter_party_id: str
    counter_party_address: str
    state: str
    offer: JsonObject | None = None
    agreement_id: str | None = None
    error_detail: str | None = None
    callback_addresses: list[JsonObject] = field(default_factory=list)
    due_at: datetime | None = None
    version: int = 0
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer:
    """One side's view of a DSP transfer process (see :class:`Negotiation` for due/lease)."""

    id: str
    role: str  # "consumer" | "provider"
    consumer_pid: str | None
    provider_pid: str | None
    counter_party_id: str
    counter_party_address: str
    agreement_id: str
    transfer_type: str
    state: str
    data_address: JsonObject | None = None
    error_detail: str | None = None
    callback_addresses: list[JsonObject] = field(default_factory=list)
    due_at: datetime | None = None
    version: int = 0
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True, kw_only=True)
class Agreement:
    """A concluded contract agreement (immutable once stored)."""

    id: str
    negotiation_id: str
    asset_id: str
    policy: JsonObject
    assigner: str
    assignee: str
    signed_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True, kw_only=True)
class Edr:
    """An Endpoint Data Reference: the token a pull transfer hands to the consumer."""

    transfer_id: str
    agreement_id: str
    token_id: str  # the token's jti
    endpoint: str
    expires_at: datetime
    revoked: bool = False
    token: str | None = None  # kept on the consumer side, which must present it
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxMessage:
    """A protocol message waiting to be sent; rows for one ``process_id`` go out in order."""

    id: str
    process_id: str
    target_url: str
    payload: JsonObject
    kind: str = "dsp"  # how to send it: "dsp" (DCP-authenticated) or e.g. "pact-event"
    status: str = "PENDING"  # PENDING | SENT | DEAD
    attempts: int = 0
    next_attempt_at: datetime = field(default_factory=utcnow)
    last_error: str | None = None
    seq: int | None = None  # assigned by the database; orders messages of one process
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True, kw_only=True)
class Footprint:
    """A PACT footprint we publish or one we received (and verified) from a partner."""

    id: str
    direction: str  # "PUBLISHED" | "RECEIVED"
    version: int
    credential: JsonObject  # the signed VC, or plain PACT JSON when unsigned
    sha256: str
    status: str
    source_agreement_id: str | None = None
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One row of the append-only, hash-chained audit log."""

    seq: int
    prev_hash: str
    hash: str
    kind: str
    payload: JsonObject
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusEntry:
    """A footprint version's bit in a W3C Bitstring Status List (``index`` is column ``idx``)."""

    list_id: int
    index: int
    footprint_id: str
    version: int
    revoked: bool = False
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PactRequest:
    """A PACT ``RequestCreated`` event we accepted and answer (with retries) until done.

    ``scope`` lists the footprint ids the requester may read (None: all of them);
    ``source`` is our events URL, the answer's CloudEvent ``source``.
    """

    id: str
    partner: str  # client id of the PACT partner that sent the event and receives the answer
    event_id: str  # the CloudEvent id
    version: str  # PACT "2" or "3"
    event: JsonObject  # the received CloudEvent, parsed
    scope: list[str] | None = None
    source: str
    status: str = "PENDING"  # PENDING | ANSWERED | FAILED
    attempts: int = 0
    next_attempt_at: datetime = field(default_factory=utcnow)
    last_error: str | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)
