"""Sending PACT events to partners: token from their ``/auth/token``, POST to their
``/2|3/events``, bounded retries with exponential backoff.

Events go only to partners configured here (never to an arbitrary ``source`` URL a
caller puts in an event), so the host cannot be used to make requests elsewhere.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote_plus, urlsplit

import aiohttp

from .cloudevents import CONTENT_TYPE
from .errors import ApiVersion

log = logging.getLogger(__name__)


def basic_authorization(client_id: str, client_secret: str) -> str:
    """RFC 6749 2.3.1 client_secret_basic: form-encode id and secret, then HTTP Basic."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode("utf-8")
    return "Basic " + base64.b64encode(pair).decode("ascii")


@dataclass(frozen=True)
class Partner:
    """A PACT partner we send events to, with the client credentials it gave us."""

    name: str
    base_url: str  # the partner's PACT API root; events go to {base_url}/{2|3}/events
    client_id: str | None = None
    client_secret: str | None = None
    token_url: str | None = None  # default {base_url}/auth/token; unused without credentials
    subscribed: frozenset[str] = frozenset()  # API versions to send Published events for
    client_ids: frozenset[str] = frozenset()  # our clients that act for this partner

    def events_url(self, version: ApiVersion) -> str:
        return f"{self.base_url.rstrip('/')}/{version}/events"

    def token_endpoint(self) -> str:
        return self.token_url or f"{self.base_url.rstrip('/')}/auth/token"

    def origin(self) -> tuple[str, str]:
        parts = urlsplit(self.base_url)
        return parts.scheme.lower(), parts.netloc.lower()


class PartnerDirectory(Protocol):
    def for_request(self, source: str, subject: str) -> Partner | None:
        """The partner to answer a RequestCreated event from ``source`` sent by ``subject``."""
        ...

    def subscribers(self, version: ApiVersion) -> Iterable[Partner]:
        """Partners to notify with Published events for this API version."""
        ...


class StaticPartners:
    """Partners from configuration. A request is answered to the partner whose client id
    sent it, else to the partner whose base URL has the origin of the event's ``source``."""

    def __init__(self, partners: Iterable[Partner] = ()) -> None:
        self._partners = list(partners)

    def add(self, partner: Partner) -> None:
        self._partners.append(partner)

    def for_request(self, source: str, subject: str) -> Partner | None:
        for partner in self._partners:
            if subject in partner.client_ids:
                return partner
        parts = urlsplit(source if "://" in source or source.startswith("//") else f"//{source}")
        for partner in self._partners:
            scheme, netloc = partner.origin()
            if parts.netloc.lower() == netloc and parts.scheme.lower() in ("", scheme):
                return partner
        return None

    def subscribers(self, version: ApiVersion) -> Iterable[Partner]:
        return [p for p in self._partners if version in p.subscribed]


@dataclass
class DeliveryResult:
    partner: str
    event_id: str
    delivered: bool
    attempts: int
    status: int | None = None
    reason: str = ""


class DeliveryError(Exception):
    def __init__(self, reason: str, *, retry: bool, status: int | None = None) -> None:
        super().__init__(reason)
        self.retry, self.status = retry, status


@dataclass
class EventSender:
    """Delivers events with an OAuth2 client-credentials token per partner (cached)."""

    session: aiohttp.ClientSession
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    timeout: aiohttp.ClientTimeout = field(default_factory=lambda: aiohttp.ClientTimeout(total=15, connect=5))
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)

    async def _token(self, partner: Partner, *, fresh: bool = False) -> str | None:
        if not partner.client_id or partner.client_secret is None:
            return None
        cached = self._tokens.get(partner.name)
        if cached and not fresh and cached[1] > time.monotonic():
            return cached[0]
        try:
            async with self.session.post(
                partner.token_endpoint(),
                data={"grant_type": "client_credentials"},
                headers={"Authorization": basic_authorization(partner.client_id, partner.client_secret)},
                timeout=self.timeout,
                allow_redirects=False,
            ) as resp:
                text = await resp.text()
                if resp.status != 200:
                    retry = resp.status >= 500 or resp.status == 429
                    raise DeliveryError(f"token endpoint answered {resp.status}: {text[:200]}", retry=retry, status=resp.status)
                body = json.loads(text)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise DeliveryError(f"token endpoint unreachable: {exc!r}", retry=True) from None
        except ValueError:
            raise DeliveryError("token endpoint did not answer JSON", retry=True) from None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise DeliveryError("token endpoint answer has no access_token", retry=False)
        expires_in = body.get("expires_in", 300)
        lifetime = float(expires_in) if isinstance(expires_in, (int, float)) else 300.0
        self._tokens[partner.name] = (token, time.monotonic() + max(0.0, lifetime - 30))
        return token

    async def _post(self, partner: Partner, version: ApiVersion, payload: bytes, *, fresh: bool) -> int:
        token = await self._token(partner, fresh=fresh)
        headers = {"Content-Type": f"{CONTENT_TYPE}; charset=UTF-8"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            async with self.session.post(
                partner.events_url(version), data=payload, headers=headers, timeout=self.timeout, allow_redirects=False
            ) as resp:
                await resp.read()
                return resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise DeliveryError(f"events endpoint unreachable: {exc!r}", retry=True) from None

    async def deliver(self, partner: Partner, version: ApiVersion, event: dict[str, Any]) -> DeliveryResult:
        payload = json.dumps(event, ensure_ascii=False).encode("utf-8")
        fresh = False
        reason, status = "", None
        for attempt in range(1, self.attempts + 1):
            try:
                status = await self._post(partner, version, payload, fresh=fresh)
                if 200 <= status < 300:
                    log.info("event %s delivered to %s (attempt %d)", event["id"], partner.name, attempt)
                    return DeliveryResult(partner.name, event["id"], True, attempt, status)
                reason = f"events endpoint answered {status}"
                if status == 401 and not fresh:
                    fresh = True  # our token may have expired early: fetch a new one, retry now
                    continue
                if status < 500 and status not in (408, 429):
                    break  # the partner rejects this event; repeating it will not help
            except DeliveryError as exc:
                reason, status = str(exc), exc.status
                if not exc.retry:
                    break
            if attempt < self.attempts:
                delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
                await asyncio.sleep(delay * (0.5 + random.random() / 2))
        log.warning("event %s to %s not delivered: %s", event["id"], partner.name, reason)
        return DeliveryResult(partner.name, event["id"], False, attempt, status, reason)
