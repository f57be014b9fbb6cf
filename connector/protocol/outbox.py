"""Delivers queued protocol messages: at once when they are queued, with backoff when the
peer is down, and after a restart from whatever a crash left behind.

Messages are written by the process managers in the same transaction as the state change
that caused them (`connector.store` outbox), so nothing is lost between "decided" and
"sent". A message that heads its process's queue is written already leased to this replica
(`OutboxSender.enqueue`), and `dispatch()` — called right after the commit — sends it from a
task at once: no scan, no polling, no second write to claim it. After the peer's ACK, what
the ACK taught us is recorded (`DeliveryHooks.delivered`: an idempotent write of its own, e.g.
the providerPid, committed first — after a crash the message is resent and the same ACK
records the same thing), then one statement or transaction marks the message sent and claims
the next queued message of the same process, if any, by process id (`claim_head`), which is
then sent. Scans (`drain`) are only for start-up, retry timers and the recovery
sweep (rows a crashed replica left behind). Leases on the rows keep two replicas from sending
the same message; per-process ordering comes from the store, which only hands out the head of
each process's queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from ..logs import bound
from ..store import ConcurrentUpdate, OutboxMessage, Store, utcnow
from ..store.outbox import backoff_delay
from .client import DspClient, PeerError, PeerResponse

log = logging.getLogger(__name__)

LEASE_SECONDS = 20.0
BATCH = 64
MAX_ATTEMPTS = 14  # ~ 0.5 s doubling to a 30 s cap: about 4 minutes of retries


#: Rows queued by the transaction running in this task, for `dispatch` after its commit.
_queued: ContextVar[list[OutboxMessage] | None] = ContextVar("kakehashi_outbox_queued", default=None)
_FINISH_RETRIES = 5


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

    async def delivered(self, tx: Store, row: OutboxMessage, envelope: Envelope, response: PeerResponse) -> None:
        """The peer accepted the message (e.g. learn its providerPid from the ACK). Runs on the
        root store just before the message is marked sent, so what it writes must be idempotent
        (the same ACK may come again after a crash in between)."""

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
        """Scan for due messages now (start-up, retries, recovery; not the normal path)."""
        self._wake.set()

    # ------------------------------------------------------------------ the event-driven path

    @contextmanager
    def collecting(self) -> Iterator[list[OutboxMessage]]:
        """Collect the rows `enqueue` writes in this task, to `dispatch` them after commit."""
        rows: list[OutboxMessage] = []
        token = _queued.set(rows)
        try:
            yield rows
        finally:
            _queued.reset(token)

    async def enqueue(self, tx: Store, message: OutboxMessage) -> OutboxMessage:
        """Queue ``message`` inside ``tx``, leased to us when it heads its process's queue."""
        row = await tx.outbox.enqueue(message, claim_for=self.owner, lease_seconds=LEASE_SECONDS)
        rows = _queued.get()
        if rows is not None:
            rows.append(row)
        return row

    def dispatch(self, rows: list[OutboxMessage]) -> None:
        """After the commit that queued ``rows``: send the ones leased to us now; for the
        others, try to claim their process's head (the message before them may have been
        marked sent while we were committing)."""
        if self._stopping:
            return
        follow: dict[str, None] = {}
        for row in rows:
            if row.lease_owner == self.owner:
                self._spawn(self._deliver(row))
            else:
                follow[row.process_id] = None
        for process_id in follow:
            self._spawn(self._follow(process_id))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _follow(self, process_id: str) -> None:
        """Send the next queued message of one process (and, after it, the ones behind it)."""
        try:
            if self._stopping:
                return
            row = await self.store.outbox.claim_head(process_id, self.owner, LEASE_SECONDS)
            if row is not None:
                await self._deliver(row)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sending the next message of %s failed; the scan will retry", process_id)
            self.wake_at(utcnow() + timedelta(seconds=1))

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
                self._spawn(self._deliver(row))
                started += 1

    async def _deliver(self, row: OutboxMessage, *, follow: bool = True) -> bool:
        """Send one leased message; True if it was delivered. With ``follow``, go on with
        the process's next queued message afterwards (claimed in the transaction that marks
        this one sent)."""
        envelope = Envelope.from_json(row.payload)
        hooks = self.hooks[envelope.process_kind]
        with bound(processId=row.process_id, messageType=envelope.message.get("@type")):
            try:
                rendered = await hooks.render(row, envelope)
                if rendered is None:
                    await self.store.outbox.cancel_for_process(row.process_id, "process no longer needs it")
                    return False
                url, message = rendered
                response = await self.client.post(url, envelope.audience, message)
            except PeerError as exc:
                await self._failed(row, envelope, hooks, exc)
                return False
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("sending outbox message %s failed", row.id)
                await self._failed(row, envelope, hooks, PeerError(f"local error: {exc}", retryable=True))
                return False
            following = await self._finish(row, envelope, hooks, response, claim_next=follow)
            self._on_outcome("sent")
        if following is not None:
            await self._deliver(following)
        return True

    async def _finish(self, row: OutboxMessage, envelope: Envelope, hooks: DeliveryHooks,
                      response: PeerResponse, *, claim_next: bool = False) -> OutboxMessage | None:
        """Learn from the ACK (committed first: idempotent), then mark the message sent and, with
        ``claim_next``, lease the process's next queued message (returned, to be sent now). The
        process learns before its next message may go out (that one waits until this one is SENT)."""
        for attempt in range(_FINISH_RETRIES):
            try:
                await hooks.delivered(self.store, row, envelope, response)
                break
            except ConcurrentUpdate:
                if attempt == _FINISH_RETRIES - 1:
                    log.warning("could not record what the ACK of %s said; marking it sent anyway", row.id)
        for attempt in range(_FINISH_RETRIES):
            try:
                async with self.store.transaction() as tx:
                    if claim_next and not self._stopping:
                        _, following = await tx.outbox.mark_sent_and_claim_next(
                            row.id, row.process_id, self.owner, LEASE_SECONDS, last=True)  # nothing follows
                        return following
                    await tx.outbox.mark_sent(row.id, self.owner)
                return None
            except ConcurrentUpdate:
                continue
        return None

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

