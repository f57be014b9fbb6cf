"""Who is calling, as far as the protocol layer needs to know.

The DSP handlers depend only on this interface; the DCP implementation (self-issued ID token
+ presentation query + trust list) lives in `connector.dcp_auth`. Keeping the interface here lets
the protocol code and its tests stay independent of how identity is proven.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
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


@dataclass
class PendingReplay:
    """A verified token's id that still has to be recorded as used (the replay check).

    For DSP messages that change a process, the authenticator leaves the record to the
    transaction of that change (`connector.protocol.processes.run_in_tx`): the token id and
    the state change commit together, or the request is refused and nothing is written. The
    request's handler records it on its own if no such transaction ran (`recorded` says
    whether it was)."""

    key: str
    expires_at: datetime
    reason: str
    recorded: bool = False


#: The pending replay record of the DSP request this task is serving, if any.
PENDING_REPLAY: ContextVar[PendingReplay | None] = ContextVar("kakehashi_pending_replay", default=None)
