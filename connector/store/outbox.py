"""Outbox of outgoing protocol messages: written with the state change that caused them,
sent by whichever replica leases them, retried with backoff, kept across restarts.

Messages of one process are delivered in order: a message is only due once every earlier
PENDING message of the same process has been sent or given up on.

The event-driven path never scans: ``enqueue(..., claim_for=owner)`` writes the message
already leased to the replica that will send it (in the transaction that decided it, so
it costs no extra write), unless an earlier message of the process is still pending; after
``mark_sent`` the sender asks ``claim_head`` for the next message of that one process.
``lease_due`` (a scan) is for start-up, retries and rows a dead replica left behind.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from functools import cache

from sqlalchemy import Integer, and_, bindparam, case, column, delete, exists, func, null, select, text, update

from . import leases
from .errors import AlreadyExists
from .leases import Db
from .records import OutboxMessage
from .rows import by, insert_returning, select_by, to_record, upsert_insert, values_of
from .tables import outbox

PENDING, SENT, DEAD = "PENDING", "SENT", "DEAD"


def backoff_delay(attempts: int, *, base: float = 0.5, cap: float = 60.0, jitter: float = 0.2) -> float:
    """Seconds to wait before attempt ``attempts + 1``: exponential, capped, with +-jitter
    so replicas retrying the same partner do not stampede in step."""
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    return delay * (1 + random.uniform(-jitter, jitter))


_PENDING_ONLY = (outbox.c.status == PENDING,)


@cache
def _sent_and_next_pg() -> object:
    """PostgreSQL, one statement: ``mark_sent`` and, only if that succeeded, ``claim_head``
    (both UPDATEs see one snapshot, in which the message just sent is still PENDING, so the
    head is looked for among the *other* pending messages of the process). One row:
    ``k_sent`` (0 or 1) and the claimed message's columns (NULL when none was claimed)."""
    cols = [c.name for c in outbox.c]
    sql = f"""
        WITH sent AS (
            UPDATE outbox SET status = 'SENT', attempts = attempts + 1, lease_owner = NULL,
                              lease_expires_at = NULL, last_error = NULL
            WHERE id = :k_id AND lease_owner = :k_owner AND status = 'PENDING'
            RETURNING seq
        ), nxt AS (
            UPDATE outbox SET lease_owner = :k_owner, lease_expires_at = :k_until
            WHERE seq = (SELECT min(seq) FROM outbox
                         WHERE process_id = :k_process_id AND status = 'PENDING' AND id <> :k_id)
              AND status = 'PENDING' AND next_attempt_at <= :k_now
              AND (lease_expires_at IS NULL OR lease_expires_at <= :k_now)
              AND EXISTS (SELECT 1 FROM sent)
            RETURNING {", ".join(cols)}
        )
        SELECT (SELECT count(*) FROM sent) AS k_sent, {", ".join("nxt." + c for c in cols)}
        FROM (SELECT 1) AS one LEFT JOIN nxt ON true"""
    ts = outbox.c.lease_expires_at.type
    return (text(sql)
            .bindparams(bindparam("k_id", type_=outbox.c.id.type), bindparam("k_owner", type_=outbox.c.lease_owner.type),
                        bindparam("k_process_id", type_=outbox.c.process_id.type), bindparam("k_until", type_=ts),
                        bindparam("k_now", type_=ts))
            .columns(column("k_sent", Integer()), *outbox.c))


@cache
def _insert_claimed(dialect: str) -> object:
    """``INSERT ... RETURNING *`` that leases the new message to ``:k_owner`` until ``:k_until``
    when it heads its process's queue (no earlier PENDING message), unleased otherwise."""
    earlier = outbox.alias("earlier")
    blocked = exists().where(earlier.c.process_id == bindparam("k_process_id", type_=outbox.c.process_id.type),
                             earlier.c.status == PENDING)
    return (upsert_insert(dialect, outbox)
            .values(lease_owner=case((blocked, null()), else_=bindparam("k_owner", type_=outbox.c.lease_owner.type)),
                    lease_expires_at=case((blocked, null()),
                                          else_=bindparam("k_until", type_=outbox.c.lease_expires_at.type)))
            .on_conflict_do_nothing().returning(*outbox.c))


@cache
def _mark_sent() -> object:
    return (
        update(outbox)
        .where(outbox.c.id == bindparam("k_id"), outbox.c.lease_owner == bindparam("k_owner"),
               outbox.c.status == PENDING)
        .values(status=SENT, attempts=outbox.c.attempts + 1, lease_owner=None, lease_expires_at=None,
                last_error=None)
    )


@cache
def _claim_head() -> object:
    head = select(func.min(outbox.c.seq)).where(outbox.c.process_id == bindparam("k_process_id"),
                                                 outbox.c.status == PENDING).scalar_subquery()
    return (
        update(outbox)
        # Only a free (or expired) lease: a head leased to us is being sent by another task
        # of ours right now, and claiming it again would send it twice.
        .where(outbox.c.seq == head, outbox.c.status == PENDING, outbox.c.next_attempt_at <= bindparam("k_now"),
               leases.lease_free(outbox, bindparam("k_now")))
        .values(lease_owner=bindparam("k_owner"), lease_expires_at=bindparam("k_until"))
        .returning(*outbox.c)
    )


class OutboxRepository:
    def __init__(self, db: Db, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock

    async def enqueue(self, message: OutboxMessage, *, claim_for: str | None = None,
                      lease_seconds: float = 20.0) -> OutboxMessage:
        """Queue ``message``. With ``claim_for``, the row is written already leased to that
        replica when it heads its process's queue (the caller sends it right after commit);
        otherwise it waits for the messages before it (see ``claim_head``)."""
        values = values_of(message, exclude=("seq",))
        values["status"] = PENDING
        if claim_for and message.next_attempt_at <= self._clock():
            # One statement: the lease is written only if no earlier message of the process
            # is still pending (checked by the INSERT itself, in this transaction).
            leases.check(claim_for, lease_seconds)
            values.update(k_process_id=message.process_id, k_owner=claim_for,
                          k_until=self._clock() + timedelta(seconds=lease_seconds))
            stmt = _insert_claimed(self._db.dialect)
        else:
            values.update(lease_owner=None, lease_expires_at=None)
            stmt = insert_returning(self._db.dialect, outbox, ignore_conflict=True)
        async with self._db.write() as conn:
            row = (await conn.execute(stmt, values, final=self._db.own_transaction)).first()
        if row is None:
            raise AlreadyExists("outbox message", message.id)
        return to_record(OutboxMessage, row)

    async def get(self, message_id: str) -> OutboxMessage | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select_by(outbox, "id"), by(id=message_id))).first()
        return to_record(OutboxMessage, row) if row is not None else None

    async def for_process(self, process_id: str) -> list[OutboxMessage]:
        stmt = select(outbox).where(outbox.c.process_id == process_id).order_by(outbox.c.seq)
        async with self._db.read() as conn:
            return [to_record(OutboxMessage, r) for r in (await conn.execute(stmt)).all()]

    async def lease_due(self, owner: str, limit: int, lease_seconds: float) -> list[OutboxMessage]:
        """Claim pending messages whose retry time has come and that head their process's queue."""
        now = self._clock()
        earlier = outbox.alias("earlier")
        blocked = exists().where(
            and_(earlier.c.process_id == outbox.c.process_id, earlier.c.status == PENDING, earlier.c.seq < outbox.c.seq)
        )
        rows = await leases.lease_due(
            self._db, outbox, outbox.c.seq,
            due=(outbox.c.status == PENDING, outbox.c.next_attempt_at <= now, ~blocked),
            order_by=(outbox.c.next_attempt_at, outbox.c.seq),
            owner=owner, limit=limit, lease_seconds=lease_seconds, now=now,
        )
        return [to_record(OutboxMessage, r) for r in rows]

    async def claim(self, message_id: str, owner: str, lease_seconds: float) -> OutboxMessage | None:
        """Lease one message to send it right away (the event-driven path); None if taken or not pending."""
        row = await leases.claim(
            self._db, outbox, outbox.c.id, message_id,
            owner=owner, lease_seconds=lease_seconds, now=self._clock(), extra=_PENDING_ONLY,
        )
        return to_record(OutboxMessage, row) if row is not None else None

    async def claim_head(self, process_id: str, owner: str, lease_seconds: float) -> OutboxMessage | None:
        """Lease the first pending message of ``process_id`` if it is due and nobody holds it;
        None when the process has nothing to send or its head is already being sent."""
        leases.check(owner, lease_seconds)
        now = self._clock()
        params = {"k_process_id": process_id, "k_owner": owner, "k_now": now,
                  "k_until": now + timedelta(seconds=lease_seconds)}
        async with self._db.write() as conn:
            row = (await conn.execute(_claim_head(), params, final=self._db.own_transaction)).first()
        return to_record(OutboxMessage, row) if row is not None else None

    async def release(self, message_id: str, owner: str) -> bool:
        return await leases.release(self._db, outbox, outbox.c.id, message_id, owner=owner)

    async def release_all(self, owner: str) -> int:
        return await leases.release_all(self._db, outbox, owner=owner)

    async def mark_sent(self, message_id: str, owner: str) -> bool:
        """Record delivery; False if ``owner`` lost the lease meanwhile (the peer dedupes)."""
        async with self._db.write() as conn:
            return (await conn.execute(_mark_sent(), {"k_id": message_id, "k_owner": owner},
                                       final=self._db.own_transaction)).rowcount == 1

    async def mark_sent_and_claim_next(self, message_id: str, process_id: str, owner: str, lease_seconds: float,
                                       *, last: bool = False) -> tuple[bool, OutboxMessage | None]:
        """``mark_sent`` and, if it succeeded, ``claim_head`` of the same process, atomically:
        (whether it was marked sent, the next message now leased to ``owner`` or None).
        One statement on PostgreSQL, two in one transaction on SQLite. ``last``: the caller's
        transaction executes nothing after this (on PostgreSQL, a transaction with nothing
        else in it then needs no BEGIN / COMMIT)."""
        leases.check(owner, lease_seconds)
        now = self._clock()
        params = {"k_id": message_id, "k_process_id": process_id, "k_owner": owner, "k_now": now,
                  "k_until": now + timedelta(seconds=lease_seconds)}
        async with self._db.write() as conn:
            if self._db.is_postgres:
                row = (await conn.execute(_sent_and_next_pg(), params,
                                          final=last or self._db.own_transaction)).one()
                if not row.k_sent:
                    return False, None
                if row.seq is None:
                    return True, None
                return True, OutboxMessage(**{k: v for k, v in row._asdict().items() if k != "k_sent"})
            if (await conn.execute(_mark_sent(), {"k_id": message_id, "k_owner": owner})).rowcount != 1:
                return False, None
            params.pop("k_id")
            nxt = (await conn.execute(_claim_head(), params)).first()
        return True, (to_record(OutboxMessage, nxt) if nxt is not None else None)

    async def mark_failed(
        self, message_id: str, owner: str, error: str, *, max_attempts: int = 12,
        delay: Callable[[int], float] = backoff_delay,
    ) -> OutboxMessage | None:
        """Count a failed attempt: schedule the retry after ``delay(attempts)`` seconds, or
        mark the message DEAD after ``max_attempts``. None if ``owner`` lost the lease."""
        async with self._db.write() as conn:
            row = (
                await conn.execute(
                    select(outbox)
                    .where(outbox.c.id == message_id, outbox.c.lease_owner == owner, outbox.c.status == PENDING)
                    .with_for_update()
                )
            ).first()
            if row is None:
                return None
            msg = to_record(OutboxMessage, row)
            attempts = msg.attempts + 1
            status = DEAD if attempts >= max_attempts else PENDING
            next_at = self._clock() + timedelta(seconds=delay(attempts))
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == message_id, outbox.c.lease_owner == owner)
                .values(status=status, attempts=attempts, next_attempt_at=next_at, last_error=error[:4000],
                        lease_owner=None, lease_expires_at=None)
            )
        return replace(msg, status=status, attempts=attempts, next_attempt_at=next_at, last_error=error[:4000],
                       lease_owner=None, lease_expires_at=None)

    async def cancel_for_process(self, process_id: str, reason: str) -> int:
        """Give up on a process's unsent messages (it was terminated); returns how many."""
        stmt = (
            update(outbox)
            .where(outbox.c.process_id == process_id, outbox.c.status == PENDING)
            .values(status=DEAD, last_error=reason, lease_owner=None, lease_expires_at=None)
        )
        async with self._db.write() as conn:
            return (await conn.execute(stmt)).rowcount

    async def purge_sent(self, before: datetime) -> int:
        stmt = delete(outbox).where(outbox.c.status == SENT, outbox.c.created_at < before)
        async with self._db.write() as conn:
            return (await conn.execute(stmt)).rowcount
