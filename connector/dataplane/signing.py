"""Signed delivery: footprints as Verifiable Credentials, and signatures over plain JSON.

A :data:`Signer` turns a footprint into a signed VC (the connector passes one built on
``identity.proofs.add_proof`` with the provider's DID key). Signing is the expensive
part of serving a page, so rendered credentials are cached by footprint id + version +
last update: a footprint is signed once per change, not once per request. A signer that
also has ``render(footprint | stored JSON bytes) -> bytes`` (see
``identity.footprint_signing``) is asked for the serialised credential directly, so
signing on the fly needs no dict round trip and stored footprints are not decoded twice.

Plain PACT JSON responses carry ``Content-Digest`` (RFC 9530) and, with a
:class:`DetachedJws` configured, a JWS over the exact body bytes (RFC 7515 detached
payload, RFC 7797 ``b64: false``) in the ``JWS-Signature`` header.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import inspect
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import Executor
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

Signer = Callable[[dict[str, Any]], "dict[str, Any] | Awaitable[dict[str, Any]]"]
VC_MEDIA_TYPE = "application/vc+ld+json"
SIGNATURE_HEADER = "JWS-Signature"


def dumps(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def cache_key(api_version: str, footprint_v2: dict[str, Any]) -> tuple[str, str, Any, Any]:
    """Identity of one rendering of a footprint: changes whenever the footprint does."""
    return (api_version, footprint_v2["id"], footprint_v2.get("version"), footprint_v2.get("updated"))


class RenderCache:
    """A bounded LRU of rendered (serialised) documents, bounded by count and by bytes
    (``sizeof`` of each value, its length by default)."""

    def __init__(self, maxsize: int = 20_000, max_bytes: int = 64 * 1024 * 1024,
                 sizeof: Callable[[Any], int] = len) -> None:
        self.maxsize = maxsize
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._sizeof = sizeof
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any:
        value = self._items.get(key)
        if value is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: Hashable, value: Any) -> None:
        size = self._sizeof(value)
        if size > self.max_bytes or self.maxsize <= 0:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.nbytes -= self._sizeof(old)
        self._items[key] = value
        self.nbytes += size
        while len(self._items) > self.maxsize or self.nbytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self.nbytes -= self._sizeof(dropped)

    def clear(self) -> None:
        self._items.clear()
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._items)


class Page(NamedTuple):
    """A rendered ``ListFootprints`` body with its ``Content-Digest`` (and detached JWS)."""

    body: bytes
    digest: str
    signature: str | None
    #: rows in the page's cache key (each row's key tuple is kept with the entry)
    rows: int = 0

    def size(self) -> int:
        """Bytes charged to a page cache: the body, plus an estimate for the key's rows."""
        return len(self.body) + 256 * self.rows + 256


#: What a renderer signs: a footprint dict, or a stored footprint's JSON bytes.
Body = dict[str, Any] | bytes


def _render_with(signer: Signer) -> Callable[[Body], bytes] | None:
    render = getattr(signer, "render", None)
    return render if callable(render) else None


def _sign_all(signer: Signer, bodies: list[Body]) -> list[bytes]:
    """Sign and serialise a batch (runs in an executor: one hop per batch, not per VC)."""
    render = _render_with(signer)
    if render is not None:
        return [render(body) for body in bodies]
    out = []
    for body in bodies:
        signed = signer(json.loads(body) if isinstance(body, bytes) else body)
        if inspect.isawaitable(signed):
            raise TypeError("a signer run in an executor must be synchronous")
        out.append(dumps(signed))
    return out


class CredentialRenderer:
    """Signs footprints into VCs through ``signer``, caching the serialised result.

    ``executor``: run synchronous signing there, a page's misses split into one batch per
    worker (``workers``). A thread pool only helps if the signer releases the GIL; a
    process pool needs a picklable signer. A signer's ``known_rendering(footprint)``, when
    it has one, answers first, here (bytes, or None to sign).
    """

    def __init__(
        self,
        signer: Signer,
        *,
        maxsize: int = 20_000,
        cache: bool = True,
        max_bytes: int = 64 * 1024 * 1024,
        executor: Executor | None = None,
        workers: int = 2,
    ) -> None:
        self._signer = signer
        self._render = _render_with(signer)
        known = getattr(signer, "known_rendering", None)
        self._known: Callable[[dict[str, Any]], bytes | None] | None = known if callable(known) else None
        #: whether stored JSON bytes may be handed over as they are (``sign_many``)
        self.takes_bytes = self._render is not None
        self.cache = RenderCache(maxsize, max_bytes) if cache and maxsize > 0 else None
        self.executor = executor
        self.workers = max(1, workers)

    async def render(self, api_version: str, footprint_v2: dict[str, Any], body: dict[str, Any]) -> bytes:
        """The VC for ``body`` (the footprint as served in ``api_version``), serialised."""
        key = cache_key(api_version, footprint_v2)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            return hit
        rendered = (await self.sign_many([body]))[0]
        if self.cache is not None:
            self.cache.put(key, rendered)
        return rendered

    async def sign_many(self, bodies: list[Body]) -> list[bytes]:
        """Sign and serialise ``bodies`` (no caching), in order; bytes (a stored footprint's
        JSON) only when ``takes_bytes``."""
        if not bodies:
            return []
        if self.executor is not None:
            # what the signer already holds here (e.g. credentials stored at publication) is
            # not sent to a worker, whose copy of the signer may not know it
            out: list[bytes | None] = [None] * len(bodies)
            if self._known is not None:
                out = [self._known(b) if isinstance(b, dict) else None for b in bodies]
            todo = [i for i, rendered in enumerate(out) if rendered is None]
            if todo:
                loop = asyncio.get_running_loop()
                step = -(-len(todo) // self.workers)
                chunks = [[bodies[i] for i in todo[lo:lo + step]] for lo in range(0, len(todo), step)]
                parts = await asyncio.gather(
                    *(loop.run_in_executor(self.executor, _sign_all, self._signer, chunk) for chunk in chunks))
                for i, rendered in zip(todo, (b for part in parts for b in part)):
                    out[i] = rendered
            return out  # type: ignore[return-value]
        if self._render is not None:
            render = self._render
            return [render(body) for body in bodies]
        out = []
        for body in bodies:
            signed = self._signer(json.loads(body) if isinstance(body, bytes) else body)
            if inspect.isawaitable(signed):
                signed = await signed
            out.append(dumps(signed))
        return out


def content_digest(body: bytes) -> str:
    """RFC 9530 ``Content-Digest`` value for ``body``."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class DetachedJws:
    """EdDSA JWS with a detached, unencoded payload: ``<header>..<signature>``."""

    def __init__(self, private_key: Ed25519PrivateKey, kid: str) -> None:
        self._key = private_key
        self.kid = kid
        header = {"alg": "EdDSA", "b64": False, "crit": ["b64"], "kid": kid}
        self._header = _b64u(json.dumps(header, separators=(",", ":")).encode())

    def sign(self, body: bytes) -> str:
        signature = self._key.sign(self._header.encode("ascii") + b"." + body)
        return f"{self._header}..{_b64u(signature)}"


def verify_detached_jws(value: str, body: bytes, public_key: Ed25519PublicKey) -> bool:
    """Check a ``JWS-Signature`` header value against the response body."""
    try:
        header_b64, empty, sig_b64 = value.split(".")
        if empty:
            return False
        header = json.loads(base64.urlsafe_b64decode(header_b64 + "=" * (-len(header_b64) % 4)))
        if header.get("alg") != "EdDSA" or header.get("b64") is not False or "b64" not in header.get("crit", []):
            return False
        signature = base64.urlsafe_b64decode(sig_b64 + "=" * (-len(sig_b64) % 4))
        public_key.verify(signature, header_b64.encode("ascii") + b"." + body)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not a valid signature"
        return False
