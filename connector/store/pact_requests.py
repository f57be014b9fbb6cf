"""PACT ``RequestCreated`` events we accepted: answered by whichever replica leases them,
retried until answered or given up on, kept across restarts.

A partner gets HTTP 200 once its event is stored here; from then on the answer is owed even
if the connector restarts before delivering it. ``add`` is idempotent per (partner, event
id), so a resent event is stored and answered once. Its insert is ``ON CONFLICT DO NOTHING``
and a duplicate is read back: raising instead would abort a PostgreSQL transaction the
caller may have open.

As in the outbox, the event-driven path never scans: ``add(..., claim_for=owner)`` writes
the row already leased to the replica that accepted it, which answers right away;
``lease_due`` (a scan) is for start-up, retries and rows a dead replica left behind. Every
outcome is recorded only by the lease holder: a replica that lost its lease learns so from
the False it gets back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, null, update

from . import leases
from .errors import AlreadyExists
from .leases import Db
from .records import PactRequest
from .rows import by, insert_returning, select_by, to_record, values_of
from .tables import pact_requests as t

PENDING, ANSWERED, FAILED = "PENDING", "ANSWERED", "FAILED"


def _outcome(**values: Any) -> Any:
    """UPDATE recording one attempt's outcome; matches only while ``:k_owner`` holds the lease."""
    return (
        update(t)
        .where(t.c.id == bindparam("k_id"), t.c.lease_owner == bindparam("k_owner"), t.c.status == PENDING)
        .values(attempts=t.c.attempts + 1, lease_owner=None, lease_expires_at=None, **values)
    )


_ANSWERED = _outcome(status=ANSWERED, last_error=None)
_RETRY = _outcome(next_attempt_at=bindparam("k_at", type_=t.c.next_attempt_at.type), last_error=bindparam("k_error"))
_GIVE_UP = _outcome(status=FAILED, last_error=bindparam("k_error"))
_PURGE = delete(t).where(t.c.status.in_((ANSWERED, FAILED)),
                         t.c.created_at < bindparam("k_before", type_=t.c.created_at.type))


class PactRequestRepository:
    def __init__(self, db: Db, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock

    async def add(self, request: PactRequest, *, claim_for: str | None = None,
                  lease_seconds: float = 30.0) -> tuple[PactRequest, bool]:
        """Store an accepted event: (the new row, True), or (the row already stored for this
        partner and event id, False) so a resent event is not answered twice. With
        ``claim_for`` a new row is written leased to that replica (it answers at once)."""
        values = values_of(request)
        if request.scope is None:
            values["scope"] = null()  # SQL NULL ("all footprints"), not the JSON document ``null``
        if claim_for is not None:
            leases.check(claim_for, lease_seconds)
            values.update(lease_owner=claim_for, lease_expires_at=self._clock() + timedelta(seconds=lease_seconds))
        else:
            values.update(lease_owner=None, lease_expires_at=None)
        async with self._db.write() as conn:
            row = (await conn.execute(insert_returning(self._db.dialect, t, ignore_conflict=True), values)).first()
            if row is not None:
                return to_record(PactRequest, row), True
            row = (await conn.execute(select_by(t, "partner", "event_id"),
                                      by(partner=request.partner, event_id=request.event_id))).first()
        if row is None:  # the conflict was on ``id``, with another event: a caller's bug, not a resend
            raise AlreadyExists("pact request", request.id)
        return to_record(PactRequest, row), False

    async def get(self, request_id: str) -> PactRequest | None:
        async with self._db.read() as conn:
            row = (await conn.execute(select_by(t, "id"), by(id=request_id))).first()
        return to_record(PactRequest, row) if row is not None else None

    async def lease_due(self, owner: str, limit: int, lease_seconds: float) -> list[PactRequest]:
        """Claim pending requests whose (next) attempt is due and that nobody holds, oldest first."""
        now = self._clock()
        rows = await leases.lease_due(
            self._db, t, t.c.id,
            due=(t.c.status == PENDING, t.c.next_attempt_at <= now),
            order_by=(t.c.next_attempt_at, t.c.created_at, t.c.id),
            owner=owner, limit=limit, lease_seconds=lease_seconds, now=now,
        )
        return [to_record(PactRequest, r) for r in rows]

    async def answered(self, request_id: str, owner: str) -> bool:
        """Record delivery of the answer; False if ``owner`` lost the lease meanwhile."""
        return await self._record(_ANSWERED, {"k_id": request_id, "k_owner": owner})

    async def retry_later(self, request_id: str, owner: str, error: str, at: datetime) -> bool:
        """Count a failed attempt and make the request due again at ``at``; False as in ``answered``."""
        return await self._record(_RETRY, {"k_id": request_id, "k_owner": owner, "k_error": error, "k_at": at})

    async def give_up(self, request_id: str, owner: str, error: str) -> bool:
        """Count a failed attempt and stop retrying (FAILED); False as in ``answered``."""
        return await self._record(_GIVE_UP, {"k_id": request_id, "k_owner": owner, "k_error": error})

    async def release_all(self, owner: str) -> int:
        """Free every lease ``owner`` holds: a replica restarting under its stable id takes its
        unanswered requests back at once instead of waiting for the leases to expire."""
        return await leases.release_all(self._db, t, owner=owner)

    async def purge_answered(self, older_than: datetime) -> int:
        """Delete finished (ANSWERED or FAILED) requests created before ``older_than``; returns how many."""
        async with self._db.write() as conn:
            return (await conn.execute(_PURGE, {"k_before": older_than})).rowcount

    async def _record(self, stmt: Any, params: dict[str, Any]) -> bool:
        async with self._db.write() as conn:
            return (await conn.execute(stmt, params, final=self._db.own_transaction)).rowcount == 1
