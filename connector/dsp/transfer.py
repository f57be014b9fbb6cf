"""The transfer process state machine of DSP 2025-1 as one transition table.

Rows follow the spec's state machine (Transfer Process Protocol, "State Machine", and its
``transfer-process-state-machine.puml``): C = sent by the consumer, P = by the provider.

    (none)    --TransferRequestMessage C-->          REQUESTED
    REQUESTED --TransferStartMessage P-->            STARTED
    STARTED   --TransferCompletionMessage C or P-->  COMPLETED
    STARTED   --TransferSuspensionMessage C or P-->  SUSPENDED
    SUSPENDED --TransferStartMessage C or P-->       STARTED     (resumption)
    REQUESTED, STARTED, SUSPENDED --TransferTerminationMessage C or P--> TERMINATED

COMPLETED and TERMINATED are terminal. When the consumer resumes a pull transfer, the
provider answers its TransferStartMessage with one of its own carrying a fresh
``dataAddress``; in STARTED that second start is not a transition, so the HTTP layer treats
it as the reply it is (see :func:`is_retry`) rather than through :func:`apply`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ProtocolError
from .machine import TransitionTable, rows_for_all
from .messages import DspMessage, TransferProcess
from .states import Direction, Role, TransferMessage, TransferState

__all__ = [
    "TABLE", "NON_TERMINAL", "TERMINAL", "apply", "legal_messages", "is_retry", "message_kind", "ack",
    "TransferState", "TransferMessage", "Role", "Direction",
]

C, P = Role.CONSUMER, Role.PROVIDER
TERMINAL = frozenset({TransferState.COMPLETED, TransferState.TERMINATED})
NON_TERMINAL = tuple(s for s in TransferState if s not in TERMINAL)

TABLE: TransitionTable[TransferState, TransferMessage] = TransitionTable(
    name="transfer process",
    rows=(
        (None, C, TransferMessage.TRANSFER_REQUEST, TransferState.REQUESTED),
        (TransferState.REQUESTED, P, TransferMessage.TRANSFER_START, TransferState.STARTED),
        *rows_for_all([TransferState.STARTED], (C, P), TransferMessage.TRANSFER_COMPLETION, TransferState.COMPLETED),
        *rows_for_all([TransferState.STARTED], (C, P), TransferMessage.TRANSFER_SUSPENSION, TransferState.SUSPENDED),
        *rows_for_all([TransferState.SUSPENDED], (C, P), TransferMessage.TRANSFER_START, TransferState.STARTED),
        *rows_for_all(NON_TERMINAL, (C, P), TransferMessage.TRANSFER_TERMINATION, TransferState.TERMINATED),
    ),
    terminal=TERMINAL,
    message_kinds=TransferMessage,
)


def message_kind(message: TransferMessage | DspMessage | Mapping[str, Any] | str) -> TransferMessage:
    """The table's kind for a message (model, normalised dict, or ``@type``)."""
    if isinstance(message, DspMessage):
        type_ = getattr(message, "type", None)
    elif isinstance(message, Mapping):
        type_ = message.get("@type")
    else:
        type_ = message
    try:
        return TransferMessage(type_)
    except ValueError:
        raise ProtocolError(400, "UnknownMessage", f"{type_!r} is not a transfer process message") from None


def apply(
    state: TransferState | None,
    role: Role,
    direction: Direction | str,
    message: TransferMessage | DspMessage | Mapping[str, Any] | str,
) -> TransferState:
    """The transfer state after ``message``, or :class:`ProtocolError` (400 illegal or
    terminal, 404 when ``state`` is ``None`` and the message cannot start a transfer)."""
    return TABLE.apply(state, role, direction, message_kind(message))


def legal_messages(state: TransferState | None, role: Role) -> tuple[TransferMessage, ...]:
    """What ``role`` may send in ``state`` (for the Management API's suspend/resume/terminate)."""
    return TABLE.legal_messages(state, role)


def is_retry(state: TransferState | None, role: Role, direction: Direction | str,
             message: TransferMessage | DspMessage | Mapping[str, Any] | str) -> bool:
    """Whether ``message`` may be a resend of the one that produced ``state`` (see
    :meth:`TransitionTable.is_retry`)."""
    return TABLE.is_retry(state, role, direction, message_kind(message))


def ack(*, consumer_pid: str, provider_pid: str, state: TransferState) -> TransferProcess:
    """The ACK body (``TransferProcess``) reporting ``state``."""
    return TransferProcess(consumer_pid=consumer_pid, provider_pid=provider_pid, state=state)
