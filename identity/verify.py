"""The auditor's pipeline: one credential in, six named checks out, each with a reason.

The checks are fixed (`proof`, `issuer-key`, `trust`, `status`, `validity`, `schema`) so a
report reads the same for every file and machines can diff verdicts. A check is `None` when it
does not apply or there is nothing to check it against (no trust list given, no status entry,
not a footprint); only `False` makes a file invalid.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import identity.proofs as proofs
from identity.credentials import CredentialVerification, verify_credential
from identity.did.resolver import DidResolver
from identity.errors import IdentityError
from identity.files import json_problem
from identity.footprint_credential import extract_footprint, is_footprint_credential
from identity.status import StatusListSource, check_status
from identity.trust import TrustStore

CHECK_NAMES = ("proof", "issuer-key", "trust", "status", "validity", "schema")
MAX_FILE_BYTES = 8 * 1024 * 1024

# (footprint dict) -> (ok, reason); supplied by the caller so identity/ stays free of PACT code.
SchemaCheck = Callable[[dict[str, Any]], tuple[bool, str]]


@dataclass
class CheckResult:
    name: str
    ok: bool | None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "reason": self.reason}


@dataclass
class FileReport:
    file: str
    checks: list[CheckResult] = field(default_factory=list)
    issuer: str | None = None
    credential_id: str | None = None
    #: The status check found a revocation bit set (not merely a list that could not be read).
    revoked: bool = False

    @property
    def valid(self) -> bool:
        return all(c.ok is not False for c in self.checks) and any(c.ok for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "valid": self.valid, "checks": [c.to_json() for c in self.checks]}


@dataclass
class Verifier:
    """What an auditor verifies against: DIDs (bundle or network), trust lists, status lists."""

    resolver: DidResolver
    trust: TrustStore | None = None
    status_lists: StatusListSource | None = None
    schema_check: SchemaCheck | None = None
    now: datetime | None = None

    async def verify(self, document: dict[str, Any] | str, *, name: str = "<credential>") -> FileReport:
        now = self.now or datetime.now(timezone.utc)
        report = FileReport(name)
        outcome = await verify_credential(document, self.resolver, now=now)
        credential = outcome.credential if isinstance(outcome.credential, dict) else None
        report.issuer = outcome.issuer
        report.credential_id = credential.get("id") if credential else None
        shape = outcome.check("shape")
        if shape is not None and shape.ok is False:
            report.checks = [
                CheckResult("proof", False, f"not a verifiable credential: {shape.reason}"),
                *(CheckResult(n, None, "not checked: the document is not a credential") for n in CHECK_NAMES[1:]),
            ]
            return report
        report.checks.append(await self._proof(document, outcome, now))
        report.checks.append(_named(outcome, "issuer-key"))
        report.checks.append(self._trust(outcome))
        report.checks.append(await self._status(credential, now, report))
        report.checks.append(_named(outcome, "validity"))
        report.checks.append(self._schema(credential))
        return report

    async def _proof(self, document: dict[str, Any] | str, outcome: CredentialVerification, now: datetime) -> CheckResult:
        """The signature on its own: when the key is not the issuer's, the credential pipeline
        stops early, yet an auditor still wants to know whether the bytes were tampered with."""
        check = outcome.check("proof")
        if check is not None or not isinstance(document, dict):
            return _named(outcome, "proof")
        vms = [p.get("verificationMethod") for p in _as_list(document.get("proof")) if isinstance(p, dict)]
        try:
            await self.resolver.prefetch([vm for vm in vms if isinstance(vm, str)])
            result = proofs.verify_proofs(document, self.resolver.key_resolver("assertionMethod"), now=now)
        except IdentityError as exc:
            return CheckResult("proof", False, str(exc))
        if result.ok:
            return CheckResult("proof", True, "signature valid (made by a key that is not the issuer's, see issuer-key)")
        reasons = [f"{r.verification_method}: {r.reason}" for r in result.proofs if not r.ok]
        return CheckResult("proof", False, "; ".join(reasons) or result.reason or "proof did not verify")

    def _trust(self, outcome: CredentialVerification) -> CheckResult:
        if self.trust is None:
            return CheckResult("trust", None, "no trust list given")
        issuer = outcome.issuer
        if not issuer:
            return CheckResult("trust", False, "credential names no issuer")
        spaces = self.trust.is_trusted(issuer, outcome.types)
        if spaces:
            return CheckResult("trust", True, "trusted by " + ", ".join(spaces))
        types = [t for t in outcome.types if t != "VerifiableCredential"] or ["VerifiableCredential"]
        return CheckResult("trust", False, f"issuer {issuer} is not trusted for {', '.join(types)} by any data space in the trust list")

    async def _status(self, credential: dict[str, Any] | None, now: datetime, report: FileReport) -> CheckResult:
        if credential is None or credential.get("credentialStatus") is None:
            return CheckResult("status", None, "credential has no status entry")
        if self.status_lists is None:
            return CheckResult("status", None, "no status list source available")
        try:
            result = await check_status(credential, self.resolver, self.status_lists, now=now)
        except IdentityError as exc:
            return CheckResult("status", False, str(exc))
        report.revoked = result.revoked
        return CheckResult("status", result.ok, result.reason)

    def _schema(self, credential: dict[str, Any] | None) -> CheckResult:
        if credential is None or not is_footprint_credential(credential):
            return CheckResult("schema", None, "not a footprint credential")
        footprint = extract_footprint(credential)
        if footprint is None:
            return CheckResult("schema", False, "credentialSubject.productFootprint is missing or not an object")
        if self.schema_check is None:
            return CheckResult("schema", None, "no footprint schema check configured")
        ok, reason = self.schema_check(footprint)
        return CheckResult("schema", ok, reason)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else ([] if value is None else [value])


def _named(outcome: CredentialVerification, name: str) -> CheckResult:
    check = outcome.check(name)
    if check is None:
        return CheckResult(name, False if name == "proof" else None, "not reached: an earlier check failed")
    return CheckResult(name, check.ok, check.reason)


def read_credential_file(path: str | Path) -> dict[str, Any] | str:
    """A credential as JSON (Data Integrity) or a compact `vc+jwt`; errors name the problem."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise IdentityError(f"cannot read {p}: {exc.strerror}") from None
    if size > MAX_FILE_BYTES:
        raise IdentityError(f"{p} is {size} bytes; the limit is {MAX_FILE_BYTES}")
    try:
        text = p.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise IdentityError(f"cannot read {p} as UTF-8 text: {exc}") from None
    if text.startswith("ey") and text.count(".") == 2 and "{" not in text:
        return text
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IdentityError(f"{p} is not JSON: {json_problem(exc)}") from None
    except RecursionError:
        raise IdentityError(f"{p} is nested too deeply to be a credential") from None
    if not isinstance(data, dict):
        raise IdentityError(f"{p} holds a JSON {type(data).__name__}, not a credential object")
    return data


def format_report(reports: list[FileReport]) -> str:
    """The human form: one block per file, one line per check."""
    marks = {True: "ok  ", False: "FAIL", None: "n/a "}
    lines: list[str] = []
    for r in reports:
        lines.append(f"{r.file}: {'VALID' if r.valid else 'INVALID'}" + (f"  (issuer {r.issuer})" if r.issuer else ""))
        for c in r.checks:
            lines.append(f"  [{marks[c.ok]}] {c.name:<10} {c.reason}".rstrip())
    total = len(reports)
    bad = sum(not r.valid for r in reports)
    lines.append(f"{total - bad} of {total} file(s) valid")
    return "\n".join(lines)
