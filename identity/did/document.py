"""DID documents (DID Core 1.0) as pydantic models, and key look-up by verification relationship.

Only the parts a connector needs are modelled; unknown members are kept so a document
round-trips unchanged. Relative ids (`#key-1`) are made absolute against the document id,
because DSP/DCP peers use both forms.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from identity.did.errors import DidError
from identity.keys import KeyError_, PublicKey

DID_CONTEXT = "https://www.w3.org/ns/did/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"
JWK_CONTEXT = "https://w3id.org/security/jwk/v1"

Relationship = Literal[
    "authentication", "assertionMethod", "capabilityInvocation", "capabilityDelegation", "keyAgreement"
]
RELATIONSHIPS: tuple[Relationship, ...] = (
    "authentication",
    "assertionMethod",
    "capabilityInvocation",
    "capabilityDelegation",
    "keyAgreement",
)


def split_did_url(did_url: str) -> tuple[str, str | None]:
    """`did:web:x#key-1` -> (`did:web:x`, `key-1`); rejects anything that is not a DID URL."""
    if not isinstance(did_url, str) or not did_url.startswith("did:"):
        raise DidError(f"{did_url!r} is not a DID or DID URL (must start with 'did:')")
    did, _, fragment = did_url.partition("#")
    did = did.split("?", 1)[0]
    parts = did.split(":", 2)
    if len(parts) < 3 or not parts[1] or not parts[2]:
        raise DidError(f"{did_url!r} is not a DID: expected did:<method>:<id>")
    if not parts[1].isalnum() or not parts[1].islower():
        raise DidError(f"{did_url!r} has an invalid DID method name {parts[1]!r}")
    return did, (fragment or None)


class VerificationMethod(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str
    type: str
    controller: str
    publicKeyMultibase: str | None = None
    publicKeyJwk: dict[str, Any] | None = None

    def public_key(self) -> PublicKey:
        """Decode the key material; the type decides the encoding, so a mismatch is an error."""
        try:
            if self.type in ("Multikey", "Ed25519VerificationKey2020"):
                if self.publicKeyMultibase is None:
                    raise DidError(f"verification method {self.id} of type {self.type} has no publicKeyMultibase")
                key = PublicKey.from_multibase(self.publicKeyMultibase)
                if self.type == "Ed25519VerificationKey2020" and key.key_type != "Ed25519":
                    raise DidError(f"verification method {self.id} is Ed25519VerificationKey2020 but holds a {key.key_type} key")
                return key
            if self.type in ("JsonWebKey", "JsonWebKey2020"):
                if self.publicKeyJwk is None:
                    raise DidError(f"verification method {self.id} of type {self.type} has no publicKeyJwk")
                if "d" in self.publicKeyJwk:
                    raise DidError(f"verification method {self.id} publishes a private key ('d' in publicKeyJwk)")
                return PublicKey.from_jwk(self.publicKeyJwk)
        except KeyError_ as exc:
            raise DidError(f"verification method {self.id} has an unusable key: {exc}") from exc
        raise DidError(f"verification method {self.id} has unsupported type {self.type!r}")


class Service(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str
    type: str | list[str]
    serviceEndpoint: str | dict[str, Any] | list[Any]


class DidDocument(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    context: str | list[str | dict[str, Any]] = Field(default=DID_CONTEXT, alias="@context")
    id: str
    controller: str | list[str] | None = None
    alsoKnownAs: list[str] | None = None
    verificationMethod: list[VerificationMethod] = Field(default_factory=list)
    authentication: list[str | VerificationMethod] = Field(default_factory=list)
    assertionMethod: list[str | VerificationMethod] = Field(default_factory=list)
    capabilityInvocation: list[str | VerificationMethod] = Field(default_factory=list)
    capabilityDelegation: list[str | VerificationMethod] = Field(default_factory=list)
    keyAgreement: list[str | VerificationMethod] = Field(default_factory=list)
    service: list[Service] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id_is_did(cls, value: str) -> str:
        did, fragment = split_did_url(value)
        if fragment is not None or did != value:
            raise ValueError("document id must be a plain DID without path, query or fragment")
        return value

    @classmethod
    def parse(cls, data: object, *, expected_id: str | None = None) -> DidDocument:
        """Validate a JSON value as a DID document, with errors naming the first bad member."""
        if not isinstance(data, dict):
            raise DidError(f"DID document must be a JSON object, got {type(data).__name__}")
        try:
            doc = cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "document"
            raise DidError(f"invalid DID document: {where}: {first['msg']}") from None
        if expected_id is not None and doc.id != expected_id:
            raise DidError(f"DID document id {doc.id!r} does not match the requested DID {expected_id!r}")
        return doc

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(by_alias=True, exclude_none=True)
        for key in (*RELATIONSHIPS, "service", "verificationMethod"):
            if data.get(key) == []:
                del data[key]
        return data

    # -- look-ups ---------------------------------------------------------------------
    def absolute(self, ref: str) -> str:
        return self.id + ref if ref.startswith("#") else ref

    def _methods_by_id(self) -> dict[str, VerificationMethod]:
        found: dict[str, VerificationMethod] = {}
        for vm in self.verificationMethod:
            found[self.absolute(vm.id)] = vm
        for rel in RELATIONSHIPS:
            for entry in getattr(self, rel):
                if isinstance(entry, VerificationMethod):
                    found[self.absolute(entry.id)] = entry
        return found

    def relationship_ids(self, relationship: Relationship) -> list[str]:
        entries = getattr(self, relationship)
        return [self.absolute(e if isinstance(e, str) else e.id) for e in entries]

    def verification_method(self, vm_id: str, relationship: Relationship | None = None) -> VerificationMethod:
        """The method `vm_id` of this document, checked to be authorised for `relationship`."""
        vm_id = self.absolute(vm_id)
        did, fragment = split_did_url(vm_id)
        if did != self.id or fragment is None:
            raise DidError(f"verification method {vm_id} does not belong to {self.id}")
        vm = self._methods_by_id().get(vm_id)
        if vm is None:
            raise DidError(f"DID document {self.id} has no verification method {vm_id}")
        if self.absolute(vm.controller) != self.id and vm.controller not in self._controllers():
            raise DidError(f"verification method {vm_id} is controlled by {vm.controller}, not {self.id}")
        if relationship is not None and vm_id not in self.relationship_ids(relationship):
            raise DidError(f"verification method {vm_id} is not listed under {relationship} in {self.id}")
        return vm

    def _controllers(self) -> list[str]:
        if self.controller is None:
            return []
        return [self.controller] if isinstance(self.controller, str) else list(self.controller)

    def public_key(self, vm_id: str, relationship: Relationship | None = None) -> PublicKey:
        return self.verification_method(vm_id, relationship).public_key()

    def services_of_type(self, service_type: str) -> list[Service]:
        return [
            s for s in self.service
            if s.type == service_type or (isinstance(s.type, list) and service_type in s.type)
        ]
