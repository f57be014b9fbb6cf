"""Fixtures that start real connector processes (see processes.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from .processes import Connector, free_port, membership_credential


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Connector]]:
    started: list[Connector] = []

    def _spawn(name: str, *, member: bool = True, database: str | None = None, replica_id: str = "",
               participant_id: str | None = None, start: bool = True,
               env: dict[str, str] | None = None, public_url: str = "") -> Connector:
        pid = participant_id or f"did:web:{name}.test"
        workdir = tmp_path / f"{name}-{replica_id or 'main'}"
        db = database or f"sqlite+aiosqlite:///{workdir / 'store.db'}"
        c = Connector(name=name, workdir=workdir, participant_id=pid, port=free_port(), database=db,
                      credentials=[membership_credential(pid)] if member else [], replica_id=replica_id, env=env or {}, public_url=public_url)
        if start:
            c.start()
        started.append(c)
        return c

    yield _spawn
    for c in started:
        c.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
