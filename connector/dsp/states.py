"""The vocabulary shared by the wire models and the state machines: roles, states, message kinds."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CONSUMER = "consumer"
    PROVIDER = "provider"

    @property
    def peer(self) -> Role:
        return Role.PROVIDER if self is Role.CONSUMER else Role.CONSUMER


class Direction(StrEnum):
    """Whether we are about to send a message or have just received one."""

    SEND = "send"
    RECEIVE = "receive"


class NegState(StrEnum):
    """Contract negotiation states (DSP 2025-1, Contract Negotiation Protocol, States)."""

    REQUESTED = "REQUESTED"
    OFFERED = "OFFERED"
    ACCEPTED = "ACCEPTED"
    AGREED = "AGREED"
    VERIFIED = "VERIFIED"
    FINALIZED = "FINALIZED"
    TERMINATED = "TERMINATED"


class TransferState(StrEnum):
    """Transfer process states (DSP 2025-1, Transfer Process Protocol, States)."""

    REQUESTED = "REQUESTED"
    STARTED = "STARTED"
    SUSPENDED = "SUSPENDED"
    COMPLETED = "COMPLETED"
    TERMINATED = "TERMINATED"


class NegMessage(StrEnum):
    """What moves a negotiation. The event message counts as two kinds, one per ``eventType``,
    because the spec gives them different senders and different target states."""

    CONTRACT_REQUEST = "ContractRequestMessage"
    CONTRACT_OFFER = "ContractOfferMessage"
    CONTRACT_AGREEMENT = "ContractAgreementMessage"
    AGREEMENT_VERIFICATION = "ContractAgreementVerificationMessage"
    ACCEPTED_EVENT = "ContractNegotiationEventMessage:ACCEPTED"
    FINALIZED_EVENT = "ContractNegotiationEventMessage:FINALIZED"
    TERMINATION = "ContractNegotiationTerminationMessage"


class TransferMessage(StrEnum):
    TRANSFER_REQUEST = "TransferRequestMessage"
    TRANSFER_START = "TransferStartMessage"
    TRANSFER_SUSPENSION = "TransferSuspensionMessage"
    TRANSFER_COMPLETION = "TransferCompletionMessage"
    TRANSFER_TERMINATION = "TransferTerminationMessage"
