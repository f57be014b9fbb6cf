"""The ``Store`` facade and ``open_store``: one object with every repository on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import text

from .agreements import AgreementRepository
from .auditlog import AuditRepository
from .documents import AssetRepository, ContractDefinitionRepository, PolicyDefinitionRepository
from .edrs import EdrRepository
from .engine import BoundDatabase, Database
from .footprints import FootprintRepository
from .migrate import upgrade_to_head
from .outbox import OutboxRepository
from .pact_requests import PactRequestRepository
from .processes import NegotiationRepository, TransferRepository
from .records import utcnow
from .replay import ReplayCache
from .status_entries import FootprintStatusRepository

DEFAULT_URL = "sqlite+aiosqlite:///kakehashi.db"


class Store:
    """Repositories over one database (or, inside ``transaction()``, one open transaction)."""

    def __init__(self, db: Database | BoundDatabase, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self.clock = clock
        self.negotiations = NegotiationRepository(db, clock)
        self.transfers = TransferRepository(db, clock)
        self.agreements = AgreementRepository(db)
        self.assets = AssetRepository(db)
        self.policies = PolicyDefinitionRepository(db)
        self.contract_defs = ContractDefinitionRepository(db)
        self.edrs = EdrRepository(db, clock)
        self.outbox = OutboxRepository(db, clock)
        self.footprints = FootprintRepository(db)
        self.footprint_status = FootprintStatusRepository(db, clock)
        self.pact_requests = PactRequestRepository(db, clock)
        self.audit = AuditRepository(db, clock)
        self.replay = ReplayCache(db, clock)

    @property
    def dialect(self) -> str:
        return self._db.dialect

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Store]:
        """All writes made through the yielded store commit together or not at all — e.g. a
        state change and the outbox message it causes. On SQLite this holds the writer lock:
        inside it, write only through the yielded store, never through ``self``."""
        if isinstance(self._db, BoundDatabase):
            yield self  # already inside one: join it
            return
        root = self._db
        async with root.write() as conn:
            yield Store(BoundDatabase(root, conn), clock=self.clock)

    async def ping(self) -> bool:
        """Readiness probe: can we run a query right now?"""
        try:
            async with self._db.read() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:  # any driver error means "not ready"; the probe must not raise
            return False
        return True

    async def close(self) -> None:
        """Dispose of the connection pool (a no-op on a ``transaction()`` view)."""
        if isinstance(self._db, Database):
            await self._db.dispose()


async def open_store(url: str = DEFAULT_URL, *, clock: Callable[[], datetime] = utcnow, migrate: bool = True,
                     pool_size: int = 10) -> Store:
    """Open (and by default migrate) the store at ``url``.

    ``sqlite+aiosqlite:///path.db`` is the embedded default; ``postgresql+asyncpg://...`` lets
    several replicas share one database. Migrating is idempotent and safe when replicas
    start at the same time. ``pool_size``: on PostgreSQL, how many connections the store
    uses at most (beyond it only for a task that already holds one; see ``pg.PgPool``).
    """
    db = Database(url, pool_size=pool_size)
    try:
        if migrate:
            await upgrade_to_head(db)
    except BaseException:
        await db.dispose()
        raise
    return Store(db, clock=clock)
