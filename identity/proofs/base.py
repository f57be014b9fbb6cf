"""The cryptosuite interface and the two transformation families (JCS, RDFC) it is built from.

A Data Integrity cryptosuite is: transform the document and the proof configuration to
canonical bytes, hash each, concatenate hash(proof config) || hash(document), sign.
Suites differ only in the canonicalisation, the hash and the signature scheme, so each suite
module is a few lines naming those three choices.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from identity.canon import jcs_defined, rdfc
from identity.errors import CanonicalizationError, ProofError
from identity.keys import KeyPair, PublicKey

HashName = Literal["sha256", "sha384"]


class Cryptosuite(Protocol):
    """What `identity.proofs` needs from one cryptosuite."""

    name: str
    key_types: tuple[str, ...]
    #: True when the proof configuration (and the stored proof) carries the document's @context.
    proof_carries_context: bool

    def hash_name(self, key_type: str) -> HashName: ...

    def canonicalize(self, document: dict[str, Any], key_type: str, *, mode: int | None = None) -> bytes: ...

    def hash_data(
        self, document: dict[str, Any], proof_config: dict[str, Any], key_type: str, *, mode: int | None = None
    ) -> bytes: ...

    def sign(self, data: bytes, key: KeyPair) -> bytes: ...

    def verify(self, data: bytes, signature: bytes, key: PublicKey) -> bool: ...


_SIG_LEN = {"Ed25519": 64, "P-256": 64, "P-384": 96}


@dataclass(frozen=True)
class Suite:
    """A cryptosuite defined by its canonicalisation and the key types it accepts."""

    name: str
    canonicalization: Literal["jcs", "rdfc"]
    key_types: tuple[str, ...]

    @property
    def proof_carries_context(self) -> bool:
        return self.canonicalization == "jcs"

    def check_key_type(self, key_type: str) -> None:
        if key_type not in self.key_types:
            raise ProofError(
                f"{self.name} needs a {' or '.join(self.key_types)} key, not {key_type}"
            )

    def hash_name(self, key_type: str) -> HashName:
        self.check_key_type(key_type)
        return "sha384" if key_type == "P-384" else "sha256"

    def canonicalize(self, document: dict[str, Any], key_type: str, *, mode: int | None = None) -> bytes:
        """Canonical bytes; `mode`: the `identity.canon.limits_mode` of `document` or of a
        document containing it, when its limits have already been checked."""
        if self.canonicalization == "jcs":
            # JCS signs JSON, not RDF, but a term no context defines must still be refused:
            # other verifiers read the document as JSON-LD and would not see it.
            return jcs_defined(document, mode=mode)
        try:
            return rdfc(document, hash=self.hash_name(key_type), mode=mode).encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate in some string
            raise CanonicalizationError(f"RDFC-1.0 canonicalisation failed: {exc}") from exc

    def hash_data(
        self, document: dict[str, Any], proof_config: dict[str, Any], key_type: str, *, mode: int | None = None
    ) -> bytes:
        """hash(canonical proof config) || hash(canonical document); `mode` as for
        `canonicalize`, valid for both (the proof configuration holds only strings besides
        values taken from the document)."""
        digest = hashlib.sha384 if self.hash_name(key_type) == "sha384" else hashlib.sha256
        return digest(self.canonicalize(proof_config, key_type, mode=mode)).digest() + digest(
            self.canonicalize(document, key_type, mode=mode)
        ).digest()

    def sign(self, data: bytes, key: KeyPair) -> bytes:
        self.check_key_type(key.key_type)
        return key.sign(data)

    def verify(self, data: bytes, signature: bytes, key: PublicKey) -> bool:
        self.check_key_type(key.key_type)
        expected = _SIG_LEN[key.key_type]
        if len(signature) != expected:
            raise ProofError(
                f"{self.name} {key.key_type} signature must be {expected} bytes, got {len(signature)}"
            )
        return key.verify(signature, data)
