"""W3C Verifiable Credentials Data Model 2.0: build, secure (Data Integrity or vc+jwt), verify.

Verification never re-serialises what it checks: proofs and JWT signatures are verified over
the document exactly as received, and the pydantic models are used only to check its shape.
It answers with named checks (`shape`, `proof`, `issuer-key`, `validity`) rather than raising,
so the auditor's report and the DCP verifier can both say which check failed and why.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

import identity.proofs as proofs
from identity.did.document import split_did_url
from identity.did.errors import DidError
from identity.did.resolver import DidResolver
from identity.errors import IdentityError
from identity.jose import (
    JoseError,
    envelope,
    issue_vc_jwt,
    issue_vp_jwt,
    split_jwt,
    unenvelope,
    verify_vc_jwt,
    verify_vp_jwt,
)
from identity.keys import KeyPair

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
MAX_CREDENTIALS_PER_PRESENTATION = 64


class CredentialError(IdentityError):
    """A credential or presentation is malformed or failed a named check."""


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def parse_datetime(value: str, what: str) -> datetime:
    """An XSD dateTimeStamp (time zone required, as VCDM 2.0 demands)."""
    if not isinstance(value, str):
        raise CredentialError(f"{what} must be a date-time string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CredentialError(f"{what} {value!r} is not an ISO 8601 / XSD date-time") from None
    if parsed.tzinfo is None:
        raise CredentialError(f"{what} {value!r} has no time zone (use Z or an offset)")
    return parsed


def format_datetime(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# -- wire models ----------------------------------------------------------------------
class _Base(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    context: list[str | dict[str, Any]] = Field(alias="@context")
    id: str | None = None
    type: list[str]

    @field_validator("type", mode="before")
    @classmethod
    def _type_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("context", mode="before")
    @classmethod
    def _context_list(cls, value: Any) -> Any:
        value = [value] if isinstance(value, (str, dict)) else value
        if not value or value[0] != VC_V2_CONTEXT:
            raise ValueError(f"@context must start with {VC_V2_CONTEXT}")
        return value

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class VerifiableCredential(_Base):
    issuer: str | dict[str, Any]
    credentialSubject: dict[str, Any] | list[dict[str, Any]]
    validFrom: str | None = None
    validUntil: str | None = None
    credentialStatus: dict[str, Any] | list[dict[str, Any]] | None = None
    proof: dict[str, Any] | list[dict[str, Any]] | None = None

    @field_validator("type")
    @classmethod
    def _is_vc(cls, value: list[str]) -> list[str]:
        if "VerifiableCredential" not in value:
            raise ValueError("type must include VerifiableCredential")
        return value

    @field_validator("issuer")
    @classmethod
    def _issuer_id(cls, value: str | dict[str, Any]) -> str | dict[str, Any]:
        ident = value.get("id") if isinstance(value, dict) else value
        if not isinstance(ident, str) or ":" not in ident:
            raise ValueError("issuer must be a URL or an object with a URL id")
        return value

    @field_validator("credentialSubject")
    @classmethod
    def _subject_present(cls, value: Any) -> Any:
        subjects = _as_list(value)
        if not subjects or any(not isinstance(s, dict) or not s for s in subjects):
            raise ValueError("credentialSubject must be a non-empty object or list of objects")
        return value

    @field_validator("validFrom", "validUntil")
    @classmethod
    def _dates(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_datetime(value, "date")
            except CredentialError as exc:
                raise ValueError(str(exc)) from None
        return value

    @property
    def issuer_id(self) -> str:
        return self.issuer["id"] if isinstance(self.issuer, dict) else self.issuer

    @property
    def subjects(self) -> list[dict[str, Any]]:
        return _as_list(self.credentialSubject)


class VerifiablePresentation(_Base):
    holder: str | dict[str, Any] | None = None
    verifiableCredential: list[dict[str, Any] | str] = Field(default_factory=list)
    proof: dict[str, Any] | list[dict[str, Any]] | None = None

    @field_validator("type")
    @classmethod
    def _is_vp(cls, value: list[str]) -> list[str]:
        if "VerifiablePresentation" not in value:
            raise ValueError("type must include VerifiablePresentation")
        return value

    @field_validator("verifiableCredential", mode="before")
    @classmethod
    def _vc_list(cls, value: Any) -> Any:
        value = _as_list(value)
        if len(value) > MAX_CREDENTIALS_PER_PRESENTATION:
            raise ValueError(f"more than {MAX_CREDENTIALS_PER_PRESENTATION} credentials")
        return value

    @property
    def holder_id(self) -> str | None:
        return self.holder.get("id") if isinstance(self.holder, dict) else self.holder


def _validation_reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "document"
    return f"{where}: {first['msg'].removeprefix('Value error, ')}"


def parse_credential(data: object) -> VerifiableCredential:
    if not isinstance(data, dict):
        raise CredentialError(f"credential must be a JSON object, got {type(data).__name__}")
    try:
        return VerifiableCredential.model_validate(data)
    except ValidationError as exc:
        raise CredentialError(f"invalid credential: {_validation_reason(exc)}") from None


def parse_presentation(data: object) -> VerifiablePresentation:
    if not isinstance(data, dict):
        raise CredentialError(f"presentation must be a JSON object, got {type(data).__name__}")
    try:
        return VerifiablePresentation.model_validate(data)
    except ValidationError as exc:
        raise CredentialError(f"invalid presentation: {_validation_reason(exc)}") from None


# -- building and securing --------------------------------------------------------------
def build_credential(
    *,
    issuer: str,
    subject: dict[str, Any],
    types: Sequence[str] = (),
    contexts: Sequence[str | dict[str, Any]] = (),
    credential_id: str | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    credential_status: dict[str, Any] | list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An unsigned credential; validated on the way out so we never issue a malformed one."""
    doc: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT, *[c for c in contexts if c != VC_V2_CONTEXT]],
        "id": credential_id or f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", *[t for t in types if t != "VerifiableCredential"]],
        "issuer": issuer,
        "validFrom": format_datetime(valid_from or datetime.now(timezone.utc)),
        "credentialSubject": subject,
    }
    if valid_until is not None:
        doc["validUntil"] = format_datetime(valid_until)
    if credential_status is not None:
        doc["credentialStatus"] = credential_status
    doc.update(extra or {})
    parse_credential(doc)
    return doc


def default_cryptosuite(key: KeyPair, canonicalization: Literal["jcs", "rdfc"] = "jcs") -> str:
    """The cryptosuite that fits the key: eddsa-* for Ed25519, ecdsa-* for P-256/P-384."""
    family = "eddsa" if key.key_type == "Ed25519" else "ecdsa"
    year = "2022" if family == "eddsa" else "2019"
    return f"{family}-{canonicalization}-{year}"


def _check_signer(document_owner: str, verification_method: str, role: str) -> None:
    if split_did_url(verification_method)[0] != document_owner:
        raise CredentialError(f"verification method {verification_method} is not a key of the {role} {document_owner}")


def sign_credential_di(
    credential: dict[str, Any],
    key: KeyPair,
    *,
    verification_method: str,
    cryptosuite: str | None = None,
    created: str | None = None,
) -> dict[str, Any]:
    """Add a Data Integrity proof (assertionMethod) by the issuer's key."""
    vc = parse_credential(credential)
    _check_signer(vc.issuer_id, verification_method, "issuer")
    return proofs.add_proof(
        credential, key, verification_method=verification_method,
        cryptosuite=cryptosuite or default_cryptosuite(key), created=created,
    )


def sign_credential_jwt(credential: dict[str, Any], key: KeyPair, *, verification_method: str) -> str:
    """Secure the credential as a `vc+jwt` (VC-JOSE-COSE)."""
    parse_credential(credential)
    return issue_vc_jwt(credential, key, kid=verification_method)


def build_presentation(
    holder: str, credentials: Sequence[dict[str, Any] | str], *, presentation_id: str | None = None
) -> dict[str, Any]:
    """An unsigned presentation; `vc+jwt` strings are embedded as EnvelopedVerifiableCredential."""
    return {
        "@context": [VC_V2_CONTEXT],
        "id": presentation_id or f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiablePresentation"],
        "holder": holder,
        "verifiableCredential": [envelope(c) if isinstance(c, str) else c for c in credentials],
    }


def sign_presentation_di(
    presentation: dict[str, Any],
    key: KeyPair,
    *,
    verification_method: str,
    challenge: str | None = None,
    domain: str | None = None,
    cryptosuite: str | None = None,
) -> dict[str, Any]:
    vp = parse_presentation(presentation)
    _check_signer(vp.holder_id or "", verification_method, "holder")
    return proofs.add_proof(
        presentation, key, verification_method=verification_method,
        cryptosuite=cryptosuite or default_cryptosuite(key),
        proof_purpose="authentication", challenge=challenge, domain=domain,
    )


def sign_presentation_jwt(
    presentation: dict[str, Any],
    key: KeyPair,
    *,
    verification_method: str,
    audience: str | None = None,
    nonce: str | None = None,
    lifetime: int = 300,
) -> str:
    parse_presentation(presentation)
    return issue_vp_jwt(presentation, key, kid=verification_method, audience=audience, nonce=nonce, lifetime=lifetime)


# -- verification -----------------------------------------------------------------------
@dataclass
class Check:
    name: str
    ok: bool | None
    reason: str = ""


@dataclass
class CredentialVerification:
    """Outcome of verifying one credential: every check with its reason."""

    credential: dict[str, Any] | None
    format: Literal["di", "jwt", "unknown"]
    checks: list[Check] = field(default_factory=list)
    verification_methods: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks) and any(c.ok for c in self.checks)

    @property
    def issuer(self) -> str | None:
        if self.credential is None:
            return None
        iss = self.credential.get("issuer")
        return iss.get("id") if isinstance(iss, dict) else iss

    @property
    def types(self) -> list[str]:
        return list(_as_list(self.credential.get("type", []))) if self.credential else []

    @property
    def reasons(self) -> list[str]:
        return [f"{c.name}: {c.reason}" for c in self.checks if c.ok is False]

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    def raise_for_failure(self) -> None:
        if not self.ok:
            raise CredentialError("credential rejected: " + "; ".join(self.reasons or ["nothing verified"]))


#: Tolerated clock difference for `validFrom`: an issuer whose clock is a little ahead (or a
#: status list re-signed while the verifier's request was already under way) is not "not yet
#: valid". Expiry gets no such grace.
VALID_FROM_SKEW = timedelta(seconds=60)


def check_validity_period(document: dict[str, Any], now: datetime) -> Check:
    try:
        start = document.get("validFrom")
        end = document.get("validUntil")
        if start is not None and parse_datetime(start, "validFrom") > now + VALID_FROM_SKEW:
            return Check("validity", False, f"not yet valid: validFrom {start} is after {format_datetime(now)}")
        if end is not None and parse_datetime(end, "validUntil") < now:
            return Check("validity", False, f"expired: validUntil {end} is before {format_datetime(now)}")
    except CredentialError as exc:
        return Check("validity", False, str(exc))
    return Check("validity", True)


def _proof_vms(document: dict[str, Any]) -> list[str]:
    vms = [p.get("verificationMethod") for p in _as_list(document.get("proof") or []) if isinstance(p, dict)]
    return [vm for vm in vms if isinstance(vm, str)]


async def _prefetch(resolver: DidResolver, vms: Sequence[str]) -> str | None:
    try:
        await resolver.prefetch(vms)
    except (DidError, IdentityError) as exc:
        return str(exc)
    return None


async def _verify_di(
    document: dict[str, Any], owner: str, resolver: DidResolver, *, purpose: str, relationship: str,
    now: datetime, challenge: str | None, domain: str | None, outcome: CredentialVerification, role: str,
) -> None:
    vms = _proof_vms(document)
    if not vms:
        outcome.checks.append(Check("proof", False, "no Data Integrity proof with a verificationMethod"))
        return
    foreign = [vm for vm in vms if _owner_of(vm) != owner]
    if foreign:
        outcome.checks.append(Check("issuer-key", False, f"proof key {foreign[0]} is not controlled by the {role} {owner}"))
        return
    problem = await _prefetch(resolver, vms)
    if problem is not None:
        outcome.checks.append(Check("issuer-key", False, problem))
        return
    try:
        result = proofs.verify_proofs(
            document, resolver.key_resolver(relationship),  # type: ignore[arg-type]
            expected_purpose=purpose, challenge=challenge, domain=domain, now=now,
        )
    except IdentityError as exc:
        outcome.checks.append(Check("proof", False, str(exc)))
        return
    outcome.verification_methods = vms
    if result.ok:
        outcome.checks.append(Check("issuer-key", True))
        outcome.checks.append(Check("proof", True))
        return
    reasons = [f"proof by {r.verification_method}: {r.reason}" for r in result.proofs if not r.ok and r.reason]
    reason = "; ".join(reasons) or result.reason or "proof did not verify"
    key_problem = "cannot resolve verification method" in reason
    outcome.checks.append(Check("issuer-key", not key_problem, reason if key_problem else ""))
    outcome.checks.append(Check("proof", False, reason))


def _owner_of(vm: str) -> str | None:
    try:
        return split_did_url(vm)[0]
    except DidError:
        return None


async def verify_credential(
    credential: dict[str, Any] | str,
    resolver: DidResolver,
    *,
    now: datetime | None = None,
) -> CredentialVerification:
    """Verify a DI-secured credential (dict) or a `vc+jwt` (str); never raises for bad input."""
    now = now or datetime.now(timezone.utc)
    if isinstance(credential, str):
        return await _verify_vc_jwt(credential, resolver, now)
    outcome = CredentialVerification(credential if isinstance(credential, dict) else None, "di")
    if isinstance(credential, dict) and "EnvelopedVerifiableCredential" in _as_list(credential.get("type")):
        try:
            _, token = unenvelope(credential)
        except JoseError as exc:
            outcome.checks.append(Check("shape", False, str(exc)))
            return outcome
        return await _verify_vc_jwt(token, resolver, now)
    try:
        vc = parse_credential(credential)
    except CredentialError as exc:
        outcome.checks.append(Check("shape", False, str(exc)))
        return outcome
    outcome.checks.append(Check("shape", True))
    await _verify_di(
        credential, vc.issuer_id, resolver, purpose="assertionMethod", relationship="assertionMethod",  # type: ignore[arg-type]
        now=now, challenge=None, domain=None, outcome=outcome, role="issuer",
    )
    outcome.checks.append(check_validity_period(credential, now))  # type: ignore[arg-type]
    return outcome


async def _verify_vc_jwt(token: str, resolver: DidResolver, now: datetime) -> CredentialVerification:
    outcome = CredentialVerification(None, "jwt")
    try:
        header, claims = split_jwt(token)
        outcome.credential = claims
        vc = parse_credential(claims)
    except (JoseError, CredentialError) as exc:
        outcome.checks.append(Check("shape", False, str(exc)))
        return outcome
    outcome.checks.append(Check("shape", True))
    kid = header.get("kid")
    kid = vc.issuer_id + kid if isinstance(kid, str) and kid.startswith("#") else kid
    if not isinstance(kid, str) or _owner_of(kid) != vc.issuer_id:
        outcome.checks.append(Check("issuer-key", False, f"JWT kid {kid!r} is not a key of the issuer {vc.issuer_id}"))
        return outcome
    problem = await _prefetch(resolver, [kid])
    if problem is not None:
        outcome.checks.append(Check("issuer-key", False, problem))
        return outcome
    try:
        resolver.key_resolver("assertionMethod")(kid)
    except (DidError, IdentityError) as exc:
        outcome.checks.append(Check("issuer-key", False, str(exc)))
        return outcome
    outcome.checks.append(Check("issuer-key", True))
    try:
        verify_vc_jwt(token, resolver.key_resolver("assertionMethod"), now=now.timestamp())
    except JoseError as exc:
        name = "validity" if "expired" in str(exc) or "not valid before" in str(exc) else "proof"
        outcome.checks.append(Check(name, False, str(exc)))
        return outcome
    outcome.verification_methods = [kid]
    outcome.checks.append(Check("proof", True))
    outcome.checks.append(check_validity_period(claims, now))
    return outcome


@dataclass
class PresentationVerification:
    presentation: dict[str, Any] | None
    format: Literal["di", "jwt", "unknown"]
    holder: str | None = None
    checks: list[Check] = field(default_factory=list)
    credentials: list[CredentialVerification] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (all(c.ok is not False for c in self.checks) and any(c.ok for c in self.checks)
                and all(c.ok for c in self.credentials))

    @property
    def reasons(self) -> list[str]:
        out = [f"{c.name}: {c.reason}" for c in self.checks if c.ok is False]
        for i, cred in enumerate(self.credentials):
            out += [f"credential {i}: {r}" for r in cred.reasons]
        return out

    def raise_for_failure(self) -> None:
        if not self.ok:
            raise CredentialError("presentation rejected: " + "; ".join(self.reasons or ["nothing verified"]))


async def verify_presentation(
    presentation: dict[str, Any] | str,
    resolver: DidResolver,
    *,
    audience: str | None = None,
    nonce: str | None = None,
    now: datetime | None = None,
) -> PresentationVerification:
    """Verify a `vp+jwt` (audience/nonce as `aud`/`nonce`) or a DI VP (as `domain`/`challenge`),
    then every credential inside it."""
    now = now or datetime.now(timezone.utc)
    if isinstance(presentation, str):
        outcome = PresentationVerification(None, "jwt")
        try:
            header, claims = split_jwt(presentation)
            outcome.presentation = claims
            vp = parse_presentation(claims)
            holder = vp.holder_id or claims.get("iss")
            kid = header.get("kid")
            kid = f"{holder}{kid}" if isinstance(kid, str) and kid.startswith("#") else kid
            if isinstance(kid, str) and _owner_of(kid) is not None:
                problem = await _prefetch(resolver, [kid])
                if problem is not None:
                    outcome.checks.append(Check("holder-key", False, problem))
                    return outcome
            claims, _ = verify_vp_jwt(
                presentation, resolver.key_resolver("authentication"), audience=audience, nonce=nonce,
                now=now.timestamp(),
            )
        except (JoseError, CredentialError, DidError) as exc:
            outcome.checks.append(Check("proof", False, str(exc)))
            return outcome
        outcome.holder = holder if isinstance(holder, str) else None
        outcome.checks.append(Check("proof", True))
    else:
        outcome = PresentationVerification(presentation if isinstance(presentation, dict) else None, "di")
        try:
            vp = parse_presentation(presentation)
        except CredentialError as exc:
            outcome.checks.append(Check("shape", False, str(exc)))
            return outcome
        outcome.holder = vp.holder_id
        inner = CredentialVerification(presentation, "di")  # type: ignore[arg-type]
        await _verify_di(
            presentation, vp.holder_id or "", resolver, purpose="authentication",  # type: ignore[arg-type]
            relationship="authentication", now=now, challenge=nonce, domain=audience, outcome=inner, role="holder",
        )
        outcome.checks += [Check("holder-key" if c.name == "issuer-key" else c.name, c.ok, c.reason) for c in inner.checks]
        if not inner.ok:
            return outcome
    for item in vp.verifiableCredential:
        outcome.credentials.append(await verify_credential(item, resolver, now=now))
    return outcome
