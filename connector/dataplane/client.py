"""A small PACT API client: token, paged listing (following ``Link: rel="next"``), get,
and posting events. Used by the consumer side and by tests against real hosts."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from .cloudevents import CONTENT_TYPE
from .delivery import basic_authorization

_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
MAX_PAGES = 100_000


class PactClientError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"PACT host answered {status}: {body}")
        self.status, self.body = status, body


def next_link(link_header: str | None) -> str | None:
    match = _NEXT.search(link_header or "")
    return match.group(1) if match else None


class PactClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        token: str | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> None:
        self.session, self.base_url = session, base_url.rstrip("/")
        self._id, self._secret, self.token = client_id, client_secret, token
        self.timeout = timeout or aiohttp.ClientTimeout(total=30, connect=5)

    async def authenticate(self) -> str:
        if self._id is None or self._secret is None:
            raise ValueError("client credentials are needed to obtain a token")
        async with self.session.post(
            f"{self.base_url}/auth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": basic_authorization(self._id, self._secret)},
            timeout=self.timeout,
        ) as resp:
            body = await resp.json(content_type=None)
            if resp.status != 200:
                raise PactClientError(resp.status, body)
        self.token = body["access_token"]
        return self.token

    async def _headers(self) -> dict[str, str]:
        if self.token is None:
            await self.authenticate()
        return {"Authorization": f"Bearer {self.token}"}

    async def iter_footprints(self, version: str = "2", params: Any = None) -> AsyncIterator[dict[str, Any]]:
        """Every footprint of a listing, page by page."""
        url: str | None = f"{self.base_url}/{version}/footprints"
        for _ in range(MAX_PAGES):
            if url is None:
                return
            async with self.session.get(url, params=params, headers=await self._headers(), timeout=self.timeout) as resp:
                body = await resp.json(content_type=None)
                if resp.status != 200:
                    raise PactClientError(resp.status, body)
                link = resp.headers.get("Link")
            for item in body["data"]:
                yield item
            url, params = next_link(link), None

    async def get_footprint(self, footprint_id: str, version: str = "2") -> dict[str, Any]:
        url = f"{self.base_url}/{version}/footprints/{footprint_id}"
        async with self.session.get(url, headers=await self._headers(), timeout=self.timeout) as resp:
            body = await resp.json(content_type=None)
            if resp.status != 200:
                raise PactClientError(resp.status, body)
        return body["data"]

    async def post_event(self, event: dict[str, Any], version: str = "2") -> int:
        headers = await self._headers()
        headers["Content-Type"] = f"{CONTENT_TYPE}; charset=UTF-8"
        async with self.session.post(
            f"{self.base_url}/{version}/events", data=json.dumps(event).encode(), headers=headers, timeout=self.timeout
        ) as resp:
            text = await resp.text()
            if resp.status != 200:
                raise PactClientError(resp.status, text)
            return resp.status
