"""Outgoing DSP calls: one `ClientSession` per connector, explicit timeouts, auth headers.

The client only moves bytes and classifies failures; retries and ordering belong to the
outbox (`connector.protocol.outbox`), which persists what must eventually be delivered.
Synchronous calls (catalog, dataset, version discovery) are retried here a few times because
nothing is persisted for them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from ..auth import Authenticator
from ..dsp.errors import ProtocolError
from ..dsp.messages import VersionResponse, parse

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=10, connect=3, sock_read=8)
WELL_KNOWN = "/.well-known/dspace-version"
MAX_RESPONSE_BYTES = 8 * 1024 * 1024


class PeerError(Exception):
    """A peer could not be reached or refused a message.

    ``retryable`` is true for network failures, timeouts and 5xx/429 answers, where trying
    again later may succeed; a 4xx answer is the peer's final word (``body`` holds its error).
    """

    def __init__(self, reason: str, *, status: int | None = None, body: Any = None, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.body = body
        self.retryable = retryable

    def peer_reasons(self) -> list[str]:
        """The reasons the peer gave in its error body, as readable strings."""
        if isinstance(self.body, dict):
            raw = self.body.get("reason") or self.body.get("dspace:reason") or []
            items = raw if isinstance(raw, list) else [raw]
            out = [i if isinstance(i, str) else json.dumps(i, ensure_ascii=False) for i in items]
            if out:
                return out
        return [self.reason]


@dataclass(frozen=True)
class PeerResponse:
    status: int
    body: Any


class DspClient:
    """Sends DSP messages to peers on behalf of one connector."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        authenticator: Authenticator,
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    ) -> None:
        self.session = session
        self.authenticator = authenticator
        self.timeout = timeout
        self._bases: dict[str, str] = {}

    async def _headers(self, audience: str) -> dict[str, str]:
        return {
            "Authorization": await self.authenticator.outgoing_authorization(audience),
            "Content-Type": "application/json",
        }

    async def request(self, method: str, url: str, audience: str, body: Any = None) -> PeerResponse:
        """One HTTP exchange; raises PeerError for anything but a 2xx answer."""
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            async with self.session.request(
                method, url, data=data, headers=await self._headers(audience), timeout=self.timeout,
                allow_redirects=False,
            ) as resp:
                raw = await resp.content.read(MAX_RESPONSE_BYTES + 1)
                status = resp.status
        except asyncio.TimeoutError:
            raise PeerError(f"{method} {url}: timed out", retryable=True) from None
        except aiohttp.ClientError as exc:
            raise PeerError(f"{method} {url}: {type(exc).__name__}: {exc}", retryable=True) from None
        if len(raw) > MAX_RESPONSE_BYTES:
            raise PeerError(f"{method} {url}: response larger than {MAX_RESPONSE_BYTES} bytes", status=status,
                            retryable=False)
        parsed: Any = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw[:500].decode("utf-8", "replace")
        if 200 <= status < 300:
            return PeerResponse(status, parsed)
        retryable = status >= 500 or status in (408, 429)
        detail = ""
        if isinstance(parsed, dict) and parsed.get("reason"):
            detail = f": {parsed.get('reason')}"
        raise PeerError(f"{method} {url}: HTTP {status}{detail}", status=status, body=parsed, retryable=retryable)

    async def post(self, url: str, audience: str, message: dict[str, Any]) -> PeerResponse:
        return await self.request("POST", url, audience, message)

    async def call_with_retry(self, method: str, url: str, audience: str, body: Any = None, *,
                              attempts: int = 3, first_delay: float = 0.2) -> PeerResponse:
        """For unpersisted request/response calls (catalog): a few quick retries."""
        delay = first_delay
        for attempt in range(1, attempts + 1):
            try:
                return await self.request(method, url, audience, body)
            except PeerError as exc:
                if not exc.retryable or attempt == attempts:
                    raise
                log.info("retrying %s %s after %s", method, url, exc.reason)
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    async def protocol_base(self, address: str) -> str:
        """The DSP 2025-1 base URL of a peer, discovered from its `/.well-known/dspace-version`.

        ``address`` is either the peer's root URL or an already-known protocol base; the answer
        is cached per address. If the peer publishes no version document we use ``address``.
        """
        address = address.rstrip("/")
        if address in self._bases:
            return self._bases[address]
        parts = urlsplit(address)
        root = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        base = address
        for candidate in (root + WELL_KNOWN, address + WELL_KNOWN):
            try:
                async with self.session.get(candidate, timeout=self.timeout, allow_redirects=False) as resp:
                    if resp.status != 200:
                        continue
                    doc = await resp.json(content_type=None)
                versions = parse(doc, VersionResponse)
                path = versions.path_for("2025-1") if isinstance(versions, VersionResponse) else None
                if path:
                    base = path if path.startswith("http") else root + "/" + path.lstrip("/")
                    break
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                log.info("version discovery at %s failed: %s", candidate, exc)
            except ProtocolError as exc:  # a malformed version document from a peer
                log.info("version document at %s unusable: %s", candidate, exc)
        base = base.rstrip("/")
        self._bases[address] = base
        return base
