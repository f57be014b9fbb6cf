"""SQLAlchemy Core tables: the current schema (migrations/ builds it; a test checks they agree)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from .sqltypes import JsonDoc, JsonText, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(255)

assets = Table(
    "assets",
    metadata,
    Column("id", ID, primary_key=True),
    Column("body", JsonDoc, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

policy_definitions = Table(
    "policy_definitions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("body", JsonDoc, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

contract_definitions = Table(
    "contract_definitions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("access_policy_id", ID, nullable=False, index=True),
    Column("contract_policy_id", ID, nullable=False, index=True),
    Column("body", JsonDoc, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)


def _process_columns() -> list[Column]:  # type: ignore[type-arg]
    """Columns shared by negotiations and transfers (identity, state, lease, CAS version)."""
    return [
        Column("id", ID, primary_key=True),
        Column("role", String(16), nullable=False),
        Column("consumer_pid", ID),
        Column("provider_pid", ID),
        Column("counter_party_id", String(1024), nullable=False),
        Column("counter_party_address", String(2048), nullable=False),
        Column("state", String(32), nullable=False),
        Column("error_detail", Text),
        Column("callback_addresses", JsonDoc, nullable=False),
        Column("due_at", UtcDateTime),
        Column("version", Integer, nullable=False),
        Column("lease_owner", String(255)),
        Column("lease_expires_at", UtcDateTime),
        Column("created_at", UtcDateTime, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
    ]


negotiations = Table(
    "contract_negotiations",
    metadata,
    *_process_columns(),
    Column("offer", JsonDoc),
    Column("agreement_id", ID),
    UniqueConstraint("role", "consumer_pid"),
    UniqueConstraint("role", "provider_pid"),
    Index("ix_contract_negotiations_due_at", "due_at"),
    Index("ix_contract_negotiations_state", "state"),
)

agreements = Table(
    "contract_agreements",
    metadata,
    Column("id", ID, primary_key=True),
    Column("negotiation_id", ID, ForeignKey("contract_negotiations.id"), nullable=False, index=True),
    Column("asset_id", ID, nullable=False, index=True),
    Column("policy", JsonDoc, nullable=False),
    Column("assigner", String(1024), nullable=False),
    Column("assignee", String(1024), nullable=False),
    Column("signed_at", UtcDateTime, nullable=False),
)

transfers = Table(
    "transfer_processes",
    metadata,
    *_process_columns(),
    Column("agreement_id", ID, nullable=False, index=True),
    Column("transfer_type", String(255), nullable=False),
    Column("data_address", JsonDoc),
    UniqueConstraint("role", "consumer_pid"),
    UniqueConstraint("role", "provider_pid"),
    Index("ix_transfer_processes_due_at", "due_at"),
    Index("ix_transfer_processes_state", "state"),
)

edrs = Table(
    "edr_entries",
    metadata,
    Column("transfer_id", ID, primary_key=True),
    Column("agreement_id", ID, nullable=False, index=True),
    Column("token_id", ID, nullable=False, unique=True),
    Column("endpoint", String(2048), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked", Boolean, nullable=False),
    Column("token", Text),
    Column("created_at", UtcDateTime, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("id", ID, nullable=False, unique=True),
    Column("process_id", ID, nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("target_url", String(2048), nullable=False),
    Column("payload", JsonDoc, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_error", Text),
    Column("lease_owner", String(255)),
    Column("lease_expires_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
)

footprints = Table(
    "footprints",
    metadata,
    Column("direction", String(16), primary_key=True),
    Column("id", ID, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("credential", JsonDoc, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("source_agreement_id", ID, index=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

#: Where each published footprint version sits in a W3C Bitstring Status List (revocation).
#: The primary key is what stops two replicas handing out one bit; the unique constraint is
#: what makes allocation idempotent.
footprint_status = Table(
    "footprint_status",
    metadata,
    Column("list_id", Integer, primary_key=True, autoincrement=False),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("footprint_id", ID, nullable=False),
    Column("version", Integer, nullable=False),
    Column("revoked", Boolean, nullable=False, server_default=false()),
    Column("revoked_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("footprint_id", "version"),
)

#: Credentials that were replaced by a newer version or deleted from ``footprints``, by digest:
#: an audit-log entry names a credential by its sha256, so evidence can still be exported
#: for a delivery after the footprint moved on.
footprint_archive = Table(
    "footprint_archive",
    metadata,
    Column("direction", String(16), primary_key=True),
    Column("sha256", String(64), primary_key=True),
    Column("id", ID, nullable=False),
    Column("version", Integer, nullable=False),
    Column("credential", JsonDoc, nullable=False),
    Column("archived_at", UtcDateTime, nullable=False),
)

#: PACT ``RequestCreated`` events we accepted and still owe (or owed) an answer: kept so an
#: answer survives a restart between the HTTP 200 and its delivery. Unique per partner and
#: event id, so a partner resending an event is not answered twice.
pact_requests = Table(
    "pact_requests",
    metadata,
    Column("id", ID, primary_key=True),
    Column("partner", String(255), nullable=False),
    Column("event_id", String(255), nullable=False),
    Column("version", String(4), nullable=False),
    Column("event", JsonDoc, nullable=False),
    Column("scope", JsonDoc),
    Column("source", String(2048), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_error", Text),
    Column("lease_owner", String(255)),
    Column("lease_expires_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("partner", "event_id"),
    Index("ix_pact_requests_status_next_attempt_at", "status", "next_attempt_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("kind", String(64), nullable=False, index=True),
    Column("payload", JsonText, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

replay_cache = Table(
    "replay_cache",
    metadata,
    Column("jti", String(512), primary_key=True),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)

ALL_TABLES: tuple[Table, ...] = tuple(metadata.sorted_tables)
