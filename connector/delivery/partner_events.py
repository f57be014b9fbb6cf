"""PACT events with the direct PACT partners of ``settings.pact_clients``.

A partner configured with ``events_base_url`` (and the credentials it issued to us for its
``/auth/token``) gets:

- answers to its ``RequestCreated`` events: the PACT host sends ``RequestFulfilled`` or
  ``RequestRejected`` to ``{events_base_url}/2|3/events`` with the partner's token, in the
  background, with bounded retries (the host's :class:`~connector.dataplane.EventSender`);
- ``Published`` notifications for the API versions it ``subscribe``\\ s to, when we publish
  or update footprints through the Management API (:class:`PublishedNotifier`).

Answers go only to the partner whose *client id* sent the request. ``StaticPartners`` would
also accept a partner whose URL has the origin of the event's ``source``; we do not, since
that would let one caller (another PACT client, or a connector with an EDR) have the
footprints *it* may read delivered to some other partner's endpoint.

A partner restricted to ``footprint_ids`` is only told about those footprints: ``Published``
events are sent partner by partner, each naming the ids that partner may read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from typing import Any

from aiohttp import web

from connector.config import PactClient, Settings
from connector.dataplane import Partner, PactHost, StaticPartners

log = logging.getLogger(__name__)

VERSIONS = ("2", "3")
#: The partner the ``Published`` event being sent goes to (None: every subscriber). Set
#: inside the task that sends to that partner, so nothing else sees it.
_AUDIENCE: ContextVar[str | None] = ContextVar("published_audience", default=None)


def partner_of(client: PactClient) -> Partner:
    """The event endpoint of a configured PACT client (it must have ``events_base_url``)."""
    if client.events_base_url is None:
        raise ValueError(f"PACT client {client.client_id!r} has no events_base_url")
    return Partner(
        name=client.client_id,
        base_url=client.events_base_url,
        client_id=client.partner_client_id,
        client_secret=client.partner_client_secret,
        token_url=client.partner_token_url,
        subscribed=frozenset(client.subscribe),
        client_ids=frozenset({client.client_id}),
    )


class ConfiguredPartners(StaticPartners):
    """The partners of ``pact_clients`` that receive events, found by the requesting client id."""

    def __init__(self, clients: Iterable[PactClient] = ()) -> None:
        senders = [c for c in clients if c.sends_events]
        partners = [partner_of(c) for c in senders]
        super().__init__(partners)
        self._by_client = {p.name: p for p in partners}
        self._readable = {c.client_id: frozenset(c.footprint_ids) if c.footprint_ids is not None else None
                          for c in senders}

    @classmethod
    def from_settings(cls, settings: Settings) -> "ConfiguredPartners":
        return cls(settings.pact_clients)

    def for_request(self, source: str, subject: str) -> Partner | None:
        return self._by_client.get(subject)

    def subscribers(self, version: Any) -> list[Partner]:
        audience = _AUDIENCE.get()
        return [p for p in super().subscribers(version) if audience is None or p.name == audience]

    def audiences(self, footprint_ids: Sequence[str]) -> list[tuple[str, list[str]]]:
        """(partner name, the ids of ``footprint_ids`` it may read) for each subscriber that
        may read any of them. Each gets its own event anyway, so one send per partner costs
        nothing more and lets each outcome be known (and logged) as soon as it is."""
        out = []
        names = {p.name for version in VERSIONS for p in StaticPartners.subscribers(self, version)}
        for name in sorted(names):
            readable = self._readable.get(name)
            visible = [i for i in footprint_ids if readable is None or i in readable]
            if visible:
                out.append((name, visible))
        return out


class PublishedNotifier:
    """Sends ``Published`` events for footprints we published, in the background.

    :meth:`notify` returns at once and never raises: a publish through the Management API
    must not fail, or wait, because a partner is slow or down. Each delivery is retried by
    the host (bounded attempts, exponential backoff) and its outcome logged; the tasks are
    the host's, so they end with it and ``PactHost.drain()`` waits for them."""

    def __init__(self, host: PactHost, partners: ConfiguredPartners) -> None:
        self.host, self.partners = host, partners

    def notify(self, footprint_ids: Iterable[str]) -> asyncio.Task[Any] | None:
        ids: list[str] = []
        try:
            ids = list(dict.fromkeys(footprint_ids))
            if not ids or not self.partners.audiences(ids):
                return None
            return self.host.spawn(self.send(ids))
        except Exception:  # noqa: BLE001 - notifying is best effort; the publish has succeeded
            log.exception("could not schedule Published events for %d footprint(s)", len(ids))
            return None

    async def send(self, footprint_ids: Sequence[str]) -> list[Any]:
        """Send now (to every subscriber concurrently) and return the delivery results."""

        async def to_partner(name: str, ids: list[str]) -> list[Any]:
            _AUDIENCE.set(name)  # this task's own context: other requests are unaffected
            results = list(await self.host.publish(ids))
            if not results:
                log.warning("Published event for %d footprint(s) not sent to %s: the PACT host is not running",
                            len(ids), name)
            for r in results:
                if r.delivered:
                    log.info("Published event %s (%d footprint(s)) delivered to %s after %d attempt(s)",
                             r.event_id, len(ids), r.partner, r.attempts)
                else:
                    log.warning("Published event %s (%d footprint(s)) NOT delivered to %s after %d attempt(s): %s",
                                r.event_id, len(ids), r.partner, r.attempts, r.reason)
            return results

        audiences = self.partners.audiences(footprint_ids)
        batches = await asyncio.gather(*(to_partner(name, ids) for name, ids in audiences), return_exceptions=True)
        results: list[Any] = []
        for (name, _), batch in zip(audiences, batches):
            if isinstance(batch, asyncio.CancelledError):
                raise batch
            if isinstance(batch, BaseException):  # logged, never propagated to the publisher
                log.error("Published event to %s failed: %r", name, batch, exc_info=batch)
            else:
                results.extend(batch)
        return results


PUBLISHED_NOTIFIER = web.AppKey("published_notifier", PublishedNotifier)


def notify_published(app: Any, footprint_ids: Iterable[str]) -> None:
    """Tell subscribed partners about these footprints (``app``: the root app or a
    request's ``config_dict``); does nothing when the PACT host is not mounted."""
    notifier = app.get(PUBLISHED_NOTIFIER)
    if notifier is not None:
        notifier.notify(footprint_ids)
