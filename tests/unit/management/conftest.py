"""A connector app in-process (aiohttp test server on loopback) with a Management API client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connector.app import create_app
from connector.config import Settings
from tests.auth_stub import SharedSecretAuthenticator
from identity.keys import KeyPair

ME = "did:web:provider.test"
SECRET = "unit-test-shared-secret-0123456789"
API_KEY = "unit-test-api-key-0123456"
BASE = "/api/management/v3"
EDC = "https://w3id.org/edc/v0.0.1/ns/"
VOCAB = {"@vocab": EDC}


class Api:
    """Management calls with the key; returns (status, parsed body or None)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    async def __call__(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"headers": {"X-Api-Key": API_KEY}}
        if raw is not None:
            kwargs["data"] = raw
        elif body is not None:
            kwargs["json"] = body
        resp = await self.client.request(method, BASE + path, **kwargs)
        text = await resp.text()
        return resp.status, (json.loads(text) if text else None)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    key = tmp_path / "key.jwk"
    KeyPair.generate("Ed25519").save(key)
    settings = Settings(name="p", participant_id=ME, key_file=key, api_key=API_KEY, allow_http_loopback=True,
                        database=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    app = create_app(settings, authenticator=SharedSecretAuthenticator(ME, SECRET))
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)
