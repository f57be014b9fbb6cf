"""Footprint credentials signed on the fly, as bytes: a lean JCS Data Integrity path.

`FootprintCredentialSigner.render` returns the serialised, signed
`ProductFootprintCredential` for a footprint (a dict, or its stored JSON bytes). It produces
the same bytes as ``footprint_credential`` + ``proofs.add_proof`` + compact JSON (tested) at
a fraction of the cost, because for this one document shape most of the general work is
known in advance:

- the credential is a fixed envelope around the footprint, which it carries as an ``@json``
  literal: the undefined-term check cannot depend on the footprint, so it is done once
  (a trial signature through the general path when the signer is built);
- hashData is hash(JCS(proof configuration)) || hash(JCS(credential)); the configuration
  differs only in ``created`` (whole seconds), so its hash is computed once per second;
- JCS of the credential is the fixed envelope's bytes around JCS(footprint), which is
  orjson's key-sorted output whenever that is provably RFC 8785 (`identity.canon` states
  the conditions); stored JSON is parsed once (orjson: its numbers parse exactly as the
  stdlib's, tested) and walked once for floats, rewriting integral ones in place.

Anything outside those conditions (exponent-form floats, integers beyond 2^53, keys
outside the BMP, deep or huge documents, ids that are not plain strings or integers) takes
the general path, which signs it or raises exactly as before.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timezone
from typing import Any

import orjson

from identity.canon import MAX_DEPTH, MAX_NODES, MAX_STRING, limits_mode
from identity.footprint_credential import (
    CREDENTIAL_TYPE,
    CREDENTIALS_V2,
    PCF_CONTEXT,
    SUBJECT_TYPE,
    credential_ids,
    footprint_credential,
    pact_version,
)
from identity.jsonld import JCS_EXACT, JCS_INTEGRAL, _integral_floats_as_ints, jcs_float_mode
from identity.keys import KeyPair, multibase_encode
from identity.proofs import PROOF_TYPE, add_proof, get_suite

__all__ = ["FootprintCredentialSigner"]

_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER  # integers beyond 2^53 raise: general path
_CONTEXT = [CREDENTIALS_V2, PCF_CONTEXT]
_TYPES = ["VerifiableCredential", CREDENTIAL_TYPE]
_PURPOSE = "assertionMethod"
# Stored JSON up to this size cannot exceed the node or string limits (a value takes at
# least one byte); larger documents go through the general limits walk.
_RAW_MAX = min(MAX_NODES, MAX_STRING) // 2
_BELOW_4_BYTE_UTF8 = bytes(range(0xF0))  # deleted by translate(): what is left starts a non-BMP char


def _jcs_ready(document: dict[str, Any]) -> bool:
    """Make a freshly parsed document's JCS bytes orjson's: integral floats become ints
    (RFC 8785 writes 2.0 as 2), in place. False (general path) for a float RFC 8785 writes otherwise
    (exponents, 2^53 and beyond) or nesting that could reach the depth limit.

    Level by level, as `identity.canon.limits_mode` (strings and node counts need no
    check: the stored text is shorter than their limits)."""
    level: list[Any] = [document]
    depth = 2  # the footprint's place in the credential
    while level:
        if depth >= MAX_DEPTH - 1:
            return False
        deeper: list[Any] = []
        push = deeper.append
        for container in level:
            for k, v in (container.items() if container.__class__ is dict else enumerate(container)):
                vc = v.__class__
                if vc is dict or vc is list:
                    push(v)
                elif vc is float:
                    mode = jcs_float_mode(v)
                    if mode == JCS_INTEGRAL:
                        container[k] = int(v)
                    elif mode != JCS_EXACT:
                        return False
        level = deeper
        depth += 1
    return True


def _xsd(second: int) -> str:
    return datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dumps(document: Any) -> bytes:
    """Compact JSON as the PACT host serves documents (``connector.dataplane.signing.dumps``)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class FootprintCredentialSigner:
    """Signs PACT footprints as `ProductFootprintCredential`s with a JCS cryptosuite.

    `sign` is the general path (a credential dict); `render` gives the serialised credential
    and takes the fast path where it is provably identical. Picklable (the key travels as
    its raw secret), so it can run in a process pool."""

    def __init__(self, key: KeyPair, issuer: str, verification_method: str, *,
                 cryptosuite: str = "eddsa-jcs-2022") -> None:
        self.key, self.issuer, self.verification_method = key, issuer, verification_method
        self.suite = get_suite(cryptosuite)
        self.suite.check_key_type(key.key_type)
        self._digest = hashlib.sha384 if self.suite.hash_name(key.key_type) == "sha384" else hashlib.sha256
        self._sign_bytes = key.cryptography_key().sign if key.key_type == "Ed25519" else key.sign
        self._per_second: tuple[int, bytes, bytes, bytes] = (-1, b"", b"", b"")
        self.fast = self.suite.canonicalization == "jcs" and self._fast_path_holds()
        if self.fast:
            q = _dumps
            # JCS of the unsecured credential (keys sorted), around its variable parts
            self._jcs = (
                b'{"@context":' + q(_CONTEXT) + b',"credentialSubject":{"id":"',  # subject id
                b'","pactVersion":"',  # pact version
                b'","productFootprint":',  # JCS(footprint)
                b',"type":' + q(SUBJECT_TYPE) + b'},"id":"',  # credential id
                b'","issuer":' + q(issuer) + b',"type":' + q(_TYPES) + b',"validFrom":"',  # validFrom
                b'"}',
            )
            # the served credential, members in the general path's order
            self._out = (
                b'{"@context":' + q(_CONTEXT) + b',"id":"',  # credential id
                b'","type":' + q(_TYPES) + b',"issuer":' + q(issuer) + b',"validFrom":"',  # validFrom
                b'","credentialSubject":{"id":"',  # subject id
                b'","type":' + q(SUBJECT_TYPE) + b',"pactVersion":"',  # pact version
                b'","productFootprint":',  # footprint as served
                # },"proof":{..."created":"<created>","verificationMethod":...,"proofValue":"<value>"}}
            )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.key.key_type, self.key.secret_raw(), self.issuer, self.verification_method,
                           self.suite.name))

    # ---- general path ----------------------------------------------------------------

    def sign(self, footprint: dict[str, Any], *, at: int | None = None) -> dict[str, Any]:
        """The signed credential through ``footprint_credential`` and ``add_proof``; ``at``:
        the Unix second for validFrom and created (now by default)."""
        stamp = _xsd(int(time.time()) if at is None else at)
        credential = footprint_credential(footprint, self.issuer, valid_from=stamp)
        return add_proof(credential, self.key, verification_method=self.verification_method,
                         cryptosuite=self.suite.name, proof_purpose=_PURPOSE, created=stamp)

    def _fast_path_holds(self) -> bool:
        """Whether the envelope is JCS-exact and passes the general checks (terms, limits)."""
        if not isinstance(self.issuer, str) or not isinstance(self.verification_method, str):
            return False
        sample = {"id": "00000000-0000-4000-8000-000000000000", "specVersion": "2.3.0", "version": 1}
        try:
            signed = self.sign(sample, at=0)
        except Exception:  # noqa: BLE001 - whatever the general path refuses, it keeps handling
            return False
        try:
            return limits_mode(signed) == JCS_EXACT and orjson.dumps(signed) == _dumps(signed)
        except (orjson.JSONEncodeError, ValueError):
            return False

    # ---- fast path -------------------------------------------------------------------

    def render(self, footprint: dict[str, Any] | bytes, *, at: int | None = None) -> bytes:
        """The signed credential for ``footprint``, serialised as the PACT host serves it.

        ``footprint``: a footprint dict, or the stored JSON bytes of one (served as they are,
        parsed only to canonicalise them). Byte-identical to compact JSON of `sign` (for
        bytes: of `sign` of the parsed document, with the footprint as given)."""
        if self.fast:
            if footprint.__class__ is bytes:
                fp, canonical = self._canonical_from_json(footprint)  # type: ignore[arg-type]
                served = footprint
            else:
                fp, canonical, served = footprint, self._canonical_from_dict(footprint), None  # type: ignore[assignment]
            if canonical is not None:
                try:
                    credential_id, subject_id = credential_ids(fp, self.issuer)
                except (ValueError, UnicodeError):
                    pass  # the general path raises it
                else:
                    return self._assemble(credential_id, subject_id, pact_version(fp), canonical,
                                          served if served is not None else orjson.dumps(fp), at)
        if footprint.__class__ is bytes:
            footprint = json.loads(footprint)
        return _dumps(self.sign(footprint, at=at))  # type: ignore[arg-type]

    def _canonical_from_dict(self, fp: dict[str, Any]) -> bytes | None:
        """JCS(fp) through orjson when its limits mode allows, else None."""
        if fp.__class__ is not dict:
            return None
        try:
            mode = limits_mode(fp, max_depth=MAX_DEPTH - 2, max_nodes=MAX_NODES - 64)
            if mode == JCS_EXACT:
                canonical = orjson.dumps(fp, option=_SORTED)
            elif mode == JCS_INTEGRAL:
                canonical = orjson.dumps(_integral_floats_as_ints(fp), option=_SORTED)
            else:
                return None
        except (ValueError, TypeError, orjson.JSONEncodeError):  # limits (DocumentLimitError), surrogates
            return None
        return canonical

    def _canonical_from_json(self, raw: bytes) -> tuple[Any, bytes | None]:
        """(the footprint, its JCS bytes), or (None, None) for the general path."""
        if len(raw) > _RAW_MAX:
            return None, None
        try:
            fp = orjson.loads(raw)
            if fp.__class__ is not dict or not _plain_ids(fp) or not _jcs_ready(fp):
                return None, None
            canonical = orjson.dumps(fp, option=_SORTED)
        except (orjson.JSONDecodeError, orjson.JSONEncodeError):
            return None, None
        if canonical.translate(None, _BELOW_4_BYTE_UTF8):
            return None, None  # a character outside the BMP: keys might sort differently
        return fp, canonical

    def _assemble(self, credential_id: str, subject_id: str, pact: str, canonical: bytes, served: bytes,
                  at: int | None) -> bytes:
        second = int(time.time()) if at is None else at
        parts = self._per_second  # one tuple, read once: consistent under threads
        if parts[0] != second:
            parts = self._per_second = self._proof_parts(second)
        _, stamp, config_hash, proof_head = parts
        j = self._jcs
        cid, sid, ver = credential_id.encode(), subject_id.encode(), pact.encode()
        document = b"".join((j[0], sid, j[1], ver, j[2], canonical, j[3], cid, j[4], stamp, j[5]))
        signature = self._sign_bytes(config_hash + self._digest(document).digest())
        o = self._out
        return b"".join((o[0], cid, o[1], stamp, o[2], sid, o[3], ver, o[4], served, proof_head,
                         multibase_encode(signature).encode(), b'"}}'))

    def _proof_parts(self, second: int) -> tuple[int, bytes, bytes, bytes]:
        """(second, created, hash of the proof configuration, the served proof up to its value):
        the configuration is the same for every credential signed in that second."""
        created = _xsd(second)
        config = {"type": PROOF_TYPE, "cryptosuite": self.suite.name, "created": created,
                  "verificationMethod": self.verification_method, "proofPurpose": _PURPOSE, "@context": _CONTEXT}
        config_hash = self._digest(self.suite.canonicalize(config, self.key.key_type)).digest()
        proof = {"@context": _CONTEXT, **{k: v for k, v in config.items() if k != "@context"}, "proofValue": ""}
        head = b'},"proof":' + _dumps(proof)[:-2]  # up to and including the value's opening quote
        return second, created.encode(), config_hash, head


def _plain_ids(fp: dict[str, Any]) -> bool:
    """The members the credential's ids read with ``str()`` are strings or true integers
    (an integral float read back as an int would change ``str(version)``)."""
    for name in ("version", "specVersion"):
        value = fp.get(name)
        if value is not None and value.__class__ is not str and value.__class__ is not int:
            return False
    return True


def _rebuild(key_type: str, secret: bytes, issuer: str, vm: str, suite: str) -> FootprintCredentialSigner:
    return FootprintCredentialSigner(KeyPair.from_raw(key_type, secret), issuer, vm,  # type: ignore[arg-type]
                                     cryptosuite=suite)

