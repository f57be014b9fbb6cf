"""did:key (W3C CCG did:key v0.7) for Ed25519, P-256 and P-384, resolved locally.

The method-specific id is the key's Multikey value, so the DID document is derived, never
fetched: one verification method `did:key:z...#z...` in every relationship but keyAgreement.
"""

from __future__ import annotations

from identity.did.document import DID_CONTEXT, MULTIKEY_CONTEXT, DidDocument, VerificationMethod, split_did_url
from identity.did.errors import DidError
from identity.keys import KeyError_, PublicKey


def did_key_from_public(key: PublicKey) -> str:
    return f"did:key:{key.multibase()}"


def did_key_vm_id(key: PublicKey) -> str:
    mb = key.multibase()
    return f"did:key:{mb}#{mb}"


def public_key_from_did_key(did: str) -> PublicKey:
    base, fragment = split_did_url(did)
    method, _, msid = base.partition(":")[2].partition(":")
    if method != "key":
        raise DidError(f"{did} is not a did:key")
    try:
        key = PublicKey.from_multibase(msid)
    except KeyError_ as exc:
        raise DidError(f"{did} does not encode a supported key: {exc}") from exc
    if fragment is not None and fragment != msid:
        raise DidError(f"{did}: fragment must repeat the key ({msid}), got {fragment!r}")
    return key


def did_key_document(did: str) -> DidDocument:
    base, _ = split_did_url(did)
    key = public_key_from_did_key(base)
    vm_id = did_key_vm_id(key)
    vm = VerificationMethod(id=vm_id, type="Multikey", controller=base, publicKeyMultibase=key.multibase())
    return DidDocument(
        context=[DID_CONTEXT, MULTIKEY_CONTEXT],
        id=base,
        verificationMethod=[vm],
        authentication=[vm_id],
        assertionMethod=[vm_id],
        capabilityInvocation=[vm_id],
        capabilityDelegation=[vm_id],
    )
