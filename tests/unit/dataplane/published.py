"""A SQLite store of published footprints for PACT host tests (not collected: no tests here)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connector.store import Store, open_store
from connector.store.records import Footprint as Record

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def record(doc: dict[str, Any], *, version: int = 1, at: datetime = T0) -> Record:
    return Record(id=doc["id"], direction="PUBLISHED", version=version, credential=doc,
                  sha256=hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest(),
                  status="Active", updated_at=at)


async def published_store(path: Path, footprints: Sequence[dict[str, Any]]) -> AsyncIterator[Store]:
    """For a fixture: a store at ``path`` holding ``footprints``, closed afterwards."""
    store = await open_store(f"sqlite+aiosqlite:///{path}")
    for fp in footprints:
        await store.footprints.save(record(fp))
    yield store
    await store.close()
