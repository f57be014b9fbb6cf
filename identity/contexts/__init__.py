"""Pinned JSON-LD contexts and the static document loader that serves them.

Nothing is ever fetched: a context URL resolves only if it is listed in `index.json` (or was
registered with `register_context`), and its file must match the pinned SHA-256. This closes
the door on context substitution, the JSON-LD analogue of swapping a signing key.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from identity.errors import ContextError

_HERE = Path(__file__).resolve().parent
MAX_CONTEXT_BYTES = 1_000_000


@dataclass(frozen=True)
class PinnedContext:
    url: str
    path: Path
    sha256: str


_registry: dict[str, PinnedContext] = {}
_loaded: dict[str, Any] = {}
_lock = threading.Lock()


def _load_index(index: Path) -> None:
    data = json.loads(index.read_text(encoding="utf-8"))
    for entry in data["contexts"]:
        register_context(entry["url"], index.parent / entry["file"], entry["sha256"])


def register_context(url: str, path: str | Path, sha256: str) -> None:
    """Pin one more context (e.g. a product-specific vocabulary) to a file and its hash.

    Re-registering a URL with a different file or hash is refused: a pin is a promise.
    """
    entry = PinnedContext(url, Path(path), sha256.lower())
    with _lock:
        old = _registry.get(url)
        if old is not None and old != entry:
            raise ContextError(f"context {url} is already pinned to {old.path.name} ({old.sha256[:12]}...)")
        _registry[url] = entry


def register_index(index: str | Path) -> None:
    """Register every entry of an index file shaped like this package's `index.json`."""
    _load_index(Path(index))


def pinned_urls() -> list[str]:
    return sorted(_registry)


def is_pinned(url: str) -> bool:
    return url in _registry


def load_context(url: str) -> Any:
    """The parsed context document for a pinned URL (hash-checked on first use, then cached).

    Callers must not mutate the returned object; it is shared.
    """
    cached = _loaded.get(url)
    if cached is not None:
        return cached
    if not isinstance(url, str):
        raise ContextError(f"context reference must be a URL string, got {type(url).__name__}")
    entry = _registry.get(url)
    if entry is None:
        raise ContextError(f"context {url} is not pinned; remote contexts are never fetched")
    try:
        raw = entry.path.read_bytes()
    except OSError as exc:
        raise ContextError(f"pinned context {url} cannot be read from {entry.path}: {exc.strerror}") from exc
    if len(raw) > MAX_CONTEXT_BYTES:
        raise ContextError(f"pinned context {url} is larger than {MAX_CONTEXT_BYTES} bytes")
    digest = hashlib.sha256(raw).hexdigest()
    if digest != entry.sha256:
        raise ContextError(
            f"pinned context {url} fails its hash check (file {entry.path.name} has sha256 {digest}, "
            f"expected {entry.sha256})"
        )
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise ContextError(f"pinned context {url} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or "@context" not in document:
        raise ContextError(f"pinned context {url} has no top-level @context")
    with _lock:
        _loaded[url] = document
    return document


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """A pyld-compatible document loader that serves only pinned contexts."""
    return {"contextUrl": None, "documentUrl": url, "document": load_context(url)}


_load_index(_HERE / "index.json")
