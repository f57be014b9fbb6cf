"""Resolve DIDs to documents and verification methods to keys.

`did:key` is derived locally. `did:web` is fetched with hard limits (see `identity.did.http`),
or read from an offline bundle (a JSON file `{did: document}`) so an auditor can verify
without any network. Resolved documents are cached in memory for `cache_ttl` seconds;
concurrent resolutions of one DID share a single fetch.

Proof verification wants a synchronous `resolve_key(vm_id)`; `key_resolver()` gives one that
answers from documents already resolved (call `resolve()` / `prefetch()` first).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from identity.did.did_key import did_key_document
from identity.did.did_web import did_web_to_url
from identity.did.document import DidDocument, Relationship, split_did_url
from identity.did.errors import DidError, DidResolutionError
from identity.did.http import FetchError, fetch_json
from identity.files import json_problem, read_limited_text
from identity.keys import PublicKey

MAX_BUNDLE_BYTES = 16 * 1024 * 1024


def load_did_bundle(path: str | Path) -> dict[str, DidDocument]:
    """Read an auditor's offline bundle `{did: document}`; every entry is checked."""
    text = read_limited_text(Path(path), "DID bundle", MAX_BUNDLE_BYTES, DidError)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DidError(f"DID bundle {path} is not JSON: {json_problem(exc)}") from None
    return parse_did_bundle(data, source=str(path))


def parse_did_bundle(data: object, *, source: str = "DID bundle") -> dict[str, DidDocument]:
    if not isinstance(data, dict):
        raise DidError(f"{source} must be a JSON object mapping DIDs to DID documents")
    bundle: dict[str, DidDocument] = {}
    for did, doc in data.items():
        try:
            bundle[did] = DidDocument.parse(doc, expected_id=did)
        except DidError as exc:
            raise DidError(f"{source}: entry {did}: {exc}") from None
    return bundle


class DidResolver:
    """Resolves did:key locally and did:web from a bundle and/or over HTTPS."""

    def __init__(
        self,
        *,
        bundle: Mapping[str, DidDocument | dict[str, Any]] | None = None,
        offline: bool = False,
        allow_http_loopback: bool = False,
        timeout: float = 5.0,
        max_bytes: int = 65_536,
        cache_ttl: float = 300.0,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bundle: dict[str, DidDocument] = {}
        for did, doc in (bundle or {}).items():
            self._bundle[did] = doc if isinstance(doc, DidDocument) else DidDocument.parse(doc, expected_id=did)
        self.offline = offline
        self.allow_http_loopback = allow_http_loopback
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.cache_ttl = cache_ttl
        self._session = session
        self._own_session = False
        self._clock = clock
        self._cache: dict[str, tuple[float, DidDocument]] = {}
        self._inflight: dict[str, asyncio.Future[DidDocument]] = {}
        self.fetch_count = 0

    @classmethod
    def from_bundle_file(cls, path: str | Path, *, offline: bool = True, **kwargs: Any) -> DidResolver:
        return cls(bundle=load_did_bundle(path), offline=offline, **kwargs)

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> DidResolver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def add(self, document: DidDocument) -> None:
        """Pin a document (e.g. our own, or one received out of band) for the resolver's life."""
        self._bundle[document.id] = document

    # -- resolution -------------------------------------------------------------------
    def cached(self, did: str) -> DidDocument | None:
        """A document available without I/O: did:key, bundle, or unexpired cache entry."""
        if did.startswith("did:key:"):
            return did_key_document(did)
        if did in self._bundle:
            return self._bundle[did]
        hit = self._cache.get(did)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        return None

    async def resolve(self, did: str) -> DidDocument:
        try:
            base, fragment = split_did_url(did)
        except DidError as exc:
            raise DidResolutionError(str(did), str(exc)) from None
        if base != did:
            raise DidResolutionError(did, "expected a DID without fragment, path or query")
        method = base.split(":", 2)[1]
        if method not in ("key", "web"):
            raise DidResolutionError(did, f"unsupported DID method {method!r} (supported: key, web)")
        try:
            doc = self.cached(did)
        except DidError as exc:
            raise DidResolutionError(did, str(exc)) from None
        if doc is not None:
            return doc
        if self.offline:
            raise DidResolutionError(did, "not in the offline DID bundle (offline mode: no network)")
        pending = self._inflight.get(did)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[DidDocument] = asyncio.get_running_loop().create_future()
        self._inflight[did] = future
        try:
            doc = await self._fetch(did)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters (if any) re-raise it themselves
            raise
        finally:
            self._inflight.pop(did, None)
        future.set_result(doc)
        self._cache[did] = (self._clock() + self.cache_ttl, doc)
        return doc

    async def _fetch(self, did: str) -> DidDocument:
        try:
            url = did_web_to_url(did, allow_http_loopback=self.allow_http_loopback)
        except DidError as exc:
            raise DidResolutionError(did, str(exc)) from None
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        self.fetch_count += 1
        try:
            data = await fetch_json(
                self._session, url, timeout=self.timeout, max_bytes=self.max_bytes,
                allow_http_loopback=self.allow_http_loopback,
            )
        except FetchError as exc:
            raise DidResolutionError(did, str(exc)) from None
        try:
            return DidDocument.parse(data, expected_id=did)
        except DidError as exc:
            raise DidResolutionError(did, str(exc)) from None

    async def prefetch(self, dids: Iterable[str]) -> None:
        """Resolve several DIDs concurrently so `key_resolver()` can answer synchronously."""
        unique = {split_did_url(d)[0] for d in dids}
        await asyncio.gather(*(self.resolve(d) for d in unique))

    async def resolve_verification_method(
        self, vm_id: str, relationship: Relationship | None = "assertionMethod"
    ) -> PublicKey:
        did, fragment = split_did_url(vm_id)
        if fragment is None:
            raise DidError(f"{vm_id} is not a verification method id (no '#fragment')")
        doc = await self.resolve(did)
        return doc.public_key(vm_id, relationship)

    def key_resolver(self, relationship: Relationship | None = "assertionMethod") -> Callable[[str], PublicKey]:
        """A synchronous `resolve_key` for `identity.proofs.verify_proofs`, answering from cache."""

        def resolve_key(vm_id: str) -> PublicKey:
            did, _ = split_did_url(vm_id)
            doc = self.cached(did)
            if doc is None:
                raise DidResolutionError(did, "not resolved yet (call resolve or prefetch first)")
            return doc.public_key(vm_id, relationship)

        return resolve_key


def resolve_verification_method(
    vm_id: str,
    relationship: Relationship | None = "assertionMethod",
    documents: Mapping[str, DidDocument] | None = None,
) -> PublicKey:
    """Synchronous key look-up: did:key locally, other DIDs from `documents`.

    Usable directly as `resolve_key` for `verify_proofs` when the issuers are did:key."""
    did, fragment = split_did_url(vm_id)
    if fragment is None:
        raise DidError(f"{vm_id} is not a verification method id (no '#fragment')")
    if did.startswith("did:key:"):
        return did_key_document(did).public_key(vm_id, relationship)
    if documents is not None and did in documents:
        return documents[did].public_key(vm_id, relationship)
    raise DidResolutionError(did, "no DID document available for synchronous key look-up")
