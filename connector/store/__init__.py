"""Durable state: repositories behind interfaces, SQLite by default, PostgreSQL for replicas.

    store = await open_store("sqlite+aiosqlite:///kakehashi.db")
    neg, created = await store.negotiations.create_or_get(Negotiation(...))
    for neg in await store.negotiations.lease_due("replica-1", 50, 30.0): ...
"""

from .errors import AlreadyExists, ConcurrentUpdate, InvalidQuery, NotFound, StoreError
from .facade import DEFAULT_URL, Store, open_store
from .hashchain import GENESIS_HASH, ChainBreak, entry_hash, verify_chain
from .interfaces import StoreProtocol
from .outbox import backoff_delay
from .query import Criterion, QuerySpec, criteria
from .records import (
    Agreement,
    AuditEntry,
    ContractDefinition,
    Document,
    Edr,
    Footprint,
    Negotiation,
    OutboxMessage,
    PactRequest,
    StatusEntry,
    Transfer,
    utcnow,
)

__all__ = [
    "DEFAULT_URL", "GENESIS_HASH", "Agreement", "AlreadyExists", "AuditEntry", "ChainBreak", "ConcurrentUpdate",
    "ContractDefinition", "Criterion", "Document", "Edr", "Footprint", "InvalidQuery", "Negotiation", "NotFound",
    "OutboxMessage", "PactRequest", "QuerySpec", "StatusEntry", "Store", "StoreError", "StoreProtocol", "Transfer",
    "backoff_delay", "criteria", "entry_hash", "open_store", "utcnow", "verify_chain",
]
