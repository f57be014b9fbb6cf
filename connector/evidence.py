"""Evidence bundles: everything an auditor needs to re-check one agreement's deliveries offline.

A bundle is a directory:

    manifest.json        format, created, exporter DID, agreement id, sha256 of every other
                         file, the credentials and which log entry delivered each, the log
                         segment's first/last seq, the hash it links to and its head hash
    agreement.json       the stored contract agreement
    audit-log.jsonl      the contiguous run of chained entries from the first to the last one
                         naming the agreement (entries of other agreements in between stay:
                         the chain cannot skip them)
    credentials/*.json   the signed footprint credentials the delivery entries reference
    did-documents.json   {did: DID document} for every issuer, status-list signer and party
    status-lists.json    {url: status list credential} for every credentialStatus entry
    trust-list.json      the exporter's trust list (optional; an auditor may bring their own)
    manifest.jws         the exporter's signature over manifest.json (when exported with the
                         connector's key): a compact JWS, typ ``kakehashi-evidence+jwt``,
                         ``iss`` = the exporter DID, ``sub`` = the agreement id,
                         ``manifestSha256`` = sha256 of manifest.json's bytes, signed by an
                         assertionMethod key of the exporter's DID document (bundled)

The manifest's hashes make every file accountable and its signature says who vouches for the
selection; the anchors of the content itself are the credential proofs and the log's hash
chain, whose head an auditor can compare with the connector's live log
(``kakehashi audit verify``). A bundle without ``manifest.jws`` still verifies, reported as
unsigned.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from connector.audit import (
    DELIVERY_KINDS,
    AuditError,
    AuditLog,
    SegmentCheck,
    check_segment,
    credential_sha256,
    delivery_refs,
    dump_log_lines,
    parse_log_lines,
)
from connector.store import Agreement, AuditEntry, StoreProtocol
from connector.store.hashchain import format_time
from identity.did.resolver import DidResolver, parse_did_bundle
from identity.errors import IdentityError
from identity.jose import JoseError, sign_jwt, split_jwt, verify_jwt
from identity.keys import KeyPair
from identity.status import StatusListSource
from identity.trust import TrustStore
from identity.verify import CheckResult, FileReport, Verifier, format_report, read_credential_file

BUNDLE_FORMAT = "kakehashi-evidence/1"
MANIFEST = "manifest.json"
MANIFEST_SIGNATURE = "manifest.jws"
SIGNATURE_TYPE = "kakehashi-evidence+jwt"
AGREEMENT = "agreement.json"
LOG = "audit-log.jsonl"
DIDS = "did-documents.json"
STATUS = "status-lists.json"
TRUST = "trust-list.json"
CREDENTIALS = "credentials"
MAX_BUNDLE_FILE_BYTES = 64 * 1024 * 1024
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")


class EvidenceError(Exception):
    """The bundle cannot be written, or what was given is not a bundle at all (exit 2)."""


@dataclass(frozen=True)
class ManifestSigner:
    """The exporting connector's DID key: `kid` is the verification method (an
    assertionMethod of `did`'s document) the manifest signature names."""

    key: KeyPair
    did: str
    kid: str


def sign_manifest(manifest_bytes: bytes, agreement_id: str, signer: ManifestSigner, at: datetime) -> str:
    claims = {"iss": signer.did, "sub": agreement_id, "iat": int(at.timestamp()),
              "manifestSha256": _sha256_bytes(manifest_bytes)}
    return sign_jwt(claims, signer.key, kid=signer.kid, typ=SIGNATURE_TYPE)


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else ([] if value is None else [value])


def _did_of(value: Any) -> str | None:
    """The DID in an issuer value or a verification method URL, if it is one."""
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, str) or not value.startswith("did:"):
        return None
    return value.split("#", 1)[0].split("?", 1)[0]


def credential_dids(credential: Mapping[str, Any]) -> list[str]:
    """Issuer and proof-key DIDs of a credential, in first-seen order."""
    found = [_did_of(credential.get("issuer"))]
    found += [_did_of(p.get("verificationMethod")) for p in _as_list(credential.get("proof")) if isinstance(p, dict)]
    return list(dict.fromkeys(d for d in found if d))


def status_list_urls(credential: Mapping[str, Any]) -> list[str]:
    urls = [e.get("statusListCredential") for e in _as_list(credential.get("credentialStatus")) if isinstance(e, dict)]
    return list(dict.fromkeys(u for u in urls if isinstance(u, str)))


def agreement_to_json(agreement: Agreement) -> dict[str, Any]:
    return {"id": agreement.id, "negotiationId": agreement.negotiation_id, "assetId": agreement.asset_id,
            "assigner": agreement.assigner, "assignee": agreement.assignee,
            "signedAt": format_time(agreement.signed_at), "policy": agreement.policy}


def _credential_file(footprint_id: str, sha256: str, taken: set[str]) -> str:
    stem = footprint_id if _SAFE_NAME.match(footprint_id) else sha256[:32]
    name = f"{CREDENTIALS}/{stem}.json"
    if name in taken:
        name = f"{CREDENTIALS}/{stem}-{sha256[:12]}.json"
    taken.add(name)
    return name


# -- export ------------------------------------------------------------------------------------
@dataclass
class _Collected:
    segment: list[AuditEntry]
    credentials: dict[str, tuple[dict[str, Any], AuditEntry, dict[str, Any]]]  # sha -> (vc, entry, ref)
    missing: list[dict[str, Any]]


async def _collect(store: StoreProtocol, agreement_id: str) -> _Collected:
    log = AuditLog(store)
    naming = await log.for_agreement(agreement_id)
    if not naming:
        raise EvidenceError(f"the audit log has no entry for agreement {agreement_id!r}")
    segment = await log.segment(naming[0].seq, naming[-1].seq)
    check = check_segment(segment, expected_seq=naming[0].seq)
    if not check.ok:
        assert check.broken is not None
        raise EvidenceError(f"the stored audit log is broken at seq {check.broken.seq}: {check.broken.reason}")
    credentials: dict[str, tuple[dict[str, Any], AuditEntry, dict[str, Any]]] = {}
    missing: list[dict[str, Any]] = []
    for entry in segment:
        if entry.payload.get("agreementId") != agreement_id:
            continue
        for ref in delivery_refs(entry):
            sha = ref.get("sha256")
            if sha in credentials:
                continue
            direction = DELIVERY_KINDS[entry.kind]
            stored = await store.footprints.get(direction, str(ref.get("id")))
            if stored is None or credential_sha256(stored.credential) != sha:
                # replaced by a newer version or deleted since: the archive keeps it by digest
                archived = await store.footprints.archived(direction, str(sha))
                if archived is not None and credential_sha256(archived.credential) == sha:
                    stored = archived
            if stored is None:
                missing.append({"seq": entry.seq, "footprintId": ref.get("id"), "sha256": sha,
                                "reason": "no longer in the footprint store"})
            elif credential_sha256(stored.credential) != sha:
                missing.append({"seq": entry.seq, "footprintId": ref.get("id"), "sha256": sha,
                                "reason": f"the store now holds another credential for it (version {stored.version})"})
            else:
                credentials[str(sha)] = (stored.credential, entry, ref)
    return _Collected(segment, credentials, missing)


async def export_bundle(
    store: StoreProtocol,
    agreement_id: str,
    out_dir: str | Path,
    *,
    resolver: DidResolver,
    status_lists: StatusListSource,
    trust: TrustStore | None = None,
    exporter_did: str | None = None,
    allow_missing: bool = False,
    now: datetime | None = None,
    signer: ManifestSigner | None = None,
) -> dict[str, Any]:
    """Write the evidence bundle for ``agreement_id`` to ``out_dir`` (which must not exist or be
    empty) and return its manifest. Everything is gathered before anything is written, and the
    directory appears whole (written beside it, then renamed) or not at all. With ``signer``
    the manifest is signed (``manifest.jws``) and the signer is the exporter."""
    out = Path(out_dir)
    if signer is not None:
        if exporter_did not in (None, signer.did):
            raise EvidenceError(f"the exporter {exporter_did} is not the signer {signer.did}")
        exporter_did = signer.did
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise EvidenceError(f"{out} exists and is not an empty directory; choose a new --out")
    agreement = await store.agreements.get(agreement_id)
    if agreement is None:
        raise EvidenceError(f"no contract agreement {agreement_id!r} in the store")
    collected = await _collect(store, agreement_id)
    if collected.missing and not allow_missing:
        listed = "; ".join(f"seq {m['seq']} footprint {m['footprintId']}: {m['reason']}" for m in collected.missing)
        raise EvidenceError(f"cannot export every delivered credential ({listed}); pass --allow-missing to export the rest")

    needed_dids: list[str] = []
    status_docs: dict[str, Any] = {}
    for credential, _entry, _ref in collected.credentials.values():
        needed_dids += credential_dids(credential)
        for url in status_list_urls(credential):
            if url in status_docs:
                continue
            try:
                status_docs[url] = await status_lists(url)
            except IdentityError as exc:
                raise EvidenceError(f"cannot include status list {url}: {exc}") from None
            if isinstance(status_docs[url], dict):
                needed_dids += credential_dids(status_docs[url])
    did_documents: dict[str, Any] = {}
    for did in dict.fromkeys(needed_dids):
        try:
            did_documents[did] = (await resolver.resolve(did)).to_json()
        except IdentityError as exc:
            raise EvidenceError(f"cannot include the DID document of {did}: {exc}") from None
    if signer is not None and signer.did not in did_documents:
        try:  # the signature must be checkable offline: the signer's document is required
            did_documents[signer.did] = (await resolver.resolve(signer.did)).to_json()
        except IdentityError as exc:
            raise EvidenceError(f"cannot include the exporter's DID document {signer.did}: {exc}") from None
    unresolved: list[dict[str, str]] = []
    for did in dict.fromkeys(d for d in (agreement.assigner, agreement.assignee, exporter_did) if d):
        if did in did_documents or not did.startswith("did:"):
            continue
        try:  # parties help the reader; they are not needed to verify, so a failure is noted only
            did_documents[did] = (await resolver.resolve(did)).to_json()
        except IdentityError as exc:
            unresolved.append({"did": did, "reason": str(exc)})

    files: dict[str, bytes] = {
        AGREEMENT: _json_bytes(agreement_to_json(agreement)),
        LOG: dump_log_lines(collected.segment).encode("utf-8"),
        DIDS: _json_bytes(did_documents),
        STATUS: _json_bytes(status_docs),
    }
    if trust is not None:
        files[TRUST] = _json_bytes(trust.to_json())
    taken: set[str] = set()
    credential_rows = []
    for sha, (credential, entry, ref) in collected.credentials.items():
        name = _credential_file(str(ref.get("id")), sha, taken)
        files[name] = _json_bytes(credential)
        credential_rows.append({"file": name, "footprintId": ref.get("id"), "credentialId": credential.get("id"),
                                "issuer": _did_of(credential.get("issuer")) or credential.get("issuer"),
                                "sha256": sha, "seq": entry.seq, "kind": entry.kind, "at": format_time(entry.at)})
    head = await store.audit.head()
    segment = collected.segment
    at = now or datetime.now(timezone.utc)
    manifest = {
        "format": BUNDLE_FORMAT,
        "created": format_time(at),
        "exporter": exporter_did,
        "agreementId": agreement_id,
        "files": {name: _sha256_bytes(data) for name, data in sorted(files.items())},
        "credentials": credential_rows,
        "missing": collected.missing,
        "log": {"file": LOG, "firstSeq": segment[0].seq, "lastSeq": segment[-1].seq, "entries": len(segment),
                "prevHash": segment[0].prev_hash, "headHash": segment[-1].hash,
                "storeHead": {"seq": head.seq, "hash": head.hash} if head else None},
        "didDocuments": sorted(did_documents),
        "unresolved": unresolved,
        "statusLists": sorted(status_docs),
        "trustList": TRUST if trust is not None else None,
    }
    files[MANIFEST] = _json_bytes(manifest)
    if signer is not None:
        files[MANIFEST_SIGNATURE] = sign_manifest(files[MANIFEST], agreement_id, signer, at).encode("ascii")
    _write_atomically(out, files)
    return manifest


def _write_atomically(out: Path, files: Mapping[str, bytes]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, data in files.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if out.exists():
            out.rmdir()  # empty, checked by the caller
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# -- verify --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Finding:
    """One reason a bundle is not what it claims, tied to the file or entry it concerns."""

    area: str  # manifest | agreement | log | credentials | dids | status | trust
    subject: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"area": self.area, "subject": self.subject, "reason": self.reason}

    def __str__(self) -> str:
        return f"{self.area}: {self.subject}: {self.reason}"


@dataclass
class BundleReport:
    bundle: str
    agreement_id: str | None
    exporter: str | None = None
    created: str | None = None
    findings: list[Finding] = field(default_factory=list)
    log: SegmentCheck | None = None
    results: list[FileReport] = field(default_factory=list)
    trust_source: str = "none"
    #: the verification method whose key signed manifest.json; None when unsigned or bad
    signed_by: str | None = None
    signature: str = "unsigned"  # unsigned | valid | invalid

    @property
    def valid(self) -> bool:
        return (not self.findings and self.log is not None and self.log.ok
                and all(r.valid for r in self.results))

    def to_json(self) -> dict[str, Any]:
        log = self.log.to_json() if self.log is not None else {"ok": False}
        log["problems"] = [f.to_json() for f in self.findings if f.area == "log"]
        return {
            "valid": self.valid,
            "results": [r.to_json() for r in self.results],
            "log": log,
            "bundle": {"dir": self.bundle, "agreementId": self.agreement_id, "exporter": self.exporter,
                       "created": self.created, "trust": self.trust_source,
                       "signature": self.signature, "signedBy": self.signed_by,
                       "problems": [f.to_json() for f in self.findings if f.area != "log"]},
        }


def _read_manifest(root: Path) -> dict[str, Any]:
    if not root.is_dir():
        raise EvidenceError(f"{root} is not a directory (expected an evidence bundle from `kakehashi audit export`)")
    path = root / MANIFEST
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise EvidenceError(f"{root} is not an evidence bundle: cannot read {MANIFEST} ({exc.strerror})") from None
    try:
        manifest = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EvidenceError(f"{path} is not JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise EvidenceError(f"{path} is not a {BUNDLE_FORMAT} manifest")
    shape = {"agreementId": str, "files": dict, "credentials": list, "log": dict}
    for key, kind in shape.items():
        if not isinstance(manifest.get(key), kind):
            raise EvidenceError(f"{path}: {key!r} is missing or not a {kind.__name__}")
    return manifest


def _export_time(manifest: dict[str, Any]) -> datetime | None:
    """Verify as of the export: the bundled status lists are that moment's snapshot, and the
    verdict on a bundle must not change with the day an auditor happens to open it."""
    try:
        created = datetime.fromisoformat(manifest.get("created", ""))
    except (TypeError, ValueError):
        return None
    return created if created.tzinfo is not None else None


def _inside(root: Path, name: str) -> Path | None:
    """The file ``name`` under ``root``, or None when the name escapes the bundle."""
    if not isinstance(name, str) or not name or name.startswith(("/", "\\")) or ".." in Path(name).parts:
        return None
    return root / name


class _BundleReader:
    """Reads bundle files once, recording every problem instead of stopping at the first."""

    def __init__(self, root: Path, report: BundleReport) -> None:
        self.root = root
        self.report = report

    def add(self, area: str, subject: str, reason: str) -> None:
        self.report.findings.append(Finding(area, subject, reason))

    def raw(self, name: str, area: str) -> bytes | None:
        path = _inside(self.root, name)
        if path is None:
            self.add("manifest", name, "path escapes the bundle directory")
            return None
        try:
            if path.stat().st_size > MAX_BUNDLE_FILE_BYTES:
                self.add(area, name, f"larger than {MAX_BUNDLE_FILE_BYTES} bytes")
                return None
            return path.read_bytes()
        except OSError as exc:
            self.add(area, name, f"missing or unreadable ({exc.strerror})")
            return None

    def json(self, name: str, area: str, expected: type) -> Any:
        raw = self.raw(name, area)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            self.add(area, name, f"not JSON: {exc}")
            return None
        if not isinstance(data, expected):
            self.add(area, name, f"expected a JSON {expected.__name__}")
            return None
        return data


def _check_manifest_files(reader: _BundleReader, manifest: dict[str, Any]) -> None:
    listed: dict[str, Any] = manifest["files"]
    for name, expected in sorted(listed.items()):
        data = reader.raw(name, "manifest")
        if data is not None and _sha256_bytes(data) != expected:
            reader.add("manifest", name, "sha256 differs from the manifest: the file was changed after export")
    for path in sorted(reader.root.rglob("*")):
        rel = path.relative_to(reader.root).as_posix()
        if path.is_file() and rel not in (MANIFEST, MANIFEST_SIGNATURE) and rel not in listed:
            reader.add("manifest", rel, "file is not listed in the manifest")


def _check_log(reader: _BundleReader, manifest: dict[str, Any]) -> list[AuditEntry]:
    meta: dict[str, Any] = manifest["log"]
    raw = reader.raw(LOG, "log")
    if raw is None:
        return []
    try:
        entries = parse_log_lines(raw.decode("utf-8"), source=LOG)
    except (AuditError, UnicodeDecodeError) as exc:
        reader.add("log", LOG, str(exc))
        return []
    prev = meta.get("prevHash") if isinstance(meta.get("prevHash"), str) else None
    first = meta.get("firstSeq") if isinstance(meta.get("firstSeq"), int) else None
    check = check_segment(entries, expected_prev=prev, expected_seq=first)
    reader.report.log = check
    if check.broken is not None:
        reader.add("log", f"seq {check.broken.seq}", check.broken.reason)
    elif entries and (entries[-1].seq != meta.get("lastSeq") or entries[-1].hash != meta.get("headHash")):
        reader.add("log", f"seq {entries[-1].seq}",
                   f"the excerpt ends at seq {entries[-1].seq} but the manifest says it ends at seq "
                   f"{meta.get('lastSeq')}: entries were cut off the end or appended")
    return entries


def _deliveries(entries: list[AuditEntry]) -> dict[str, list[tuple[AuditEntry, dict[str, Any]]]]:
    """sha256 -> the delivery entries (and their footprint refs) that name it."""
    found: dict[str, list[tuple[AuditEntry, dict[str, Any]]]] = {}
    for entry in entries:
        for ref in delivery_refs(entry):
            if isinstance(ref.get("sha256"), str):
                found.setdefault(ref["sha256"], []).append((entry, ref))
    return found


def _credential_files(reader: _BundleReader, manifest: dict[str, Any]) -> list[str]:
    names = [r.get("file") for r in manifest["credentials"] if isinstance(r, dict) and isinstance(r.get("file"), str)]
    on_disk = sorted(p.relative_to(reader.root).as_posix() for p in (reader.root / CREDENTIALS).glob("*")
                     if p.is_file()) if (reader.root / CREDENTIALS).is_dir() else []
    return list(dict.fromkeys([*names, *on_disk]))


async def verify_bundle(
    directory: str | Path, *, trust: TrustStore | None = None, trust_source: str | None = None,
    now: datetime | None = None,
) -> BundleReport:
    """Check an evidence bundle offline: manifest hashes, the log segment's chain, every
    credential (proof, issuer key, trust, status, validity, schema) against the bundled DIDs
    and status lists, and that each credential is exactly one delivered under the bundle's
    agreement. ``trust`` replaces the bundled trust list (an auditor's own). EvidenceError
    when the directory is not a bundle at all."""
    root = Path(directory)
    manifest = _read_manifest(root)
    agreement_id: str = manifest["agreementId"]
    report = BundleReport(str(root), agreement_id, exporter=manifest.get("exporter"), created=manifest.get("created"))
    now = now or _export_time(manifest)
    reader = _BundleReader(root, report)
    _check_manifest_files(reader, manifest)

    agreement = reader.json(AGREEMENT, "agreement", dict)
    if agreement is not None and agreement.get("id") != agreement_id:
        reader.add("agreement", AGREEMENT, f"is agreement {agreement.get('id')!r}, but the manifest and the "
                                           f"log deliveries are for agreement {agreement_id!r}")
    provider = agreement.get("assigner") if agreement else None

    entries = _check_log(reader, manifest)
    if entries and not any(e.payload.get("agreementId") == agreement_id for e in entries):
        reader.add("log", LOG, f"no entry of the excerpt names agreement {agreement_id!r}")
    deliveries = _deliveries(entries)

    dids: dict[str, Any] = {}
    raw_dids = reader.json(DIDS, "dids", dict)
    if raw_dids is not None:
        try:
            dids = parse_did_bundle(raw_dids, source=DIDS)
        except IdentityError as exc:
            reader.add("dids", DIDS, str(exc))
    status_bundle = reader.json(STATUS, "status", dict) or {}
    if trust is not None:
        report.trust_source = trust_source or "given by the auditor"
    elif isinstance(manifest.get("trustList"), str):
        data = reader.json(manifest["trustList"], "trust", dict)
        if data is not None:
            try:
                trust = TrustStore.from_data(data, source=manifest["trustList"])
                report.trust_source = f"bundled {manifest['trustList']}"
            except IdentityError as exc:
                reader.add("trust", manifest["trustList"], str(exc))

    resolver = DidResolver(bundle=dids, offline=True)
    status = StatusListSource(bundle=status_bundle, offline=True)
    seen: set[str] = set()
    try:
        await _check_signature(reader, manifest, resolver, now)
        for name in _credential_files(reader, manifest):
            report.results.append(await _verify_credential_file(
                reader, name, resolver, status, trust, deliveries, agreement_id, provider, seen, now))
    finally:
        await resolver.close()
        await status.close()

    declared_missing = {m.get("sha256") for m in manifest.get("missing") or [] if isinstance(m, dict)}
    for sha, uses in deliveries.items():
        for entry, ref in uses:
            if entry.payload.get("agreementId") == agreement_id and sha not in seen and sha not in declared_missing:
                reader.add("credentials", f"log seq {entry.seq}",
                           f"{entry.kind} footprint {ref.get('id')} (sha256 {sha[:16]}…) is not in the bundle")
    return report


async def _check_signature(
    reader: _BundleReader, manifest: dict[str, Any], resolver: DidResolver, now: datetime | None
) -> None:
    """manifest.jws, when present: signed by the manifest's exporter, over these manifest bytes,
    for this agreement, with an assertionMethod key of the bundled DID document."""
    report = reader.report
    if not (reader.root / MANIFEST_SIGNATURE).exists():
        return
    report.signature = "invalid"
    raw = reader.raw(MANIFEST_SIGNATURE, "manifest")
    manifest_bytes = reader.raw(MANIFEST, "manifest")
    if raw is None or manifest_bytes is None:
        return
    try:
        token = raw.decode("ascii").strip()
        header, claims = split_jwt(token)
        kid, issuer = header.get("kid"), claims.get("iss")
        if not isinstance(issuer, str) or issuer != manifest.get("exporter"):
            raise JoseError(f"signed by {issuer!r}, but the manifest names the exporter {manifest.get('exporter')!r}")
        if not isinstance(kid, str) or kid.split("#", 1)[0] != issuer:
            raise JoseError(f"key {kid!r} is not a key of the signer {issuer}")
        key = await resolver.resolve_verification_method(kid, "assertionMethod")
        at = (now or datetime.now(timezone.utc)).timestamp()
        verify_jwt(token, key, expected_types=[SIGNATURE_TYPE], now=at, parsed=(header, claims))
        if claims.get("manifestSha256") != _sha256_bytes(manifest_bytes):
            raise JoseError("it signs other manifest bytes: manifest.json was changed after signing")
        if claims.get("sub") != manifest.get("agreementId"):
            raise JoseError(f"it is for agreement {claims.get('sub')!r}, not {manifest.get('agreementId')!r}")
    except (UnicodeDecodeError, IdentityError) as exc:
        reader.add("manifest", MANIFEST_SIGNATURE, f"signature rejected: {exc}")
        return
    report.signature, report.signed_by = "valid", kid


async def _verify_credential_file(
    reader: _BundleReader, name: str, resolver: DidResolver, status: StatusListSource, trust: TrustStore | None,
    deliveries: dict[str, list[tuple[AuditEntry, dict[str, Any]]]], agreement_id: str, provider: Any,
    seen: set[str], now: datetime | None,
) -> FileReport:
    path = _inside(reader.root, name)
    try:
        if path is None:
            raise IdentityError("path escapes the bundle directory")
        document = read_credential_file(path)
        if not isinstance(document, dict):
            raise IdentityError("a bundle credential must be JSON with a Data Integrity proof")
        sha = credential_sha256(document)
    except (IdentityError, AuditError) as exc:
        return FileReport(name, [CheckResult("proof", False, str(exc)),
                                 CheckResult("delivery", None, "not checked: unreadable file")])
    seen.add(sha)
    uses = deliveries.get(sha, [])
    ours = [(e, r) for e, r in uses if e.payload.get("agreementId") == agreement_id]
    verifier = Verifier(resolver, trust=trust, status_lists=status, schema_check=_schema_check(), now=now)
    report = await verifier.verify(document, name=name)
    if ours:
        entry = ours[0][0]
        delivery = CheckResult("delivery", True, f"sha256 matches log seq {entry.seq} ({entry.kind} at "
                                                 f"{format_time(entry.at)}) under agreement {agreement_id}")
        issuer = report.issuer
        if isinstance(provider, str) and provider.startswith("did:") and issuer and issuer != provider:
            delivery = CheckResult("delivery", False, f"issuer {issuer} is not the agreement's provider {provider}")
    elif uses:
        others = sorted({str(e.payload.get("agreementId")) for e, _ in uses})
        delivery = CheckResult("delivery", False, f"delivered under agreement {', '.join(others)}, "
                                                  f"not under {agreement_id}")
    else:
        delivery = CheckResult("delivery", False, f"sha256 {sha[:16]}… appears in no delivery entry of the log "
                                                  "(the credential was changed, or never delivered)")
    report.checks.append(delivery)
    return report


def _schema_check() -> Callable[[dict[str, Any]], tuple[bool, str]]:
    from connector.identity_commands import footprint_schema_check  # PACT code stays out of identity/

    return footprint_schema_check


def format_bundle_report(report: BundleReport) -> str:
    """The human form: the credential table, then the log and bundle verdicts."""
    lines = [f"evidence bundle {report.bundle}: agreement {report.agreement_id}"
             + (f", exported by {report.exporter}" if report.exporter else "")
             + (f" at {report.created}" if report.created else ""),
             f"trust list: {report.trust_source}; checked as of {report.created or 'now'}",
             "manifest: " + (f"signed by {report.signed_by}" if report.signature == "valid" else
                             "signature INVALID" if report.signature == "invalid" else
                             "unsigned (exported without the connector's key)"), ""]
    lines.append(format_report(report.results) if report.results else "no credentials in the bundle")
    log = report.log
    if log is None:
        lines.append("log: not checked (unreadable)")
    elif log.ok:
        lines.append(f"log: chain intact, seq {log.first_seq}..{log.last_seq} ({log.entries} entries), "
                     f"links to {str(log.prev_hash)[:16]}…, head {str(log.head_hash)[:16]}…")
    else:
        lines.append(f"log: BROKEN ({log.entries} entries read)")
    if report.findings:
        lines.append("problems:")
        lines += [f"  - {f}" for f in report.findings]
    lines.append(f"bundle: {'VALID' if report.valid else 'INVALID'}")
    return "\n".join(lines)


def verify_bundle_command(args: argparse.Namespace) -> int:
    """`kakehashi verify --bundle DIR [--trust-list F] [--json]`: 0 valid, 1 invalid, 2 not a bundle."""
    from connector.cli import UsageError

    trust = None
    if getattr(args, "trust_list", None):
        try:
            trust = TrustStore.load(args.trust_list)
        except IdentityError as exc:
            raise UsageError(str(exc)) from None
    if getattr(args, "files", None):
        raise UsageError("give either credential files or --bundle DIR, not both")
    try:
        report = asyncio.run(verify_bundle(args.bundle, trust=trust,
                                           trust_source=f"{args.trust_list} (given)" if trust else None))
    except EvidenceError as exc:
        raise UsageError(str(exc)) from None
    if getattr(args, "json", False):
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        print(format_bundle_report(report))
    return 0 if report.valid else 1
