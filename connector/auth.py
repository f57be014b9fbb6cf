"""Who is calling, as far as the protocol layer needs to know.

The DSP handlers depend only on this interface; the DCP implementation (self-issued ID token
+ presentation query + trust list) lives in `connector.dcp_auth`. Keeping the interface here lets
the protocol code and its tests stay independent of how identity is proven.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web


class AuthError(Exception):
    """A request was refused. `status` is 401 (who are you?) or 403 (not allowed)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Caller:
    """A counter-party whose identity and credentials were verified for this request."""

    participant_id: str
    credentials: tuple[dict[str, Any], ...] = ()
    data_spaces: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


class Authenticator(Protocol):
    async def authenticate(self, request: web.Request) -> Caller:
        """Verify the caller of an incoming protocol request or raise AuthError."""

    async def outgoing_authorization(self, audience: str) -> str:
        """The `Authorization` header value for a request we send to `audience` (a DID)."""
