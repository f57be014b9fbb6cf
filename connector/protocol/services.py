"""The control plane of one connector: every long-lived object, built and closed together."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from identity.keys import KeyPair

from ..auth import Authenticator
from ..config import Settings
from ..store import Store, open_store
from .catalog import CatalogService
from .client import DspClient
from .edr import EdrTokens
from .events import EventNotifier
from .negotiations import NegotiationManager
from .outbox import OutboxSender
from .recovery import Recovery
from .transfers import TransferManager

DSP_PATH = "/api/dsp"
#: Seconds between sweeps for orphaned outbox rows (default 15; tests shorten it).
RECOVERY_INTERVAL_ENV = "KAKEHASHI_RECOVERY_INTERVAL_S"
DATAPLANE_PATH = "/api/public"


@dataclass
class ControlPlane:
    settings: Settings
    store: Store
    authenticator: Authenticator
    client: DspClient
    catalog: CatalogService
    negotiations: NegotiationManager
    transfers: TransferManager
    outbox: OutboxSender
    events: EventNotifier
    tokens: EdrTokens
    recovery: Recovery

    async def start(self) -> None:
        # Leases held under our replica id belong to a previous run of this very replica that
        # was killed: take that work back now instead of waiting for the leases to expire.
        owner = self.settings.replica_id
        for repo in (self.store.outbox, self.store.negotiations, self.store.transfers):
            await repo.release_all(owner)
        self.outbox.start()
        await self.recovery.sweep()
        self.recovery.start()

    async def stop(self) -> None:
        await self.recovery.stop()
        await self.outbox.stop()
        await self.events.close()

    async def store_ready(self) -> None:
        if not await self.store.ping():
            raise RuntimeError("database not reachable")


def default_authenticator(settings: Settings) -> Authenticator:
    """DCP 1.0 (`connector.dcp_auth`): the one way connectors prove who they are."""
    from .. import dcp_auth

    return dcp_auth.from_settings(settings)


def _recovery_interval() -> float:
    raw = os.environ.get(RECOVERY_INTERVAL_ENV, "")
    try:
        return max(0.2, float(raw)) if raw else 15.0
    except ValueError:
        return 15.0


@asynccontextmanager
async def build_control_plane(settings: Settings, *, authenticator: Authenticator | None = None,
                              store: Store | None = None, metrics: Any = None) -> AsyncIterator[ControlPlane]:
    auth = authenticator or default_authenticator(settings)
    key = KeyPair.load(settings.key_file)
    own_store = store is None
    the_store = store if store is not None else await open_store(settings.database)
    connector = aiohttp.TCPConnector(limit=200, limit_per_host=100)
    session = aiohttp.ClientSession(connector=connector)
    try:
        protocol_url = settings.base_url + DSP_PATH
        client = DspClient(session, auth)
        on_outcome = (lambda o: metrics.outbox.labels(o).inc()) if metrics is not None else None
        on_transition = (lambda p, s: metrics.transitions.labels(p, s).inc()) if metrics is not None else (
            lambda p, s: None)
        sender = OutboxSender(the_store, client, settings.replica_id, on_outcome=on_outcome)
        events = EventNotifier(session)
        catalog = CatalogService(the_store, settings.participant_id, protocol_url)
        tokens = EdrTokens(key, settings.participant_id, the_store)
        negotiations = NegotiationManager(the_store, participant_id=settings.participant_id, protocol_url=protocol_url,
                                          catalog=catalog, outbox=sender, events=events, on_transition=on_transition)
        transfers = TransferManager(the_store, participant_id=settings.participant_id, protocol_url=protocol_url,
                                    dataplane_url=settings.base_url + DATAPLANE_PATH, tokens=tokens, outbox=sender,
                                    events=events, on_transition=on_transition)
        negotiations.after_finalized = transfers.start_pull  # POST /v3/edrs: negotiate, then pull
        yield ControlPlane(settings, the_store, auth, client, catalog, negotiations, transfers, sender, events,
                           tokens, Recovery(sender, interval_s=_recovery_interval()))
    finally:
        await session.close()
        if own_store:
            await the_store.close()
