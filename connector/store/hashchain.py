"""The audit log's hash chain, as pure functions so an auditor can check a log offline.

Each entry's hash is ``sha256(prev_hash || JCS(entry))`` where ``entry`` is the JSON object
``{"seq", "kind", "at", "payload"}`` canonicalised with RFC 8785, and ``at`` is the UTC
timestamp in ISO 8601 with microseconds. Changing, removing, inserting or reordering any
row breaks the chain at (or right after) that row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import rfc8785

GENESIS_HASH = "0" * 64


class ChainRow(Protocol):
    seq: int
    prev_hash: str
    hash: str
    kind: str
    payload: Any
    at: datetime


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """Where a chain stops being trustworthy, and why."""

    seq: int
    reason: str


def format_time(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("audit timestamps must be tz-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(prev_hash: str, seq: int, kind: str, payload: Any, at: datetime) -> str:
    entry = {"seq": seq, "kind": kind, "at": format_time(at), "payload": payload}
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(rfc8785.dumps(entry))
    return digest.hexdigest()


def verify_chain(
    rows: Iterable[ChainRow], *, expected_prev: str | None = GENESIS_HASH, expected_seq: int | None = None
) -> ChainBreak | None:
    """Check rows in order; return the first broken ``seq`` with a reason, or None if intact.

    ``expected_prev`` is the hash the first row must link to: the genesis hash for a whole
    log (whose first seq must then be 1), or None to accept an excerpt that starts
    mid-chain (its first link is then trusted). ``expected_seq`` pins the first seq.
    A chain cannot show that rows were cut off its end: compare the last hash with one
    kept elsewhere (an exported head) for that.
    """
    prev_hash = expected_prev
    if expected_seq is None and expected_prev == GENESIS_HASH:
        expected_seq = 1
    prev_seq = None if expected_seq is None else expected_seq - 1
    for row in rows:
        if prev_seq is not None and row.seq != prev_seq + 1:
            return ChainBreak(row.seq, f"sequence gap: expected seq {prev_seq + 1}, found seq {row.seq}")
        if prev_hash is not None and row.prev_hash != prev_hash:
            return ChainBreak(
                row.seq, f"prev_hash {row.prev_hash[:16]}… does not match previous hash {prev_hash[:16]}…"
            )
        try:
            computed = entry_hash(row.prev_hash, row.seq, row.kind, row.payload, row.at)
        except (ValueError, TypeError) as exc:
            return ChainBreak(row.seq, f"entry cannot be canonicalised: {exc}")
        if computed != row.hash:
            return ChainBreak(row.seq, f"content does not match its hash (kind {row.kind!r}): entry was altered")
        prev_hash = row.hash
        prev_seq = row.seq
    return None
