"""What negotiations and transfers do alike: queue a message to the peer, run a step in a
retried transaction, find a process by the pid a peer names, address a queued message once
the pids are known, and remember the providerPid from the provider's ACK.

``repo`` below is the store's repository of the process kind (``tx.negotiations`` or
``tx.transfers``); ``noun`` is how messages name the process ("contract negotiation").
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from ..auth import PENDING_REPLAY, Caller
from ..dsp.errors import ProtocolError
from ..dsp.messages import DspMessage
from ..dsp.states import Role
from ..store import ConcurrentUpdate, OutboxMessage, Store
from .client import PeerResponse
from .outbox import Envelope, OutboxSender

CAS_RETRIES = 5
#: Notifications for other processes changed by the transaction running in this task (the EDR
#: flow's transfer, written with the negotiation), called once it has committed.
_AFTER_COMMIT: ContextVar[list[Callable[[], None]] | None] = ContextVar("kakehashi_after_commit", default=None)


def after_commit(notify: Callable[[], None]) -> None:
    """Call ``notify`` after the transaction of the running ``run_in_tx`` commits (never if it
    does not); outside one, at once."""
    pending = _AFTER_COMMIT.get()
    if pending is None:
        notify()
    else:
        pending.append(notify)


_PID_PLACEHOLDERS = ("{consumerPid}", "{providerPid}")


def new_pid() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


async def enqueue(outbox: OutboxSender, tx: Store, kind: str, rec: Any, message: DspMessage, path: str) -> None:
    """Queue ``message`` to the peer of ``rec`` at ``path`` (pids may still be placeholders)."""
    envelope = Envelope(kind, rec.counter_party_id, message.to_dict(), path)
    await outbox.enqueue(tx, OutboxMessage(id=new_pid(), process_id=rec.id,
                                           target_url=rec.counter_party_address, payload=envelope.to_json()))


async def run_in_tx(store: Store, outbox: OutboxSender, work: Callable[[Store], Awaitable[tuple[Any, str, Any]]],
                    *, what: str, changed: Callable[[Any], None]) -> Any:
    """Run ``work`` in a transaction, retried when a replica updated the row first.

    ``work`` returns (process or None, its state before, result). After the commit the queued
    messages are sent and, if the process changed state, ``changed(process)`` is called.
    """
    pending = PENDING_REPLAY.get()
    if pending is not None and pending.recorded:
        pending = None
    for attempt in range(CAS_RETRIES):
        notes: list[Callable[[], None]] = []
        token = _AFTER_COMMIT.set(notes)
        try:
            with outbox.collecting() as queued:
                async with store.transaction() as tx:
                    # The request's token id is recorded with the change it causes (one commit):
                    # a replayed token changes nothing.
                    if pending is not None and not await tx.replay.remember(pending.key, pending.expires_at):
                        raise ProtocolError(401, "Unauthorized", pending.reason)
                    rec, before, result = await work(tx)
        except ConcurrentUpdate:
            if attempt == CAS_RETRIES - 1:
                raise ProtocolError(409, "Conflict", f"the {what} changed concurrently; retry") from None
            continue
        finally:
            _AFTER_COMMIT.reset(token)
        if pending is not None:
            pending.recorded = True
        outbox.dispatch(queued)  # send what we queued, now that it is committed
        if rec is not None and before != rec.state:
            changed(rec)
        for notify in notes:
            notify()
        return result
    raise AssertionError("unreachable")


async def find_for_caller(repo: Any, caller: Caller, pid: str, role: Role | None, noun: str) -> Any:
    """The process ``pid`` names (our provider or consumer pid) if ``caller`` is its peer.

    Unknown and not-yours look the same to the caller (404), so existence is not leaked.
    """
    rec = None
    if role in (None, Role.PROVIDER):
        rec = await repo.find_by_pid(Role.PROVIDER.value, provider_pid=pid)
    if rec is None and role in (None, Role.CONSUMER):
        rec = await repo.find_by_pid(Role.CONSUMER.value, consumer_pid=pid)
    if rec is None or rec.counter_party_id != caller.participant_id:
        raise ProtocolError(404, "NotFound", f"no {noun} {pid!r} with you")
    return rec


async def render(repo: Any, row: OutboxMessage, envelope: Envelope) -> tuple[str, dict[str, Any]] | None:
    """The outbox hook: URL and message with the pids filled in from the current process."""
    message = dict(envelope.message)
    if "{" not in envelope.path and not any(v in _PID_PLACEHOLDERS for v in message.values()):
        return row.target_url.rstrip("/") + envelope.path, message  # fully addressed when queued
    rec = await repo.get(row.process_id)
    if rec is None:
        return None
    path = envelope.path
    for placeholder, value in zip(_PID_PLACEHOLDERS, (rec.consumer_pid, rec.provider_pid)):
        if placeholder in path or placeholder in message.values():
            if not value:
                return None  # the peer never learned of this process; nothing to address
            path = path.replace(placeholder, value)
            message = {k: (value if v == placeholder else v) for k, v in message.items()}
    return row.target_url.rstrip("/") + path, message


async def remember_provider_pid(repo: Any, row: OutboxMessage, envelope: Envelope, response: PeerResponse,
                                request_type: str) -> None:
    """The provider's ACK to our ``request_type`` names its providerPid: remember it (one
    conditional UPDATE, no read first, committed by itself: a resent request's ACK names the
    same providerPid, and a process that has one already is left as it is)."""
    if envelope.message.get("@type") != request_type or not isinstance(response.body, dict):
        return
    provider_pid = response.body.get("providerPid")
    if not isinstance(provider_pid, str):
        return
    await repo.fill_provider_pid(row.process_id, provider_pid)  # unless it has one already
