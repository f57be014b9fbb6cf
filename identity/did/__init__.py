"""DIDs: did:key and did:web documents, the did:web URL mapping, and a bounded resolver."""

from identity.did.did_key import did_key_document, did_key_from_public, did_key_vm_id, public_key_from_did_key
from identity.did.did_web import (
    credential_service,
    data_service,
    did_web_document,
    did_web_from_url,
    did_web_to_url,
    service,
    verification_method_for,
)
from identity.did.document import DidDocument, Relationship, Service, VerificationMethod, split_did_url
from identity.did.errors import DidError, DidResolutionError
from identity.did.resolver import DidResolver, load_did_bundle, parse_did_bundle, resolve_verification_method

__all__ = [
    "DidDocument", "DidError", "DidResolutionError", "DidResolver", "Relationship", "Service",
    "VerificationMethod", "credential_service", "data_service", "did_key_document", "did_key_from_public",
    "did_key_vm_id", "did_web_document", "did_web_from_url", "did_web_to_url", "load_did_bundle",
    "parse_did_bundle", "public_key_from_did_key", "resolve_verification_method", "service",
    "split_did_url", "verification_method_for",
]
