"""Fixtures that start real processes (see processes.py): the authorities once per session,
connectors per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .processes import Connector, Dataspace


_SHARED: dict[str, Any] = {}


@pytest.fixture(scope="session")
def dataspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dataspace]:
    """JP, TW and an untrusted authority as `kakehashi authority run` processes, shared by all tests.
    Status lists live 1 s in caches, so a revocation shows on the next request after that.

    Modules outside this folder import this fixture, which makes it a fixture of theirs too;
    they all get the one set of authorities, stopped after the last user is done."""
    if not _SHARED:
        ds = Dataspace(tmp_path_factory.mktemp("dataspace"), status_ttl_ms=1_000)
        ds.start()
        _SHARED.update(dataspace=ds, users=0)
    _SHARED["users"] += 1
    yield _SHARED["dataspace"]
    _SHARED["users"] -= 1
    if _SHARED["users"] == 0:
        _SHARED.pop("dataspace").stop()
        _SHARED.clear()


@pytest.fixture
def spawn(dataspace: Dataspace, tmp_path: Path) -> Iterator[Callable[..., Connector]]:
    """`spawn(name, **options)`: a connector that joins the data space and runs (unless `start=False`).

    Options: `authority` ("jp", "tw" or "untrusted"), `member=False` (no credential), `claims`,
    `database`, `public_url`, `env`, `footprint_issuers`, `participant_id`, `credentials_of`,
    `extra_toml`, `replica_id`; `replica_of=<Connector>` starts another replica of that one."""
    started: list[Connector] = []

    def _spawn(name: str, *, replica_of: Connector | None = None, replica_id: str = "", start: bool = True,
               env: dict[str, str] | None = None, **options: Any) -> Connector:
        workdir = tmp_path / (f"{name}-{replica_id}" if replica_id else name)
        if replica_of is not None:
            c = dataspace.replica(replica_of, workdir, replica_id, env)
        else:
            c = dataspace.connector(name, workdir, replica_id=replica_id, env=env, **options)
        if start:
            c.start()
        started.append(c)
        return c

    yield _spawn
    for c in started:  # SIGTERM all first, then wait: they shut down in parallel
        if c.proc is not None and c.proc.poll() is None:
            c.proc.terminate()
    for c in started:
        c.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
