"""The contract negotiation state machine of DSP 2025-1 as one transition table.

Rows follow the spec's state machine (Contract Negotiation Protocol, "State Machine", and its
``contract.negotiation.state.machine.puml``): C = sent by the consumer, P = by the provider.

    (none)    --ContractRequestMessage C-->         REQUESTED
    (none)    --ContractOfferMessage P-->           OFFERED
    REQUESTED --ContractOfferMessage P-->           OFFERED     (provider counter-offer)
    REQUESTED --ContractAgreementMessage P-->       AGREED
    OFFERED   --ContractRequestMessage C-->         REQUESTED   (consumer counter-offer)
    OFFERED   --ContractNegotiationEvent ACCEPTED C--> ACCEPTED
    ACCEPTED  --ContractAgreementMessage P-->       AGREED
    AGREED    --ContractAgreementVerificationMessage C--> VERIFIED
    VERIFIED  --ContractNegotiationEvent FINALIZED P--> FINALIZED
    any non-terminal --ContractNegotiationTerminationMessage C or P--> TERMINATED

FINALIZED and TERMINATED are terminal. Termination follows the message's normative text
("can be sent at any state of a CN" by consumer or provider); the 2025-1 diagram draws fewer
termination arrows (only P from ACCEPTED and VERIFIED, only C from AGREED), which EDC does
not follow either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ProtocolError
from .machine import TransitionTable, rows_for_all
from .messages import ContractNegotiation, ContractNegotiationEventMessage, DspMessage
from .states import Direction, NegMessage, NegState, Role

__all__ = [
    "TABLE", "NON_TERMINAL", "TERMINAL", "apply", "legal_messages", "is_retry", "message_kind", "ack",
    "NegState", "NegMessage", "Role", "Direction",
]

C, P = Role.CONSUMER, Role.PROVIDER
TERMINAL = frozenset({NegState.FINALIZED, NegState.TERMINATED})
NON_TERMINAL = tuple(s for s in NegState if s not in TERMINAL)

TABLE: TransitionTable[NegState, NegMessage] = TransitionTable(
    name="contract negotiation",
    rows=(
        (None, C, NegMessage.CONTRACT_REQUEST, NegState.REQUESTED),
        (None, P, NegMessage.CONTRACT_OFFER, NegState.OFFERED),
        (NegState.REQUESTED, P, NegMessage.CONTRACT_OFFER, NegState.OFFERED),
        (NegState.REQUESTED, P, NegMessage.CONTRACT_AGREEMENT, NegState.AGREED),
        (NegState.OFFERED, C, NegMessage.CONTRACT_REQUEST, NegState.REQUESTED),
        (NegState.OFFERED, C, NegMessage.ACCEPTED_EVENT, NegState.ACCEPTED),
        (NegState.ACCEPTED, P, NegMessage.CONTRACT_AGREEMENT, NegState.AGREED),
        (NegState.AGREED, C, NegMessage.AGREEMENT_VERIFICATION, NegState.VERIFIED),
        (NegState.VERIFIED, P, NegMessage.FINALIZED_EVENT, NegState.FINALIZED),
        *rows_for_all(NON_TERMINAL, (C, P), NegMessage.TERMINATION, NegState.TERMINATED),
    ),
    terminal=TERMINAL,
    message_kinds=NegMessage,
)


def message_kind(message: DspMessage | Mapping[str, Any] | str) -> NegMessage:
    """The table's kind for a message (model, normalised dict, or ``@type``); events split by
    ``eventType``."""
    if isinstance(message, ContractNegotiationEventMessage):
        return NegMessage(f"{message.type}:{message.event_type}")
    if isinstance(message, DspMessage):
        type_, event = getattr(message, "type", None), None
    elif isinstance(message, Mapping):
        type_, event = message.get("@type"), message.get("eventType")
    else:
        type_, event = message, None
    if type_ == "ContractNegotiationEventMessage":
        if event not in ("ACCEPTED", "FINALIZED"):
            raise ProtocolError(400, "UnknownMessage", f"negotiation event type {event!r} is not ACCEPTED or FINALIZED")
        type_ = f"{type_}:{event}"
    try:
        return NegMessage(type_)
    except ValueError:
        raise ProtocolError(400, "UnknownMessage", f"{type_!r} is not a contract negotiation message") from None


def apply(
    state: NegState | None,
    role: Role,
    direction: Direction | str,
    message: NegMessage | DspMessage | Mapping[str, Any] | str,
) -> NegState:
    """The negotiation state after ``message``, or :class:`ProtocolError` (400 illegal or
    terminal, 404 when ``state`` is ``None`` and the message cannot start a negotiation)."""
    return TABLE.apply(state, role, direction, message_kind(message))


def legal_messages(state: NegState | None, role: Role) -> tuple[NegMessage, ...]:
    """What ``role`` may send in ``state`` (``None``: may it start a negotiation, and how)."""
    return TABLE.legal_messages(state, role)


def is_retry(state: NegState | None, role: Role, direction: Direction | str,
             message: NegMessage | DspMessage | Mapping[str, Any] | str) -> bool:
    """Whether ``message`` may be a resend of the one that produced ``state`` (see
    :meth:`TransitionTable.is_retry`)."""
    return TABLE.is_retry(state, role, direction, message_kind(message))


def ack(*, consumer_pid: str, provider_pid: str, state: NegState) -> ContractNegotiation:
    """The ACK body (``ContractNegotiation``) reporting ``state``."""
    return ContractNegotiation(consumer_pid=consumer_pid, provider_pid=provider_pid, state=state)
