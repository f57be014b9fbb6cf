"""Bounded JSON fetching for identity documents (DID documents, status lists).

Every limit is enforced by us, not trusted to the peer: a total time-out, a byte cap counted
while streaming (Content-Length may lie or be absent), no redirects, a JSON content type, and
https except for explicitly allowed loopback http.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from identity.did.did_web import is_loopback_host
from identity.errors import IdentityError
from identity.files import json_problem

JSON_TYPES = frozenset(
    {"application/json", "application/did+json", "application/did+ld+json", "application/ld+json",
     "application/vc+ld+json", "application/vc"}
)


class FetchError(IdentityError):
    """Fetching a document failed; the message says which limit or check."""


def check_url_scheme(url: str, *, allow_http_loopback: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and allow_http_loopback and is_loopback_host(parts.hostname or ""):
        return
    if parts.scheme == "http":
        raise FetchError(f"http:// is refused for {url} (only https, or http to loopback when enabled)")
    raise FetchError(f"unsupported URL scheme in {url!r}")


async def fetch_json(
    session: aiohttp.ClientSession,
    url: str,
    *,
    timeout: float = 5.0,
    max_bytes: int = 65_536,
    allow_http_loopback: bool = False,
    content_types: frozenset[str] = JSON_TYPES,
) -> Any:
    check_url_scheme(url, allow_http_loopback=allow_http_loopback)
    try:
        async with asyncio.timeout(timeout):
            async with session.get(
                url,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
                headers={"Accept": "application/did+json, application/json"},
            ) as resp:
                if 300 <= resp.status < 400:
                    where = resp.headers.get("Location", "?")
                    raise FetchError(f"{url} answered with redirect {resp.status} to {where}; redirects are not followed")
                if resp.status != 200:
                    raise FetchError(f"{url} answered HTTP {resp.status}")
                if resp.content_type not in content_types:
                    raise FetchError(f"{url} answered content type {resp.content_type!r}, expected JSON")
                declared = resp.content_length
                if declared is not None and declared > max_bytes:
                    raise FetchError(f"{url} response is {declared} bytes, limit is {max_bytes}")
                body = bytearray()
                async for chunk in resp.content.iter_chunked(8192):
                    body += chunk
                    if len(body) > max_bytes:
                        raise FetchError(f"{url} response exceeds the {max_bytes}-byte limit")
    except TimeoutError:
        raise FetchError(f"{url} did not answer within {timeout:g} s") from None
    except aiohttp.ClientError as exc:
        raise FetchError(f"{url} could not be fetched: {exc.__class__.__name__}: {exc}") from None
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise FetchError(f"{url} response is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise FetchError(f"{url} response is not JSON: {json_problem(exc)}") from None
    except RecursionError:
        raise FetchError(f"{url} response is nested too deeply") from None
