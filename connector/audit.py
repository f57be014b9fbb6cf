"""The connector's audit log: what was agreed, transferred, delivered and received, hash-chained.

The chain itself (seq, prev_hash, hash, JCS of ``{seq, kind, at, payload}``) lives in
``connector.store.hashchain``; this module fixes what the payloads say, so an auditor (and
``kakehashi audit export``) can find the footprint credentials behind each delivery.

Payload schema (JSON objects; ``at`` — the time — is the entry's own timestamp):

``negotiation.finalized``, ``contract.agreed``, ``contract.finalized``
    ``{"agreementId", "negotiationId", "role", ...}``
``transfer.started``, ``transfer.completed``, ``transfer.suspended``, ``transfer.terminated``
    ``{"agreementId", "transferId", "role", ...}``
``footprint.delivered`` (provider side) and ``footprint.received`` (consumer side, after
verification)
    ``{"agreementId": str, "transferId"?: str, "counterParty"?: str,
       "footprints": [{"id": PACT id, "version": int, "credentialId": VC id | null,
                       "sha256": hex sha256 of the RFC 8785 (JCS) bytes of the credential}]}``
    The credential itself is kept in ``store.footprints`` under the PACT id, direction
    ``PUBLISHED`` for delivered and ``RECEIVED`` for received; the ``sha256`` binds the log
    entry to exactly those bytes, whitespace and key order aside.
``footprint.rejected``
    ``{"agreementId", "transferId"?, "counterParty"?,
       "footprints": [{"id", "sha256", "reason", "credentialId"?, "version"?}]}``
    A rejected credential is not stored (it must not replace a good one); the hash says which.

Every kind in ``AGREEMENT_KINDS`` must name its ``agreementId``; other kinds are free-form
JSON objects. Appends are serialised by the store (SQLite ``BEGIN IMMEDIATE`` across
processes, a PostgreSQL advisory transaction lock across replicas, and ``seq`` as primary
key behind both), so two replicas appending at once still produce one unbroken chain.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import rfc8785

from connector.store import AuditEntry, ChainBreak, Footprint, StoreProtocol
from connector.store.footprints import PUBLISHED, RECEIVED
from connector.store.hashchain import GENESIS_HASH, format_time, verify_chain

DELIVERED = "footprint.delivered"
RECEIVED_KIND = "footprint.received"
REJECTED = "footprint.rejected"
DELIVERY_KINDS = {DELIVERED: PUBLISHED, RECEIVED_KIND: RECEIVED}
FOOTPRINT_KINDS = (DELIVERED, RECEIVED_KIND, REJECTED)
AGREEMENT_KINDS = frozenset({
    "negotiation.finalized", "contract.agreed", "contract.finalized",
    "transfer.started", "transfer.completed", "transfer.suspended", "transfer.terminated",
    *FOOTPRINT_KINDS,
})
_KIND = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_LOG_LINE_BYTES = 4 * 1024 * 1024


class AuditError(ValueError):
    """An entry that does not follow the payload schema, or a log file that cannot be read."""


# -- pure: hashes, references, payload checks ----------------------------------------------
def credential_sha256(credential: Mapping[str, Any]) -> str:
    """The hash that ties a log entry to a credential: sha256 of its JCS bytes, so a file
    re-indented by an exporter still matches while any change of value does not."""
    try:
        return hashlib.sha256(rfc8785.dumps(credential)).hexdigest()
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise AuditError(f"credential cannot be canonicalised (RFC 8785): {exc}") from None


def _footprint_of(credential: Mapping[str, Any]) -> Mapping[str, Any]:
    subject = credential.get("credentialSubject")
    if isinstance(subject, list) and len(subject) == 1:
        subject = subject[0]
    footprint = subject.get("productFootprint") if isinstance(subject, Mapping) else None
    return footprint if isinstance(footprint, Mapping) else credential


def footprint_ref(credential: Mapping[str, Any]) -> dict[str, Any]:
    """``{"id", "version", "credentialId", "sha256"}`` for a footprint credential (or plain PACT JSON)."""
    footprint = _footprint_of(credential)
    pf_id = footprint.get("id")
    if not isinstance(pf_id, str) or not pf_id:
        raise AuditError("the credential carries no footprint with a string 'id'")
    version = footprint.get("version")
    cred_id = credential.get("id") if credential is not footprint else None
    return {
        "id": pf_id,
        "version": version if isinstance(version, int) and not isinstance(version, bool) else 0,
        "credentialId": cred_id if isinstance(cred_id, str) else None,
        "sha256": credential_sha256(credential),
    }


def check_payload(kind: str, payload: Any) -> None:
    """Raise AuditError naming the first field that breaks the schema in the module docstring."""
    if not isinstance(kind, str) or not _KIND.match(kind) or len(kind) > 64:
        raise AuditError(f"audit kind {kind!r} must look like 'area.event' (lower case, at most 64 characters)")
    if not isinstance(payload, dict):
        raise AuditError(f"{kind}: payload must be a JSON object, got {type(payload).__name__}")
    try:
        rfc8785.dumps(payload)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise AuditError(f"{kind}: payload is not canonical JSON: {exc}") from None
    if kind in AGREEMENT_KINDS:
        agreement = payload.get("agreementId")
        if not isinstance(agreement, str) or not agreement:
            raise AuditError(f"{kind}: payload needs a non-empty string 'agreementId'")
    if kind not in FOOTPRINT_KINDS:
        return
    refs = payload.get("footprints")
    if not isinstance(refs, list) or not refs:
        raise AuditError(f"{kind}: payload needs a non-empty 'footprints' list")
    for i, ref in enumerate(refs):
        where = f"{kind}: footprints[{i}]"
        if not isinstance(ref, dict):
            raise AuditError(f"{where} must be an object")
        if not isinstance(ref.get("id"), str) or not ref["id"]:
            raise AuditError(f"{where}.id must be a non-empty string")
        if not isinstance(ref.get("sha256"), str) or not _SHA256.match(ref["sha256"]):
            raise AuditError(f"{where}.sha256 must be 64 lower-case hex digits")
        if kind == REJECTED and (not isinstance(ref.get("reason"), str) or not ref["reason"]):
            raise AuditError(f"{where}.reason must say why the footprint was rejected")
        if kind != REJECTED and (not isinstance(ref.get("version"), int) or isinstance(ref.get("version"), bool)):
            raise AuditError(f"{where}.version must be an integer")


def delivery_refs(entry: AuditEntry) -> list[dict[str, Any]]:
    """The footprint references of a delivered/received entry (empty for other kinds)."""
    if entry.kind not in DELIVERY_KINDS:
        return []
    refs = entry.payload.get("footprints")
    return [r for r in refs if isinstance(r, dict)] if isinstance(refs, list) else []


# -- log lines (the JSONL form an auditor receives) ----------------------------------------
def entry_to_json(entry: AuditEntry) -> dict[str, Any]:
    return {"seq": entry.seq, "prev_hash": entry.prev_hash, "hash": entry.hash, "kind": entry.kind,
            "at": format_time(entry.at), "payload": entry.payload}


def entry_from_json(data: Any, *, where: str) -> AuditEntry:
    """One log line back into an entry; AuditError names the line and the bad field."""
    if not isinstance(data, dict):
        raise AuditError(f"{where}: expected a JSON object")
    missing = [k for k in ("seq", "prev_hash", "hash", "kind", "at", "payload") if k not in data]
    if missing:
        raise AuditError(f"{where}: missing {', '.join(missing)}")
    seq = data["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise AuditError(f"{where}: seq must be a positive integer")
    for name in ("prev_hash", "hash"):
        if not isinstance(data[name], str) or not _SHA256.match(data[name]):
            raise AuditError(f"{where}: {name} must be 64 lower-case hex digits")
    if not isinstance(data["kind"], str) or not isinstance(data["payload"], dict):
        raise AuditError(f"{where}: kind must be a string and payload an object")
    try:
        at = datetime.fromisoformat(data["at"]) if isinstance(data["at"], str) else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise AuditError(f"{where}: at must be an ISO 8601 time with a UTC offset")
    return AuditEntry(seq=seq, prev_hash=data["prev_hash"], hash=data["hash"], kind=data["kind"],
                      payload=data["payload"], at=at)


def dump_log_lines(entries: Iterable[AuditEntry]) -> str:
    return "".join(json.dumps(entry_to_json(e), ensure_ascii=False, separators=(",", ":")) + "\n" for e in entries)


def parse_log_lines(text: str, *, source: str = "log") -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source} line {number}"
        if len(line) > MAX_LOG_LINE_BYTES:
            raise AuditError(f"{where}: longer than {MAX_LOG_LINE_BYTES} bytes")
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AuditError(f"{where}: not JSON ({exc.msg} at column {exc.colno})") from None
        except RecursionError:
            raise AuditError(f"{where}: nested too deeply") from None
        entries.append(entry_from_json(data, where=where))
    return entries


def read_log_file(path: str | Path) -> list[AuditEntry]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise AuditError(f"cannot read audit log {p}: {reason}") from None
    return parse_log_lines(text, source=str(p))


@dataclass(frozen=True, slots=True)
class SegmentCheck:
    """The verdict on a run of log entries, and what it links to at both ends."""

    entries: int
    first_seq: int | None
    last_seq: int | None
    prev_hash: str | None
    head_hash: str | None
    broken: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.broken is None

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "first_seq": self.first_seq, "last_seq": self.last_seq,
                "prev_hash": self.prev_hash, "head_hash": self.head_hash,
                "broken": None if self.broken is None else {"seq": self.broken.seq, "reason": self.broken.reason}}


def check_segment(entries: Sequence[AuditEntry], *, expected_prev: str | None = None,
                  expected_seq: int | None = None) -> SegmentCheck:
    """Verify a run of entries. A run starting at seq 1 must link to the genesis hash; a run
    starting later links to ``expected_prev`` when given, else its first link is trusted."""
    if entries and entries[0].seq == 1 and expected_prev is None:
        expected_prev = GENESIS_HASH
    broken = verify_chain(entries, expected_prev=expected_prev, expected_seq=expected_seq)
    if broken is None and expected_seq is not None and not entries:
        broken = ChainBreak(expected_seq, "the segment is empty")
    return SegmentCheck(len(entries), entries[0].seq if entries else None, entries[-1].seq if entries else None,
                        entries[0].prev_hash if entries else None, entries[-1].hash if entries else None, broken)


# -- the connector-facing API ----------------------------------------------------------------
class AuditLog:
    """What the control and data planes call to record events; validation before the chain."""

    def __init__(self, store: StoreProtocol) -> None:
        self._store = store

    async def append(self, kind: str, payload: dict[str, Any]) -> AuditEntry:
        """Append one entry after checking its payload (AuditError says which field is wrong)."""
        check_payload(kind, payload)
        return await self._store.audit.append(kind, payload)

    async def record_footprints(
        self, kind: str, agreement_id: str, credentials: Sequence[Mapping[str, Any]], *,
        transfer_id: str | None = None, counter_party: str | None = None, status: str = "Active",
    ) -> AuditEntry:
        """Store each credential (PUBLISHED for delivered, RECEIVED for received) and append the
        entry that references them, in one transaction: a log entry never points at nothing.

        When the store already holds a newer version of a footprint it keeps that one (see
        ``FootprintRepository.save``); the entry still records what was delivered, and an
        export will report the older credential as no longer available.
        """
        if kind not in DELIVERY_KINDS:
            raise AuditError(f"record_footprints records {' or '.join(DELIVERY_KINDS)}, not {kind!r}")
        refs = [footprint_ref(c) for c in credentials]
        payload: dict[str, Any] = {"agreementId": agreement_id, "footprints": refs}
        if transfer_id is not None:
            payload["transferId"] = transfer_id
        if counter_party is not None:
            payload["counterParty"] = counter_party
        check_payload(kind, payload)
        async with self._store.transaction() as tx:
            for credential, ref in zip(credentials, refs):
                footprint = _footprint_of(credential)
                fp_status = footprint.get("status") if isinstance(footprint.get("status"), str) else status
                await tx.footprints.save(Footprint(
                    id=ref["id"], direction=DELIVERY_KINDS[kind], version=ref["version"], credential=dict(credential),
                    sha256=ref["sha256"], status=fp_status, source_agreement_id=agreement_id,
                ))
            return await tx.audit.append(kind, payload)

    async def record_rejected(
        self, agreement_id: str, rejected: Sequence[tuple[Mapping[str, Any], str]], *,
        transfer_id: str | None = None, counter_party: str | None = None,
    ) -> AuditEntry:
        """Log credentials that failed verification, each with its reason; nothing is stored."""
        refs = []
        for credential, reason in rejected:
            try:
                ref = footprint_ref(credential)
            except AuditError:
                ref = {"id": "(unknown)", "sha256": credential_sha256(credential)}
            refs.append({**ref, "reason": reason})
        payload: dict[str, Any] = {"agreementId": agreement_id, "footprints": refs}
        if transfer_id is not None:
            payload["transferId"] = transfer_id
        if counter_party is not None:
            payload["counterParty"] = counter_party
        return await self.append(REJECTED, payload)

    async def verify(self) -> ChainBreak | None:
        """The whole stored chain: the first broken seq and why, or None when intact."""
        return await self._store.audit.verify()

    async def head(self) -> AuditEntry | None:
        return await self._store.audit.head()

    async def for_agreement(self, agreement_id: str) -> list[AuditEntry]:
        """Every entry naming ``agreement_id``, in chain order (one pass over the log)."""
        return [e async for e in self._store.audit.iterate() if e.payload.get("agreementId") == agreement_id]

    async def segment(self, first_seq: int, last_seq: int) -> list[AuditEntry]:
        """The contiguous run ``first_seq..last_seq``, read in batches."""
        out: list[AuditEntry] = []
        next_seq = first_seq
        while next_seq <= last_seq:
            rows = await self._store.audit.entries(next_seq, last_seq, limit=1000)
            if not rows:
                break
            out.extend(rows)
            next_seq = rows[-1].seq + 1
        return out
