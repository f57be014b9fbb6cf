"""W3C Data Integrity 1.0 proofs: add and verify, with proof sets and proof chains.

`add_proof` returns a new document (the input is never mutated); `verify_proofs` never
raises for a bad document or proof but reports, per proof, the check that failed.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from identity.canon import MAX_STRING, _jcs_strings, jcs_checked, jcs_defined, limits_mode
from identity.errors import IdentityError, ProofError, UnknownCryptosuiteError
from identity.jsonld import undefined_terms
from identity.keys import KeyError_, KeyPair, PublicKey, multibase_decode, multibase_encode
from identity.proofs import ecdsa_jcs_2019, ecdsa_rdfc_2019, eddsa_jcs_2022, eddsa_rdfc_2022
from identity.proofs.base import _SIG_LEN, Cryptosuite, Suite

__all__ = [
    "Cryptosuite",
    "ProofCheck",
    "ProofResult",
    "SUITES",
    "add_proof",
    "get_suite",
    "proof_hash_data",
    "verify_proofs",
]

SUITES: dict[str, Suite] = {
    s.name: s
    for s in (eddsa_jcs_2022.SUITE, eddsa_rdfc_2022.SUITE, ecdsa_jcs_2019.SUITE, ecdsa_rdfc_2019.SUITE)
}
PROOF_TYPE = "DataIntegrityProof"
DEFAULT_SKEW = timedelta(minutes=5)
MAX_PROOFS = 32


def get_suite(name: str) -> Suite:
    try:
        return SUITES[name]
    except (KeyError, TypeError):
        raise UnknownCryptosuiteError(
            f"unknown cryptosuite {name!r}; supported: {', '.join(sorted(SUITES))}"
        ) from None


@dataclass(slots=True)
class ProofCheck:
    ok: bool
    verification_method: str | None
    cryptosuite: str | None
    reason: str | None = None
    proof_id: str | None = None


@dataclass(slots=True)
class ProofResult:
    ok: bool
    proofs: list[ProofCheck] = field(default_factory=list)

    @property
    def reason(self) -> str | None:
        """The first failure, for one-line reports."""
        if self.ok:
            return None
        if not self.proofs:
            return "document has no proof"
        return next((p.reason for p in self.proofs if not p.ok), None)


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _xsd_datetime(value: datetime | str, what: str) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ProofError(f"{what} must be timezone-aware")
        return value.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    _parse_datetime(value, what)
    return value


def _parse_datetime(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise ProofError(f"{what} must be an XML Schema dateTime string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ProofError(f"{what} {value!r} is not a valid dateTime") from None
    if parsed.tzinfo is None:
        raise ProofError(f"{what} {value!r} has no time zone")
    return parsed


def _unsecured(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "proof"}


def _chain_base(document: dict[str, Any], all_proofs: list[Any], previous: Any) -> dict[str, Any]:
    """The document a chained proof signs: the unsecured document plus the proofs it names."""
    unsecured = _unsecured(document)
    wanted = _as_list(previous)
    if not wanted:
        return unsecured
    if not all(isinstance(w, str) for w in wanted):
        raise ProofError("previousProof must be a proof id or a list of proof ids")
    matching = [p for p in all_proofs if isinstance(p, dict) and p.get("id") in wanted]
    if len(matching) != len(wanted):
        found = {p.get("id") for p in matching}
        missing = [w for w in wanted if w not in found]
        raise ProofError(f"previousProof names proof(s) not in the document: {', '.join(missing)}")
    unsecured["proof"] = matching
    return unsecured


def proof_hash_data(
    suite: Suite, unsecured: dict[str, Any], options: dict[str, Any], key_type: str, *, mode: int | None = None
) -> bytes:
    """hashData for a proof: the suite's hash of the proof configuration, then of the document.

    `mode`: the `limits_mode` of a document holding both `unsecured` and `options`, when the
    caller has checked its limits; otherwise they are checked here."""
    config = {k: v for k, v in options.items() if k not in ("proofValue", "@context")}
    if "@context" in unsecured:
        config["@context"] = unsecured["@context"]
    return suite.hash_data(unsecured, config, key_type, mode=mode)


# --------------------------------------------------------------------------------------
# add
# --------------------------------------------------------------------------------------
def add_proof(
    document: dict[str, Any],
    key: KeyPair,
    *,
    verification_method: str,
    cryptosuite: str,
    proof_purpose: str = "assertionMethod",
    created: datetime | str | None = None,
    expires: datetime | str | None = None,
    challenge: str | None = None,
    domain: str | list[str] | None = None,
    previous_proof: str | list[str] | None = None,
    proof_id: str | None = None,
) -> dict[str, Any]:
    """Sign `document`; an existing proof makes a proof set, `previous_proof` a chain.

    The result is a new top-level object (the document's members, then `proof`); its
    member values are the input's own objects, not copies, so the input is never mutated
    but shares its nested values with the result."""
    if not isinstance(document, dict):
        raise ProofError("the document to sign must be a JSON object")
    suite = get_suite(cryptosuite)
    suite.check_key_type(key.key_type)
    if not isinstance(verification_method, str) or not verification_method:
        raise ProofError("verification_method must be a non-empty string (a DID URL)")
    mode = limits_mode(document)  # the one walk over the document: size, depth, JCS mode
    existing = _as_list(document.get("proof"))
    if proof_id is not None and any(isinstance(p, dict) and p.get("id") == proof_id for p in existing):
        raise ProofError(f"the document already has a proof with id {proof_id!r}")
    options: dict[str, Any] = {}
    if proof_id is not None:
        options["id"] = proof_id
    options["type"] = PROOF_TYPE
    options["cryptosuite"] = suite.name
    options["created"] = _xsd_datetime(created, "created") if created else _now_xsd()
    if expires is not None:
        options["expires"] = _xsd_datetime(expires, "expires")
    options["verificationMethod"] = verification_method
    options["proofPurpose"] = proof_purpose
    if challenge is not None:
        options["challenge"] = challenge
    if domain is not None:
        options["domain"] = domain
    if previous_proof is not None:
        options["previousProof"] = previous_proof
    if not _plain_strings(options):
        mode = mode | limits_mode(options)  # anything but short strings: the general check
    base = _chain_base(document, existing, previous_proof)
    hash_data = proof_hash_data(suite, base, options, key.key_type, mode=mode)
    if suite.proof_carries_context and "@context" in document:
        proof = {"@context": _copy_json(document["@context"]), **options}
    else:
        proof = options
    proof["proofValue"] = multibase_encode(suite.sign(hash_data, key))
    # `base` is this call's own shallow copy of the document without its proofs (a chain
    # adds the proofs it names under "proof", replaced here): it becomes the result.
    signed = base
    signed["proof"] = [*existing, proof] if existing else proof
    return signed


def _plain_strings(options: dict[str, Any]) -> bool:
    """True when every proof option is a string, or a list of strings, within the limits
    (so they cannot change the document's JCS mode and need no limits walk)."""
    for value in options.values():
        if value.__class__ is str:
            if len(value) > MAX_STRING:
                return False
        elif value.__class__ is list:
            if not all(v.__class__ is str and len(v) <= MAX_STRING for v in value):
                return False
        else:
            return False
    return True


def _copy_json(value: Any) -> Any:
    """A copy of a JSON value for the proof (an @context: a string or a list of strings)."""
    if value.__class__ is str:
        return value
    if value.__class__ is list and all(v.__class__ is str for v in value):
        return list(value)
    return copy.deepcopy(value)


_NOW: tuple[int, str] = (0, "")


def _now_xsd() -> str:
    """The current time as an XML Schema dateTime in UTC, whole seconds (cached per second)."""
    global _NOW
    second = int(time.time())
    cached = _NOW
    if cached[0] != second:
        cached = _NOW = (second, datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return cached[1]


# --------------------------------------------------------------------------------------
# verify
# --------------------------------------------------------------------------------------
def verify_proofs(
    document: dict[str, Any],
    resolve_key: Callable[[str], PublicKey],
    *,
    expected_purpose: str = "assertionMethod",
    challenge: str | None = None,
    domain: str | None = None,
    now: datetime | None = None,
    max_skew: timedelta = DEFAULT_SKEW,
) -> ProofResult:
    """Verify every proof on `document`; the result is ok only if all of them are."""
    if not isinstance(document, dict):
        return ProofResult(False, [ProofCheck(False, None, None, "document is not a JSON object")])
    moment = now or datetime.now(timezone.utc)
    proof = document.get("proof")
    if challenge is None and domain is None:
        if proof.__class__ is list and len(proof) == 1:
            proof = proof[0]
        fast = _verify_plain_jcs(document, proof, resolve_key, expected_purpose, moment, max_skew)
        if fast is not None:
            return fast
    proofs = _as_list(document.get("proof"))
    if not proofs:
        return ProofResult(False, [])
    if len(proofs) > MAX_PROOFS:
        return ProofResult(False, [ProofCheck(False, None, None, f"document has more than {MAX_PROOFS} proofs")])
    limits = _Limits(document)
    checks = []
    for proof in proofs:
        checks.append(
            _verify_one(
                document, proofs, proof, resolve_key, expected_purpose, challenge, domain, moment, max_skew, limits
            )
        )
    return ProofResult(all(c.ok for c in checks), checks)


def _verify_plain_jcs(
    document: dict[str, Any],
    proof: Any,
    resolve_key: Callable[[str], PublicKey],
    expected_purpose: str,
    now: datetime,
    max_skew: timedelta,
) -> ProofResult | None:
    """The one-proof JCS case that verifies, in one pass: the checks `_check_proof` makes, on
    a proof of plain strings with the document's own @context and no chain. None for anything
    else, and for any failure (the general path then reports the reason)."""
    if proof.__class__ is not dict:
        return None
    options = proof.copy()
    value = options.pop("proofValue", None)
    base = document.copy()
    del base["proof"]
    has_context = "@context" in base
    if has_context:
        context = base["@context"]
        if options.pop("@context", context) != context:
            return None  # a prefix of the document's contexts: the general path
    elif "@context" in options:
        return None
    else:
        context = ()
    try:  # every option a string, the @context strings too (str.join refuses anything else)
        if len("".join(context)) + len("".join(options.values())) > MAX_STRING:
            return None
    except TypeError:
        return None  # a list (domain, previousProof, ...) or another value: the general path
    if has_context:
        options["@context"] = context
    get = options.get
    name = get("cryptosuite")
    suite = SUITES.get(name)  # type: ignore[arg-type]
    vm = get("verificationMethod")
    if (
        suite is None or suite.canonicalization != "jcs" or get("type") != PROOF_TYPE
        or get("proofPurpose") != expected_purpose or not vm or value.__class__ is not str
    ):
        return None
    try:
        created = get("created")
        if created is not None:
            moment = datetime.fromisoformat(created)
            if moment.tzinfo is None or moment - max_skew > now:
                return None
        expires = get("expires")
        if expires is not None:
            moment = datetime.fromisoformat(expires)
            if moment.tzinfo is None or moment < now:
                return None
        signature = multibase_decode(value)
        key = resolve_key(vm)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - the general path reports it
        return None
    if key.__class__ is not PublicKey or key.key_type not in suite.key_types:
        return None
    options_bytes = _jcs_strings(options)
    document_bytes = jcs_checked(base)  # also the limits: plain JSON, size, depth
    if options_bytes is None or document_bytes is None:
        return None
    try:
        if undefined_terms(options) or undefined_terms(base):
            return None
    except IdentityError:
        return None
    digest = hashlib.sha384 if key.key_type == "P-384" else hashlib.sha256
    hash_data = digest(options_bytes).digest() + digest(document_bytes).digest()
    if len(signature) != _SIG_LEN[key.key_type] or not key.verify(signature, hash_data):
        return None
    return ProofResult(True, [ProofCheck(True, vm, name, proof_id=get("id"))])  # type: ignore[arg-type]


class _Limits:
    """The size, depth and JCS mode of the whole document (proofs included), walked only
    when a proof needs them, at most once; a failure is reported by each proof needing it."""

    __slots__ = ("_document", "_mode")

    def __init__(self, document: dict[str, Any]) -> None:
        self._document = document
        self._mode: int | IdentityError | None = None

    def mode(self) -> int:
        if self._mode is None:
            try:
                self._mode = limits_mode(self._document)
            except IdentityError as exc:
                self._mode = exc
        if isinstance(self._mode, IdentityError):
            raise self._mode
        return self._mode


def _verify_one(
    document: dict[str, Any],
    all_proofs: list[Any],
    proof: Any,
    resolve_key: Callable[[str], PublicKey],
    expected_purpose: str,
    challenge: str | None,
    domain: str | None,
    now: datetime,
    max_skew: timedelta,
    limits: _Limits,
) -> ProofCheck:
    if not isinstance(proof, dict):
        return ProofCheck(False, None, None, "proof is not a JSON object")
    vm = proof.get("verificationMethod")
    name = proof.get("cryptosuite")
    check = ProofCheck(False, vm if isinstance(vm, str) else None, name if isinstance(name, str) else None,
                       proof_id=proof.get("id") if isinstance(proof.get("id"), str) else None)
    try:
        _check_proof(
            document, all_proofs, proof, resolve_key, expected_purpose, challenge, domain, now, max_skew, limits
        )
    except (IdentityError, KeyError_) as exc:
        check.reason = str(exc)
        return check
    check.ok = True
    return check


def _check_proof(
    document: dict[str, Any],
    all_proofs: list[Any],
    proof: dict[str, Any],
    resolve_key: Callable[[str], PublicKey],
    expected_purpose: str,
    challenge: str | None,
    domain: str | None,
    now: datetime,
    max_skew: timedelta,
    limits: _Limits,
) -> None:
    get = proof.get
    if get("type") != PROOF_TYPE:
        raise ProofError(f"unsupported proof type {get('type')!r}; expected {PROOF_TYPE}")
    name = get("cryptosuite")
    suite = SUITES.get(name) if name.__class__ is str else None
    if suite is None:
        suite = get_suite(name)  # type: ignore[arg-type]  # raises, naming what is supported
    vm = get("verificationMethod")
    if not isinstance(vm, str) or not vm:
        raise ProofError("proof has no verificationMethod")
    if get("proofPurpose") != expected_purpose:
        raise ProofError(f"proofPurpose is {get('proofPurpose')!r}, expected {expected_purpose!r}")
    value = get("proofValue")
    if not isinstance(value, str):
        raise ProofError("proof has no proofValue string")
    try:
        signature = multibase_decode(value)
    except KeyError_ as exc:
        raise ProofError(f"proofValue is malformed: {exc}") from None
    if "created" in proof:
        created = _parse_datetime(proof["created"], "created")
        if created - max_skew > now:
            raise ProofError(f"proof created {proof['created']} is in the future")
    if "expires" in proof:
        expires = _parse_datetime(proof["expires"], "expires")
        if expires < now:
            raise ProofError(f"proof expired at {proof['expires']}")
    if challenge is not None and get("challenge") != challenge:
        raise ProofError("proof challenge does not match the expected challenge")
    if domain is not None and domain not in _as_list(get("domain")):
        raise ProofError(f"proof domain does not include {domain!r}")
    previous = get("previousProof")
    base = _unsecured(document) if previous is None else _chain_base(document, all_proofs, previous)
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    if "@context" in options:
        if not suite.proof_carries_context:
            raise ProofError(f"{suite.name} proofs must not carry @context")
        proof_ctx = options["@context"]
        doc_ctx = base.get("@context")
        if doc_ctx != proof_ctx:  # the usual case is equal; else it must be a prefix
            doc_list, proof_list = _as_list(doc_ctx), _as_list(proof_ctx)
            if doc_list[: len(proof_list)] != proof_list:
                raise ProofError("proof @context does not match the start of the document's @context")
        base["@context"] = proof_ctx
    try:
        key = resolve_key(vm)
    except Exception as exc:  # resolvers raise their own errors; report them, never crash
        raise ProofError(f"cannot resolve verification method {vm}: {exc}") from None
    if not isinstance(key, PublicKey):
        raise ProofError(f"verification method {vm} did not resolve to a public key")
    suite.check_key_type(key.key_type)
    if suite.canonicalization == "jcs" and _plain_strings(options):
        # The common case, without a walk over the whole document: canonicalising it checks
        # its limits (`identity.canon.jcs_checked`), and the proof configuration is short
        # strings. The configuration is `options` (this call's own copy) with the
        # document's @context, as `proof_hash_data` builds it.
        if "@context" in base:
            options["@context"] = base["@context"]
        else:
            options.pop("@context", None)
        digest = hashlib.sha384 if key.key_type == "P-384" else hashlib.sha256
        hash_data = digest(jcs_defined(options, strings_only=True)).digest() + digest(jcs_defined(base)).digest()
    else:
        hash_data = proof_hash_data(suite, base, options, key.key_type, mode=limits.mode())
    if not suite.verify(hash_data, signature, key):
        raise ProofError(f"{suite.name} signature does not verify with {vm}")
