"""Replay cache for token ids (``jti``): a token is accepted at most once before it expires."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, select

from .leases import Db
from .rows import upsert_insert
from .tables import replay_cache


@cache
def _remember(dialect: str) -> Any:
    """``INSERT ... ON CONFLICT (jti) DO UPDATE ... WHERE expires_at <= :k_now``, built once
    (the columns come from the parameters)."""
    ins = upsert_insert(dialect, replay_cache)
    return ins.on_conflict_do_update(
        index_elements=[replay_cache.c.jti],
        set_={"expires_at": ins.excluded.expires_at},
        where=replay_cache.c.expires_at <= bindparam("k_now", type_=replay_cache.c.expires_at.type),
    )


class ReplayCache:
    def __init__(self, db: Db, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock

    async def remember(self, jti: str, expires_at: datetime) -> bool:
        """Record ``jti``; True the first time, False if it was seen and has not expired yet.

        Atomic across replicas (one INSERT ... ON CONFLICT), so two replicas receiving the
        same token at once cannot both accept it. An expired entry is replaced.
        """
        if not jti:
            raise ValueError("jti must be a non-empty string")
        params = {"jti": jti, "expires_at": expires_at, "k_now": self._clock()}
        async with self._db.write() as conn:
            return (await conn.execute(_remember(self._db.dialect), params,
                                       final=self._db.own_transaction)).rowcount == 1

    async def seen(self, jti: str) -> bool:
        stmt = select(replay_cache.c.expires_at).where(replay_cache.c.jti == jti)
        async with self._db.read() as conn:
            expires = (await conn.execute(stmt)).scalar_one_or_none()
        return expires is not None and expires > self._clock()

    async def purge_expired(self) -> int:
        async with self._db.write() as conn:
            return (await conn.execute(delete(replay_cache).where(replay_cache.c.expires_at <= self._clock()))).rowcount
