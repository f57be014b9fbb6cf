"""The audit hash chain as pure functions (what an auditor runs offline)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from connector.store import GENESIS_HASH, AuditEntry, entry_hash, verify_chain


def chain(n: int) -> list[AuditEntry]:
    rows, prev = [], GENESIS_HASH
    at = datetime(2025, 4, 1, 9, 30, tzinfo=UTC)
    for seq in range(1, n + 1):
        payload = {"seq": seq, "footprints": [f"fp-{seq}"], "note": "検証済み", "co2e": 1.25 * seq}
        h = entry_hash(prev, seq, "delivery", payload, at + timedelta(seconds=seq))
        rows.append(AuditEntry(seq=seq, prev_hash=prev, hash=h, kind="delivery", payload=payload,
                               at=at + timedelta(seconds=seq)))
        prev = h
    return rows


def test_intact_chain_verifies() -> None:
    assert verify_chain(chain(5)) is None
    assert verify_chain([]) is None


def test_hash_is_canonical_json() -> None:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    # key order and the zone the time was written in do not matter; content does
    assert entry_hash(GENESIS_HASH, 1, "k", {"a": 1, "b": 2}, at) == entry_hash(
        GENESIS_HASH, 1, "k", {"b": 2, "a": 1}, at.astimezone(timezone(timedelta(hours=8)))
    )
    assert entry_hash(GENESIS_HASH, 1, "k", {"a": 1}, at) != entry_hash(GENESIS_HASH, 1, "k", {"a": 2}, at)
    assert entry_hash(GENESIS_HASH, 1, "k", {"a": 1}, at) != entry_hash("f" * 64, 1, "k", {"a": 1}, at)
    with pytest.raises(ValueError):
        entry_hash(GENESIS_HASH, 1, "k", {}, datetime(2025, 1, 1))


@pytest.mark.parametrize(
    ("tamper", "seq", "why"),
    [
        (lambda r: r.__setitem__(2, replace(r[2], payload={**r[2].payload, "co2e": 0.0})), 3, "altered"),
        (lambda r: r.__setitem__(2, replace(r[2], kind="other")), 3, "altered"),
        (lambda r: r.__setitem__(1, replace(r[1], at=r[1].at + timedelta(microseconds=1))), 2, "altered"),
        (lambda r: r.pop(2), 4, "gap"),
        (lambda r: r.pop(0), 2, "gap"),
        (lambda r: r.insert(2, r.pop(3)), 4, "gap"),
    ],
    ids=["payload", "kind", "time", "deleted", "first-deleted", "reordered"],
)
def test_tampering_is_located(tamper, seq: int, why: str) -> None:  # type: ignore[no-untyped-def]
    rows = chain(5)
    tamper(rows)
    broken = verify_chain(rows)
    assert broken is not None and broken.seq == seq and why in broken.reason


def test_rehashed_row_breaks_the_next_link() -> None:
    rows = chain(4)
    forged_payload = {"seq": 2, "footprints": []}
    rows[1] = replace(rows[1], payload=forged_payload,
                      hash=entry_hash(rows[1].prev_hash, 2, "delivery", forged_payload, rows[1].at))
    broken = verify_chain(rows)
    assert broken is not None and broken.seq == 3 and "prev_hash" in broken.reason


def test_excerpt_from_mid_chain() -> None:
    rows = chain(6)
    assert verify_chain(rows[2:], expected_prev=None) is None
    assert verify_chain(rows[2:], expected_prev=rows[1].hash, expected_seq=3) is None
    broken = verify_chain(rows[2:])  # a whole log must start at seq 1
    assert broken is not None and broken.seq == 3
    broken = verify_chain(rows[2:], expected_prev=rows[0].hash)
    assert broken is not None and "prev_hash" in broken.reason
