"""A protocol state machine as one transition table, applied alike to both parties.

A DSP process (negotiation or transfer) has one shared state that both the consumer and the
provider track. Each row of a table says: in state S, a message of kind K *sent by* role R
moves the process to state T. Whether we are the sender or the receiver does not change the
rule, only whose message it is: when we send, the sender is our role; when we receive, it is
the peer's. The same table therefore checks what we are about to send and what arrives.

The engine is pure: no I/O, no clocks, no storage. Callers check a message with
:meth:`TransitionTable.apply` before sending it, commit the returned state when the peer
ACKs, and on receipt apply it before acknowledging.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from .errors import ProtocolError
from .states import Direction, Role

S = TypeVar("S", bound=StrEnum)
K = TypeVar("K", bound=StrEnum)

@dataclass(frozen=True)
class TransitionTable(Generic[S, K]):
    """``(state or None for "no process yet", sender role, message kind) -> next state``."""

    name: str
    rows: tuple[tuple[S | None, Role, K, S], ...]
    terminal: frozenset[S]
    message_kinds: type[K]
    _index: Mapping[tuple[S | None, Role, K], S] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[tuple[S | None, Role, K], S] = {}
        for state, sender, kind, target in self.rows:
            key = (state, sender, kind)
            if key in index and index[key] != target:
                raise ValueError(f"{self.name} table is ambiguous at {key}")
            if state in self.terminal:
                raise ValueError(f"{self.name} table leaves terminal state {state}")
            index[key] = target
        object.__setattr__(self, "_index", index)

    @property
    def initial_messages(self) -> frozenset[K]:
        return frozenset(kind for state, _, kind, _ in self.rows if state is None)

    def _kind(self, message: K | str) -> K:
        try:
            return self.message_kinds(message)
        except ValueError:
            raise ProtocolError(
                400, "UnknownMessage", f"{message!r} is not a message of the {self.name} protocol"
            ) from None

    def apply(self, state: S | None, role: Role, direction: Direction | str, message: K | str) -> S:
        """The state after ``message``; raise :class:`ProtocolError` if the table forbids it.

        ``role`` is our role in the process and ``direction`` says whether we send or receive
        ``message``. ``state`` is ``None`` when no process exists yet (only an initiating
        message is then legal; anything else names a process we do not know: 404).
        """
        role = Role(role)
        direction = Direction(direction)
        kind = self._kind(message)
        sender = role if direction is Direction.SEND else role.peer
        target = self._index.get((state, sender, kind))
        if target is not None:
            return target
        raise self._refusal(state, role, direction, sender, kind)

    def _refusal(self, state: S | None, role: Role, direction: Direction, sender: Role, kind: K) -> ProtocolError:
        verb = "send" if direction is Direction.SEND else "receive"
        if state is None:
            if kind in self.initial_messages:
                return ProtocolError(
                    400, "IllegalTransition",
                    f"only the {self._senders_of(None, kind)} may start a {self.name} with {kind.value}; "
                    f"the {sender.value} sent it",
                )
            return ProtocolError(
                404, "UnknownProcess",
                f"no {self.name} exists for this {kind.value}: it can only follow an existing process",
            )
        if state in self.terminal:
            return ProtocolError(
                400, "TerminalState",
                f"the {self.name} is {state.value}, a terminal state: it accepts no further messages "
                f"(cannot {verb} {kind.value} as {role.value})",
            )
        senders = self._senders_of(state, kind)
        if senders:
            return ProtocolError(
                400, "IllegalTransition",
                f"in state {state.value} only the {senders} may send {kind.value}; "
                f"the {sender.value} cannot (we are the {role.value}, trying to {verb} it)",
            )
        allowed = sorted({k.value for (s, _, k) in self._index if s == state})
        return ProtocolError(
            400, "IllegalTransition",
            f"{kind.value} is not allowed in state {state.value} of a {self.name}; "
            f"allowed there: {', '.join(allowed)}",
        )

    def _senders_of(self, state: S | None, kind: K) -> str:
        roles = [r.value for r in Role if (state, r, kind) in self._index]
        return " or ".join(roles)

    def legal_messages(self, state: S | None, role: Role) -> tuple[K, ...]:
        """What ``role`` may send now, in table order (for the Management API)."""
        role = Role(role)
        seen: dict[K, None] = {}
        for s, sender, kind, _ in self.rows:
            if s == state and sender is role:
                seen.setdefault(kind, None)
        return tuple(seen)

    def is_retry(self, state: S | None, role: Role, direction: Direction | str, message: K | str) -> bool:
        """Whether ``message`` could be a repeat of the one that produced ``state``.

        Lets a receiver ACK a resent message idempotently (its sender retried because our
        ACK was lost) instead of rejecting it as an illegal transition. It only says the
        kind and sender fit; the caller still compares the content (pids, offer id).
        Terminal states are excluded: they reject everything (400), retries included.
        """
        if state is None or state in self.terminal:
            return False
        sender = Role(role) if Direction(direction) is Direction.SEND else Role(role).peer
        kind = self._kind(message)
        return any(t == state and r is sender and k == kind for (_, r, k), t in self._index.items())

    def states(self) -> tuple[S | None, ...]:
        """Every state the table mentions, ``None`` (no process) first."""
        found: dict[S | None, None] = {None: None}
        for s, _, _, t in self.rows:
            found.setdefault(s, None)
            found.setdefault(t, None)
        return tuple(found)


def rows_for_all(
    states: Iterable[S], senders: Iterable[Role], kind: K, target: S
) -> tuple[tuple[S, Role, K, S], ...]:
    """Rows for a message that every listed sender may send from every listed state."""
    senders = tuple(senders)
    return tuple((s, r, kind, target) for s in states for r in senders)
