"""Opaque, HMAC-signed pagination cursors.

A cursor carries everything needed to continue a listing (API version, the filter, the
last id served, the page size) so a pagination link works on any replica that shares the
key, can be called more than once, and cannot be forged to widen a query. Links stay
valid for ``ttl`` seconds (the spec asks for at least 180).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass
from typing import Any

from .errors import bad_request

MIN_TTL_S = 180
MAX_CURSOR_LENGTH = 8192
MAX_CACHED_CURSORS = 4096


@dataclass(frozen=True)
class Cursor:
    version: str
    after: str
    limit: int
    query: Any  # v2: the $filter text; v3: list of [name, value] pairs
    fmt: str = "json"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    def __init__(self, key: bytes | None = None, *, ttl: float = 3600.0) -> None:
        if ttl < MIN_TTL_S:
            raise ValueError(f"pagination links must stay valid for at least {MIN_TTL_S} s, got {ttl}")
        self._key = key or os.urandom(32)
        self.ttl = ttl
        # links served again and again (a busy first pages, pollers): the encoded cursor per
        # (cursor, expiry second) and the checked cursor per token; both bounded, both
        # holding only what the full code path produced or accepted
        self._encoded: dict[tuple[Any, ...], str] = {}
        self._decoded: dict[str, tuple[Cursor, float]] = {}

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:16]

    def encode(self, cursor: Cursor, *, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + self.ttl)
        query = cursor.query
        key = None
        if query.__class__ is str:
            key = (cursor.version, cursor.after, cursor.limit, query, cursor.fmt, expires)
            if (hit := self._encoded.get(key)) is not None:
                return hit
        body = [cursor.version, cursor.after, cursor.limit, query, cursor.fmt, expires]
        payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        token = f"{_b64(payload)}.{_b64(self._mac(payload))}"
        if key is not None:
            if len(self._encoded) >= MAX_CACHED_CURSORS:
                self._encoded.clear()
            self._encoded[key] = token
        return token

    def decode(self, token: str, *, version: str, now: float | None = None) -> Cursor:
        """The cursor in ``token``; BadRequest when forged, damaged, expired or for another version."""
        hit = self._decoded.get(token)
        if hit is not None and (now if now is not None else time.time()) <= hit[1] and hit[0].version == version:
            return hit[0]
        if len(token) > MAX_CURSOR_LENGTH or token.count(".") != 1:
            raise bad_request("pagination cursor is malformed")
        head, tag = token.split(".")
        try:
            payload, mac = _unb64(head), _unb64(tag)
        except (ValueError, TypeError):
            raise bad_request("pagination cursor is malformed") from None
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise bad_request("pagination cursor was not issued by this host (bad signature)")
        try:
            cur_version, after, limit, query, fmt, expires = json.loads(payload)
        except (ValueError, TypeError):
            raise bad_request("pagination cursor is malformed") from None
        if (now if now is not None else time.time()) > expires:
            raise bad_request("pagination link has expired; start the listing again")
        if cur_version != version:
            raise bad_request(f"pagination cursor belongs to the v{cur_version} API, not v{version}")
        cursor = Cursor(cur_version, after, int(limit), query, fmt)
        if query.__class__ is str and expires.__class__ in (int, float):  # immutable: safe to share
            if len(self._decoded) >= MAX_CACHED_CURSORS:
                del self._decoded[next(iter(self._decoded))]
            self._decoded[token] = (cursor, expires)
        return cursor
