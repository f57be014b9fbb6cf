"""A PACT footprint wrapped as a Verifiable Credential (`ProductFootprintCredential`).

The footprint travels inside `credentialSubject.productFootprint` as a JSON literal
(`@type: @json` in our pinned context). That keeps the PACT document byte-for-byte what the
PACT spec defines (its `id` is a bare UUID and its field names are not JSON-LD terms), while
RDFC canonicalises the literal with JCS: changing any field of the footprint, defined in some
vocabulary or not, changes the signed statement.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime, timezone
from typing import Any

CREDENTIALS_V2 = "https://www.w3.org/ns/credentials/v2"
PCF_CONTEXT = "https://w3id.org/kakehashi/pcf/v1"
CREDENTIAL_TYPE = "ProductFootprintCredential"
SUBJECT_TYPE = "ProductFootprint"
_ID_NAMESPACE = uuid.UUID("6f1d5f1e-0b7c-4d43-9a0e-6b616b656861")
_ID_NAMESPACE_BYTES = _ID_NAMESPACE.bytes
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def pact_version(footprint: dict[str, Any]) -> str:
    """`3.0` for v3 footprints (specVersion 3.x), else `2.3` (v2.x footprints)."""
    spec = str(footprint.get("specVersion", ""))
    return "3.0" if spec.startswith("3") else "2.3"


def credential_ids(footprint: dict[str, Any], issuer: str) -> tuple[str, str]:
    """(credential id, subject id) for `footprint`: ``urn:uuid:`` + the UUIDv5 of issuer, footprint
    id and version, and ``urn:uuid:`` + the footprint's id in canonical UUID form.

    Equal to ``uuid.uuid5`` / ``uuid.UUID`` (tested), without building UUID objects: this
    runs once per credential signed on the fly."""
    if not isinstance(footprint, dict) or not isinstance(footprint.get("id"), str):
        raise ValueError("a PACT footprint must be a JSON object with a string 'id'")
    pf_id = footprint["id"]
    if _CANONICAL_UUID.fullmatch(pf_id):
        subject_id = "urn:uuid:" + pf_id
    else:
        try:
            subject_id = f"urn:uuid:{uuid.UUID(pf_id)}"
        except ValueError:
            raise ValueError(f"footprint id {pf_id!r} is not a UUID as PACT requires") from None
    version = str(footprint.get("version", footprint.get("specVersion", "")))
    name = f"{issuer}|{pf_id}|{version}".encode("utf-8")
    digest = bytearray(hashlib.sha1(_ID_NAMESPACE_BYTES + name).digest()[:16])  # RFC 4122 4.3, as uuid.uuid5
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}", subject_id


def footprint_credential(
    footprint: dict[str, Any],
    issuer: str,
    *,
    valid_from: str | None = None,
    valid_until: str | None = None,
    credential_status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An unsigned credential for `footprint`; its id is stable per footprint id and version
    so a re-issued signature for the same footprint version names the same credential."""
    credential_id, subject_id = credential_ids(footprint, issuer)
    credential: dict[str, Any] = {
        "@context": [CREDENTIALS_V2, PCF_CONTEXT],
        "id": credential_id,
        "type": ["VerifiableCredential", CREDENTIAL_TYPE],
        "issuer": issuer,
        "validFrom": valid_from or _now(),
        "credentialSubject": {
            "id": subject_id,
            "type": SUBJECT_TYPE,
            "pactVersion": pact_version(footprint),
            "productFootprint": footprint,
        },
    }
    if valid_until:
        credential["validUntil"] = valid_until
    if credential_status:
        credential["credentialStatus"] = credential_status
    return credential


def is_footprint_credential(document: dict[str, Any]) -> bool:
    types = document.get("type", [])
    types = [types] if isinstance(types, str) else types
    return isinstance(types, list) and CREDENTIAL_TYPE in types


def extract_footprint(credential: dict[str, Any]) -> dict[str, Any] | None:
    """The PACT footprint a credential carries, or None when it carries none."""
    subject = credential.get("credentialSubject")
    if isinstance(subject, list) and len(subject) == 1:
        subject = subject[0]
    if isinstance(subject, dict) and isinstance(subject.get("productFootprint"), dict):
        return subject["productFootprint"]
    return None
