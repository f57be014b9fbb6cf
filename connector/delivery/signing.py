"""Our footprints as ProductFootprintCredentials, signed with the connector's DID key.

A footprint is signed once, when it is published, and the credential is what the store
keeps: every later delivery serves those same bytes, so the hash in the provider's audit
log and the one in the consumer's log name one credential. The PACT host asks the
signer for each footprint it renders as a VC; :class:`FootprintSigner` answers from the
credentials it has seen the store hand out (:meth:`unwrap`) and signs only what it has
not (v3 renderings, footprints stored unsigned), which the host then caches, or, with
its VC cache off, signs again on every request: through the byte-level path of
:mod:`identity.footprint_signing` (same credential bytes, a fraction of the work).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from connector.dataplane.signing import dumps
from connector.identity_commands import sign_footprint
from identity.footprint_credential import extract_footprint, is_footprint_credential
from identity.footprint_signing import FootprintCredentialSigner
from identity.keys import KeyPair

SUITE_FOR_KEY = {"Ed25519": "eddsa-jcs-2022", "P-256": "ecdsa-jcs-2019", "P-384": "ecdsa-jcs-2019"}
KEY_FRAGMENT = "key-1"  # the fragment our did:web document gives the DID key (credential_service)


def verification_method(did: str) -> str:
    return f"{did}#{KEY_FRAGMENT}"


class FootprintSigner:
    """``signer(footprint) -> credential`` for ``create_pact_app``, plus publish-time signing."""

    def __init__(self, key: KeyPair, did: str, *, suite: str | None = None, remember: int = 20_000) -> None:
        self.key, self.did = key, did
        self.suite = suite or SUITE_FOR_KEY.get(key.key_type, "eddsa-jcs-2022")
        self.vm = verification_method(did)
        self._known: OrderedDict[str, tuple[dict[str, Any], dict[str, Any]]] = OrderedDict()
        self._remember = remember
        self._fast = FootprintCredentialSigner(key, did, self.vm, cryptosuite=self.suite)

    def __reduce__(self) -> tuple[Any, ...]:
        """Picklable for a signing process pool: the key travels as its raw secret; the
        remembered credentials stay behind (a worker signs what it is sent)."""
        return (_rebuild, (self.key.key_type, self.key.secret_raw(), self.did, self.suite, self._remember))

    def sign(self, footprint: dict[str, Any], credential_status: dict[str, Any] | None = None) -> dict[str, Any]:
        """A fresh credential for ``footprint`` (issuer: our DID, proof: our DID key), with
        ``credential_status`` as its revocation entry when given."""
        return sign_footprint(footprint, self.key, did=self.did, suite=self.suite, verification_method=self.vm,
                              credential_status=credential_status)

    def _stored_status(self, footprint: dict[str, Any]) -> dict[str, Any] | None:
        """The revocation entry of our stored credential for this footprint id, if :meth:`unwrap`
        saw one: a rendering signed on the fly (v3) is revoked together with it."""
        known = self._known.get(str(footprint.get("id")))
        status = known[1].get("credentialStatus") if known is not None else None
        return status if isinstance(status, dict) else None

    def is_ours(self, credential: dict[str, Any]) -> bool:
        proofs = credential.get("proof")
        proofs = proofs if isinstance(proofs, list) else [proofs]
        return credential.get("issuer") == self.did and any(
            isinstance(p, dict) and p.get("verificationMethod") == self.vm for p in proofs)

    def unwrap(self, document: dict[str, Any]) -> dict[str, Any]:
        """The PACT footprint of a stored document (``StoreFootprintSource(unwrap=...)``),
        remembering our own credential for it so it is served instead of re-signed.
        A document without ``credentialSubject`` is returned as it is (see
        ``Entry.plain_bytes``)."""
        if not is_footprint_credential(document):
            return document
        footprint = extract_footprint(document)
        if footprint is None:
            return document
        if self.is_ours(document) and isinstance(footprint.get("id"), str):
            self._known[footprint["id"]] = (footprint, document)
            self._known.move_to_end(footprint["id"])
            while len(self._known) > self._remember:
                self._known.popitem(last=False)
        return footprint

    unwrap.keeps_plain = True  # type: ignore[attr-defined]

    def _known_credential(self, footprint: dict[str, Any]) -> dict[str, Any] | None:
        known = self._known.get(str(footprint.get("id")))
        if known is not None and (known[0] is footprint or known[0] == footprint):
            return known[1]
        return None

    def __call__(self, footprint: dict[str, Any]) -> dict[str, Any]:
        known = self._known_credential(footprint)
        return known if known is not None else self.sign(footprint, self._stored_status(footprint))

    def known_rendering(self, footprint: dict[str, Any]) -> bytes | None:
        """Our stored credential for ``footprint``, serialised, if :meth:`unwrap` saw one."""
        known = self._known_credential(footprint)
        return dumps(known) if known is not None else None

    def render(self, footprint: dict[str, Any] | bytes) -> bytes:
        """The serialised credential for ``footprint`` (a dict, or a stored plain footprint's
        JSON bytes) as the PACT host serves it: our stored credential when we have one,
        else signed now (``identity.footprint_signing``; equal to compact JSON of `sign`; through
        `sign` when our stored credential for the footprint has a revocation entry)."""
        if isinstance(footprint, dict):
            if (known := self._known_credential(footprint)) is not None:
                return dumps(known)
            if (status := self._stored_status(footprint)) is not None:
                return dumps(self.sign(footprint, status))  # the byte-level path has no status entry
        return self._fast.render(footprint)


def _rebuild(key_type: str, secret: bytes, did: str, suite: str, remember: int) -> FootprintSigner:
    return FootprintSigner(KeyPair.from_raw(key_type, secret), did, suite=suite, remember=remember)  # type: ignore[arg-type]
