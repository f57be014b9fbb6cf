"""W3C Bitstring Status List v1.0: status list credentials, allocation, revocation, checking.

The list is a bitstring (index 0 = most significant bit of the first byte), GZIP-compressed
and multibase base64url-encoded (`u` prefix) as `encodedList`. A checker trusts a list only
after verifying the list credential itself (proof, validity) and that its issuer is the
credential's issuer, and it decompresses with a hard output cap so a hostile list cannot
exhaust memory.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import secrets
import time
import zlib
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import aiohttp

from identity.credentials import (
    VC_V2_CONTEXT,
    CredentialVerification,
    build_credential,
    check_validity_period,
    verify_credential,
)
from identity.did.http import FetchError, fetch_json
from identity.did.resolver import DidResolver
from identity.errors import IdentityError

MIN_BITS = 131_072  # 16 KiB: the spec's minimum, for herd privacy
MAX_DECODED_BYTES = 16 * 1024 * 1024
PURPOSES = frozenset({"revocation", "suspension", "refresh", "message"})


class StatusError(IdentityError):
    """A status list or status entry is malformed, or its list cannot be trusted."""


def encode_bitstring(bits: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(gzip.compress(bytes(bits), mtime=0)).rstrip(b"=").decode("ascii")


def decode_bitstring(encoded: str, *, max_bytes: int = MAX_DECODED_BYTES) -> bytes:
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise StatusError("encodedList must be a multibase base64url string starting with 'u'")
    try:
        compressed = base64.b64decode(
            encoded[1:] + "=" * (-(len(encoded) - 1) % 4), altchars=b"-_", validate=True
        )
    except (ValueError, binascii.Error):
        raise StatusError("encodedList is not valid base64url") from None
    inflater = zlib.decompressobj(wbits=31)  # gzip container only
    try:
        data = inflater.decompress(compressed, max_bytes + 1)
    except zlib.error as exc:
        raise StatusError(f"encodedList is not GZIP data: {exc}") from None
    if len(data) > max_bytes or inflater.unconsumed_tail:
        raise StatusError(f"encodedList expands beyond {max_bytes} bytes")
    if not inflater.eof:
        raise StatusError("encodedList GZIP stream is truncated")
    return data


@dataclass
class StatusList:
    """A mutable bitstring with index allocation; the authority persists it via to_json/from_json."""

    bits: bytearray = field(default_factory=lambda: bytearray(MIN_BITS // 8))
    allocated: set[int] = field(default_factory=set)

    @classmethod
    def new(cls, length: int = MIN_BITS) -> StatusList:
        if length < MIN_BITS or length % 8:
            raise StatusError(f"a status list needs at least {MIN_BITS} entries, in whole bytes")
        return cls(bytearray(length // 8))

    @property
    def length(self) -> int:
        return len(self.bits) * 8

    def _check(self, index: int) -> None:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < self.length:
            raise StatusError(f"status index {index!r} is outside the list (0..{self.length - 1})")

    def get(self, index: int) -> bool:
        self._check(index)
        return bool(self.bits[index // 8] & (0x80 >> (index % 8)))

    def set(self, index: int, value: bool = True) -> None:
        self._check(index)
        if value:
            self.bits[index // 8] |= 0x80 >> (index % 8)
        else:
            self.bits[index // 8] &= ~(0x80 >> (index % 8)) & 0xFF

    def allocate(self) -> int:
        """A random unused index (random, not sequential, so indexes reveal nothing about order)."""
        if len(self.allocated) >= self.length:
            raise StatusError("status list is full")
        while True:
            index = secrets.randbelow(self.length)
            if index not in self.allocated:
                self.allocated.add(index)
                return index

    def encoded(self) -> str:
        return encode_bitstring(self.bits)

    @classmethod
    def from_encoded(cls, encoded: str) -> StatusList:
        return cls(bytearray(decode_bitstring(encoded)))

    def to_json(self) -> dict[str, Any]:
        return {"encodedList": self.encoded(), "allocated": sorted(self.allocated)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StatusList:
        lst = cls.from_encoded(data["encodedList"])
        lst.allocated = {int(i) for i in data.get("allocated", [])}
        return lst


def status_list_credential(
    *,
    list_url: str,
    issuer: str,
    status_list: StatusList,
    purpose: str = "revocation",
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    ttl_ms: int | None = None,
) -> dict[str, Any]:
    """An unsigned BitstringStatusListCredential; sign it like any credential."""
    if purpose not in PURPOSES:
        raise StatusError(f"unknown status purpose {purpose!r}; use one of {sorted(PURPOSES)}")
    subject: dict[str, Any] = {
        "id": f"{list_url}#list",
        "type": "BitstringStatusList",
        "statusPurpose": purpose,
        "encodedList": status_list.encoded(),
    }
    if ttl_ms is not None:
        subject["ttl"] = ttl_ms
    return build_credential(
        issuer=issuer, subject=subject, types=["BitstringStatusListCredential"], credential_id=list_url,
        valid_from=valid_from, valid_until=valid_until,
    )


def status_entry(list_url: str, index: int, purpose: str = "revocation") -> dict[str, Any]:
    """The `credentialStatus` entry pointing at `index` of the list credential `list_url`."""
    if purpose not in PURPOSES:
        raise StatusError(f"unknown status purpose {purpose!r}")
    return {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


# -- checking ---------------------------------------------------------------------------
@dataclass
class EntryStatus:
    """One BitstringStatusListEntry checked: `set` is the bit (revoked/suspended when true)."""

    purpose: str
    index: int | None
    list_url: str | None
    set: bool | None
    reason: str = ""


@dataclass
class StatusCheck:
    entries: list[EntryStatus] = field(default_factory=list)

    @property
    def ok(self) -> bool | None:
        """None: the credential has no status to check; False: revoked, suspended or unverifiable."""
        if not self.entries:
            return None
        for e in self.entries:
            if e.set is None:
                return False
            if e.set and e.purpose in ("revocation", "suspension"):
                return False
        return True

    @property
    def revoked(self) -> bool:
        return any(e.set and e.purpose == "revocation" for e in self.entries)

    @property
    def reason(self) -> str:
        return "; ".join(e.reason for e in self.entries if e.reason)


ListFetcher = Callable[[str], Awaitable[dict[str, Any] | str]]


class StatusListSource:
    """Where list credentials come from: a bundle (auditor, offline) and/or bounded HTTPS fetches,
    cached for the list's `ttl` (milliseconds) or `default_ttl` seconds."""

    def __init__(
        self,
        *,
        bundle: Mapping[str, dict[str, Any] | str] | None = None,
        offline: bool = False,
        allow_http_loopback: bool = False,
        timeout: float = 5.0,
        max_bytes: int = 1024 * 1024,
        default_ttl: float = 300.0,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bundle = dict(bundle or {})
        self.offline = offline
        self.allow_http_loopback = allow_http_loopback
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.default_ttl = default_ttl
        self._session = session
        self._own_session = False
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, Any] | str]] = {}
        # url -> (the list document verified, resolver, outcome, decoded bits per purpose)
        self._verified: dict[str, tuple[Any, Any, CredentialVerification, dict[str, bytes]]] = {}

    def add(self, url: str, credential: dict[str, Any] | str) -> None:
        self._bundle[url] = credential

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __call__(self, url: str) -> dict[str, Any] | str:
        if url in self._bundle:
            return self._bundle[url]
        hit = self._cache.get(url)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        if self.offline:
            raise StatusError(f"status list {url} is not in the offline bundle")
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        try:
            data = await fetch_json(
                self._session, url, timeout=self.timeout, max_bytes=self.max_bytes,
                allow_http_loopback=self.allow_http_loopback,
            )
        except FetchError as exc:
            raise StatusError(f"cannot fetch status list: {exc}") from None
        if not isinstance(data, dict):
            raise StatusError(f"status list {url} is not a JSON object")
        ttl = self.default_ttl
        subject = data.get("credentialSubject")
        if isinstance(subject, dict) and isinstance(subject.get("ttl"), int) and subject["ttl"] > 0:
            ttl = min(ttl, subject["ttl"] / 1000)
        self._cache[url] = (self._clock() + ttl, data)
        return data

    async def verified(self, url: str, resolver: DidResolver, now: datetime) -> CredentialVerification:
        """The list credential at `url`, fetched (cached for its TTL) and verified.

        A successful verification is remembered for the very document it checked: while the
        fetch cache hands out that same document (within its TTL), only its validity period
        is checked again; a re-fetched or changed list, or another resolver, is verified anew.
        """
        data = await self(url)
        hit = self._verified.get(url)
        if hit is not None and hit[0] is data and hit[1] is resolver:
            if check_validity_period(hit[2].credential or {}, now).ok:
                return hit[2]
        check = await verify_credential(data, resolver, now=now)
        if check.ok:
            self._verified[url] = (data, resolver, check, {})
        else:
            self._verified.pop(url, None)
        return check

    def bits(self, url: str, check: CredentialVerification, purpose: str) -> bytes:
        """The decoded bitstring of a list `verified` returned (decoded once per document)."""
        hit = self._verified.get(url)
        if hit is None or hit[2] is not check:
            return _list_bits(check.credential or {}, purpose, url)
        decoded = hit[3].get(purpose)
        if decoded is None:
            decoded = hit[3][purpose] = _list_bits(check.credential or {}, purpose, url)
        return decoded


def _parse_entry(entry: object) -> tuple[str, int, str]:
    if not isinstance(entry, dict):
        raise StatusError("credentialStatus entry must be an object")
    if entry.get("type") != "BitstringStatusListEntry":
        raise StatusError(f"unsupported credentialStatus type {entry.get('type')!r}")
    purpose = entry.get("statusPurpose")
    if purpose not in PURPOSES:
        raise StatusError(f"unknown statusPurpose {purpose!r}")
    size = entry.get("statusSize", 1)
    if size not in (1, "1"):
        raise StatusError(f"statusSize {size!r} is not supported (only 1-bit statuses)")
    raw_index = entry.get("statusListIndex")
    if isinstance(raw_index, bool) or not (
        isinstance(raw_index, int) or (isinstance(raw_index, str) and raw_index.isdigit() and len(raw_index) < 12)
    ):
        raise StatusError(f"statusListIndex {raw_index!r} is not a non-negative integer")
    url = entry.get("statusListCredential")
    if not isinstance(url, str) or ":" not in url:
        raise StatusError("statusListCredential must be a URL")
    return purpose, int(raw_index), url


def _list_bits(list_vc: dict[str, Any], purpose: str, url: str) -> bytes:
    if "BitstringStatusListCredential" not in (list_vc.get("type") or []):
        raise StatusError(f"{url} is not a BitstringStatusListCredential")
    if list_vc.get("id") not in (None, url):
        raise StatusError(f"status list credential id {list_vc.get('id')!r} differs from its URL {url}")
    subject = list_vc.get("credentialSubject")
    if not isinstance(subject, dict) or subject.get("type") != "BitstringStatusList":
        raise StatusError(f"{url} credentialSubject is not a BitstringStatusList")
    purposes = subject.get("statusPurpose")
    if purpose not in (purposes if isinstance(purposes, list) else [purposes]):
        raise StatusError(f"{url} is a {purposes!r} list, the entry asks for {purpose!r}")
    bits = decode_bitstring(subject.get("encodedList"))  # type: ignore[arg-type]
    if len(bits) * 8 < MIN_BITS:
        raise StatusError(f"{url} bitstring has {len(bits) * 8} entries, fewer than the required {MIN_BITS}")
    return bits


async def check_status(
    credential: dict[str, Any],
    resolver: DidResolver,
    fetch_list: ListFetcher,
    *,
    now: datetime | None = None,
    trusted_list_issuers: Collection[str] = (),
) -> StatusCheck:
    """Check every BitstringStatusListEntry of `credential` (the verified credential's JSON)."""
    now = now or datetime.now(timezone.utc)
    result = StatusCheck()
    raw = credential.get("credentialStatus")
    if raw is None:
        return result
    issuer = credential.get("issuer")
    issuer = issuer.get("id") if isinstance(issuer, dict) else issuer
    verified: dict[str, CredentialVerification] = {}
    source = fetch_list if isinstance(fetch_list, StatusListSource) else None
    for entry in raw if isinstance(raw, list) else [raw]:
        purpose = entry.get("statusPurpose", "?") if isinstance(entry, dict) else "?"
        try:
            purpose, index, url = _parse_entry(entry)
        except StatusError as exc:
            result.entries.append(EntryStatus(str(purpose), None, None, None, str(exc)))
            continue
        try:
            if url not in verified:
                if source is not None:
                    verified[url] = await source.verified(url, resolver, now)
                else:
                    verified[url] = await verify_credential(await fetch_list(url), resolver, now=now)
            check = verified[url]
            if not check.ok:
                raise StatusError(f"status list {url} does not verify: " + "; ".join(check.reasons))
            if check.issuer != issuer and check.issuer not in trusted_list_issuers:
                raise StatusError(f"status list {url} is issued by {check.issuer}, not by the credential issuer {issuer}")
            bits = source.bits(url, check, purpose) if source is not None else _list_bits(
                check.credential or {}, purpose, url)
            if index >= len(bits) * 8:
                raise StatusError(f"statusListIndex {index} is beyond the list's {len(bits) * 8} entries")
            is_set = bool(bits[index // 8] & (0x80 >> (index % 8)))
        except (StatusError, IdentityError) as exc:
            result.entries.append(EntryStatus(purpose, index, url, None, str(exc)))
            continue
        reason = f"{purpose} bit {index} is set in {url}" if is_set else ""
        result.entries.append(EntryStatus(purpose, index, url, is_set, reason))
    return result


__all__ = [
    "MIN_BITS", "EntryStatus", "StatusCheck", "StatusError", "StatusList", "StatusListSource", "VC_V2_CONTEXT",
    "check_status", "decode_bitstring", "encode_bitstring", "status_entry", "status_list_credential",
]
