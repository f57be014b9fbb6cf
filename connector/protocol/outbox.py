"""Delivers queued protocol messages: at once when they are queued, with backoff when the
peer is down, and after a restart from whatever a crash left behind.

Messages are written by the process managers in the same transaction as the state change
that caused them (`connector.store` outbox), so nothing is lost between "decided" and
"sent". This sender is woken by `kick()` right after such a commit — no polling in the
critical path — and otherwise by a timer set for the next retry. Leases on the rows keep two
replicas from sending the same message; per-process ordering comes from the store, which
only hands out the head of each process's queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from ..logs import bound
from ..store import OutboxMessage, Store, utcnow
from ..store.outbox import backoff_delay
from .client import DspClient, PeerError, PeerResponse

log = logging.getLogger(__name__)

LEASE_SECONDS = 20.0
BATCH = 64
MAX_ATTEMPTS = 14  # ~ 0.5 s doubling to a 30 s cap: about 4 minutes of retries


def retry_delay(attempts: int) -> float:
    return backoff_delay(attempts, base=0.25, cap=30.0)


@dataclass(frozen=True)
class Envelope:
    """What the outbox row's payload holds: the message plus how to address it."""

    process_kind: str  # "negotiation" | "transfer"
    audience: str  # the peer's DID
    message: dict[str, Any]
    path: str  # relative to the peer address; may contain {consumerPid} / {providerPid}

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.process_kind, "audience": self.audience, "message": self.message, "path": self.path}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Envelope:
        return cls(data["kind"], data["audience"], data["message"], data["path"])


class DeliveryHooks(Protocol):
    async def render(self, row: OutboxMessage, envelope: Envelope) -> tuple[str, dict[str, Any]] | None:
        """Final URL and message (pids filled in from the current process), or None to drop it."""

    async def delivered(self, row: OutboxMessage, envelope: Envelope, response: PeerResponse) -> None:
        """The peer accepted the message (e.g. learn its providerPid from the ACK)."""

    async def rejected(self, row: OutboxMessage, envelope: Envelope, error: PeerError) -> None:
        """The peer refused the message for good, or retries ran out."""


class OutboxSender:
    def __init__(self, store: Store, client: DspClient, owner: str, *,
                 on_outcome: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.client = client
        self.owner = owner
        self.hooks: dict[str, DeliveryHooks] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._timers: list[asyncio.TimerHandle] = []
        self._on_outcome = on_outcome or (lambda outcome: None)
        self._stopping = False

    def kick(self) -> None:
        """Something was queued or became sendable: look for due messages now."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-{self.owner}")
        self.kick()

    async def stop(self) -> None:
        self._stopping = True
        for timer in self._timers:
            timer.cancel()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=5)
            for task in self._inflight:
                task.cancel()

    def wake_at(self, when: datetime) -> None:
        delay = max(0.0, (when - utcnow()).total_seconds())
        loop = asyncio.get_running_loop()
        self._timers = [t for t in self._timers if not t.cancelled() and t.when() > loop.time()]
        self._timers.append(loop.call_later(delay + 0.01, self.kick))

    async def _run(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database hiccuped: try again shortly, keep the loop alive
                log.exception("outbox drain failed; retrying in 1 s")
                self.wake_at(utcnow() + timedelta(seconds=1))

    async def drain(self) -> int:
        """Lease and start sending every due message; returns how many were started."""
        started = 0
        while True:
            batch = await self.store.outbox.lease_due(self.owner, BATCH, LEASE_SECONDS)
            if not batch:
                return started
            for row in batch:
                task = asyncio.create_task(self._deliver(row))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
                started += 1

    async def _deliver(self, row: OutboxMessage) -> None:
        envelope = Envelope.from_json(row.payload)
        hooks = self.hooks[envelope.process_kind]
        with bound(processId=row.process_id, messageType=envelope.message.get("@type")):
            try:
                rendered = await hooks.render(row, envelope)
                if rendered is None:
                    await self.store.outbox.cancel_for_process(row.process_id, "process no longer needs it")
                    return
                url, message = rendered
                response = await self.client.post(url, envelope.audience, message)
            except PeerError as exc:
                await self._failed(row, envelope, hooks, exc)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("sending outbox message %s failed", row.id)
                await self._failed(row, envelope, hooks, PeerError(f"local error: {exc}", retryable=True))
                return
            # Let the process learn from the ACK before its next message may go out.
            try:
                await hooks.delivered(row, envelope, response)
            finally:
                await self.store.outbox.mark_sent(row.id, self.owner)
                self._on_outcome("sent")
                self.kick()

    async def _failed(self, row: OutboxMessage, envelope: Envelope, hooks: DeliveryHooks, exc: PeerError) -> None:
        if exc.retryable:
            updated = await self.store.outbox.mark_failed(row.id, self.owner, exc.reason, max_attempts=MAX_ATTEMPTS,
                                                          delay=retry_delay)
            if updated is not None and updated.status == "PENDING":
                log.info("delivery failed, retry %d at %s: %s", updated.attempts, updated.next_attempt_at, exc.reason)
                self._on_outcome("retry")
                self.wake_at(updated.next_attempt_at)
                return
            self._on_outcome("dead")
        else:
            await self.store.outbox.mark_failed(row.id, self.owner, exc.reason, max_attempts=1, delay=retry_delay)
            self._on_outcome("rejected")
        log.warning("peer refused or never took the message: %s", exc.reason)
        await hooks.rejected(row, envelope, exc)
        self.kick()

