"""Publishing our own footprints: validate, keep as PACT v2.3, sign once, store.

The store's published footprints are the PACT host's source of truth in v2.3 (v3 is
mapped on the way out), so a v3.0 footprint is mapped to v2.3 on the way in. A batch is
all or nothing: one invalid footprint and nothing is published, with every reason named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connector.audit import credential_sha256
from connector.footprints import MappingError, to_v2, validate_footprint
from connector.footprints.validation import FootprintError
from connector.store import Footprint
from connector.store.footprints import PUBLISHED

from .signing import FootprintSigner
from .status_lists import footprint_status_entry

MAX_BATCH = 1000


class PublishError(ValueError):
    """The batch is refused; ``reasons`` names each footprint (by index and id) and rule."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def footprints_of(body: Any) -> list[Any]:
    """One footprint, a list of them, or ``{"footprints": [...]}``."""
    if isinstance(body, dict) and isinstance(body.get("footprints"), list):
        return list(body["footprints"])
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        return [body]
    raise PublishError([f"expected a PACT footprint object or a list of them, got {type(body).__name__}"])


def prepare(items: Sequence[Any]) -> list[dict[str, Any]]:
    """The batch as valid PACT v2.3 footprints, or PublishError with every problem."""
    if not items:
        raise PublishError(["no footprints given"])
    if len(items) > MAX_BATCH:
        raise PublishError([f"at most {MAX_BATCH} footprints per request, got {len(items)}"])
    out: list[dict[str, Any]] = []
    reasons: list[str] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        where = f"footprints[{i}]" + (f" ({item.get('id')})" if isinstance(item, dict) and isinstance(item.get("id"), str) else "")
        check = validate_footprint(item)
        if not check.ok:
            reasons.append(f"{where}: " + "; ".join(check.errors[:10]))
            continue
        footprint = dict(item)
        if check.version == "3.0":
            try:
                footprint = to_v2(footprint, version=1)
            except (MappingError, FootprintError) as exc:
                reasons.append(f"{where}: cannot keep as PACT 2.3: {exc}")
                continue
        if footprint["id"] in seen:
            reasons.append(f"{where}: the id appears twice in this request")
            continue
        seen.add(footprint["id"])
        out.append(footprint)
    if reasons:
        raise PublishError(reasons)
    return out


@dataclass
class Published:
    published: list[str]
    kept_newer: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"published": self.published, "keptNewer": self.kept_newer}


async def publish(store: Any, signer: FootprintSigner, footprints: Sequence[dict[str, Any]], *,
                  status_base: str | None = None) -> Published:
    """Sign and store each footprint; one already stored in a newer version is kept.

    ``status_base``: our base URL, when credentials carry a revocation entry in our status
    list (:mod:`.status_lists`); an id and version that was revoked cannot be published again
    (the batch is refused before anything is stored: publish a new version instead)."""
    if status_base is not None:
        revoked = [f"{fp['id']} version {_version(fp)}" for fp in footprints
                   if (entry := await store.footprint_status.get(fp["id"], _version(fp))) is not None and entry.revoked]
        if revoked:
            raise PublishError([f"{what} was revoked; publish it with a higher version" for what in revoked])
    result = Published([], [])
    for footprint in footprints:
        version = _version(footprint)
        status = None
        if status_base is not None:
            entry = await store.footprint_status.allocate(footprint["id"], version)
            status = footprint_status_entry(status_base, entry.list_id, entry.index)
        credential = signer.sign(footprint, status)
        record = Footprint(id=footprint["id"], direction=PUBLISHED, version=version, credential=credential,
                           sha256=credential_sha256(credential), status=str(footprint.get("status") or "Active"))
        (result.published if await store.footprints.save(record) else result.kept_newer).append(footprint["id"])
    return result


def _version(footprint: dict[str, Any]) -> int:
    version = footprint.get("version")
    return version if isinstance(version, int) and not isinstance(version, bool) else 0
