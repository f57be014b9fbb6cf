"""Store errors: each names the record and what went wrong, so callers can map to HTTP."""

from __future__ import annotations


class StoreError(Exception):
    """Base class for every error raised by the store."""


class NotFound(StoreError):
    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} does not exist")
        self.kind = kind
        self.key = key


class AlreadyExists(StoreError):
    def __init__(self, kind: str, key: str, detail: str = "") -> None:
        msg = f"{kind} {key!r} already exists"
        super().__init__(f"{msg}: {detail}" if detail else msg)
        self.kind = kind
        self.key = key


class ConcurrentUpdate(StoreError):
    """Compare-and-set failed: someone else changed the row since it was read."""

    def __init__(self, kind: str, key: str, expected_version: int, actual_version: int | None) -> None:
        super().__init__(
            f"{kind} {key!r} was changed concurrently: expected version {expected_version}, "
            f"found {actual_version}; re-read it and apply the change again"
        )
        self.kind = kind
        self.key = key
        self.expected_version = expected_version
        self.actual_version = actual_version


class InvalidQuery(StoreError, ValueError):
    """A QuerySpec names an unknown field, operator or bad value (HTTP 400)."""
