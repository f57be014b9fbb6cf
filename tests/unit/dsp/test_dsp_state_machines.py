"""Every transition of both DSP state machines, legal and illegal, from both roles.

The expected tables below are written out independently of ``connector.dsp`` from the spec's
state machine diagrams and message tables, so a wrong row in the product's table fails here.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.dsp import negotiation, transfer
from connector.dsp.errors import ProtocolError
from connector.dsp.messages import (
    ContractNegotiationEventMessage,
    ContractRequestMessage,
    Offer,
    Rule,
    TransferStartMessage,
)
from connector.dsp.states import Direction, NegMessage, NegState, Role, TransferMessage, TransferState

# "state": {"<sender C|P>:<message>": "next state"}; "-" is "no process yet".
NEG_EXPECTED: dict[str, dict[str, str]] = {
    "-": {"C:ContractRequestMessage": "REQUESTED", "P:ContractOfferMessage": "OFFERED"},
    "REQUESTED": {
        "P:ContractOfferMessage": "OFFERED",
        "P:ContractAgreementMessage": "AGREED",
        "C:ContractNegotiationTerminationMessage": "TERMINATED",
        "P:ContractNegotiationTerminationMessage": "TERMINATED",
    },
    "OFFERED": {
        "C:ContractRequestMessage": "REQUESTED",
        "C:ContractNegotiationEventMessage:ACCEPTED": "ACCEPTED",
        "C:ContractNegotiationTerminationMessage": "TERMINATED",
        "P:ContractNegotiationTerminationMessage": "TERMINATED",
    },
    "ACCEPTED": {
        "P:ContractAgreementMessage": "AGREED",
        "C:ContractNegotiationTerminationMessage": "TERMINATED",
        "P:ContractNegotiationTerminationMessage": "TERMINATED",
    },
    "AGREED": {
        "C:ContractAgreementVerificationMessage": "VERIFIED",
        "C:ContractNegotiationTerminationMessage": "TERMINATED",
        "P:ContractNegotiationTerminationMessage": "TERMINATED",
    },
    "VERIFIED": {
        "P:ContractNegotiationEventMessage:FINALIZED": "FINALIZED",
        "C:ContractNegotiationTerminationMessage": "TERMINATED",
        "P:ContractNegotiationTerminationMessage": "TERMINATED",
    },
    "FINALIZED": {},
    "TERMINATED": {},
}

TRANSFER_EXPECTED: dict[str, dict[str, str]] = {
    "-": {"C:TransferRequestMessage": "REQUESTED"},
    "REQUESTED": {
        "P:TransferStartMessage": "STARTED",
        "C:TransferTerminationMessage": "TERMINATED",
        "P:TransferTerminationMessage": "TERMINATED",
    },
    "STARTED": {
        "C:TransferCompletionMessage": "COMPLETED",
        "P:TransferCompletionMessage": "COMPLETED",
        "C:TransferSuspensionMessage": "SUSPENDED",
        "P:TransferSuspensionMessage": "SUSPENDED",
        "C:TransferTerminationMessage": "TERMINATED",
        "P:TransferTerminationMessage": "TERMINATED",
    },
    "SUSPENDED": {
        "C:TransferStartMessage": "STARTED",
        "P:TransferStartMessage": "STARTED",
        "C:TransferTerminationMessage": "TERMINATED",
        "P:TransferTerminationMessage": "TERMINATED",
    },
    "COMPLETED": {},
    "TERMINATED": {},
}

SENDER = {Role.CONSUMER: "C", Role.PROVIDER: "P"}


def _cases(expected, state_enum, kinds):
    for state_name, role, direction, kind in itertools.product(expected, Role, Direction, kinds):
        state = None if state_name == "-" else state_enum(state_name)
        sender = role if direction is Direction.SEND else role.peer
        target = expected[state_name].get(f"{SENDER[sender]}:{kind.value}")
        yield pytest.param(
            state, role, direction, kind, target,
            id=f"{state_name}-{role.value}-{direction.value}-{kind.value}",
        )


def _check(machine, terminal, state, role, direction, kind, target):
    if target is not None:
        assert machine.apply(state, role, direction, kind) == target
        return
    with pytest.raises(ProtocolError) as info:
        machine.apply(state, role, direction, kind)
    err = info.value
    assert err.reason and kind.value in err.reason
    if state is None and kind not in machine.TABLE.initial_messages:
        assert (err.status, err.code) == (404, "UnknownProcess")
    elif state in terminal:
        assert (err.status, err.code) == (400, "TerminalState")
    else:
        assert (err.status, err.code) == (400, "IllegalTransition")


@pytest.mark.parametrize(("state", "role", "direction", "kind", "target"),
                         list(_cases(NEG_EXPECTED, NegState, NegMessage)))
def test_negotiation_transition(state, role, direction, kind, target):
    _check(negotiation, {NegState.FINALIZED, NegState.TERMINATED}, state, role, direction, kind, target)


@pytest.mark.parametrize(("state", "role", "direction", "kind", "target"),
                         list(_cases(TRANSFER_EXPECTED, TransferState, TransferMessage)))
def test_transfer_transition(state, role, direction, kind, target):
    _check(transfer, {TransferState.COMPLETED, TransferState.TERMINATED}, state, role, direction, kind, target)


def test_expected_tables_cover_every_state():
    assert set(NEG_EXPECTED) - {"-"} == {s.value for s in NegState}
    assert set(TRANSFER_EXPECTED) - {"-"} == {s.value for s in TransferState}


@pytest.mark.parametrize("machine,expected,state_enum", [
    (negotiation, NEG_EXPECTED, NegState),
    (transfer, TRANSFER_EXPECTED, TransferState),
])
def test_legal_messages_match_the_table_for_each_role(machine, expected, state_enum):
    for state_name, role in itertools.product(expected, Role):
        state = None if state_name == "-" else state_enum(state_name)
        want = {key.split(":", 1)[1] for key in expected[state_name] if key.startswith(SENDER[role] + ":")}
        assert {k.value for k in machine.legal_messages(state, role)} == want, (state_name, role)


@pytest.mark.parametrize("state", [NegState.FINALIZED, NegState.TERMINATED])
def test_terminal_negotiation_rejects_everything(state):
    for role, direction, kind in itertools.product(Role, Direction, NegMessage):
        with pytest.raises(ProtocolError) as info:
            negotiation.apply(state, role, direction, kind)
        assert info.value.status == 400 and info.value.code == "TerminalState"
    assert negotiation.legal_messages(state, Role.CONSUMER) == ()
    assert negotiation.legal_messages(state, Role.PROVIDER) == ()


@pytest.mark.parametrize("state", [TransferState.COMPLETED, TransferState.TERMINATED])
def test_terminal_transfer_rejects_everything(state):
    for role, direction, kind in itertools.product(Role, Direction, TransferMessage):
        with pytest.raises(ProtocolError) as info:
            transfer.apply(state, role, direction, kind)
        assert info.value.status == 400 and info.value.code == "TerminalState"


def test_apply_accepts_models_dicts_and_type_names():
    offer = Offer(id="urn:o", target="urn:d", permission=[Rule(action="use")])
    request = ContractRequestMessage(consumer_pid="c", offer=offer, callback_address="https://c/cb")
    assert negotiation.apply(None, Role.PROVIDER, "receive", request) is NegState.REQUESTED
    event = ContractNegotiationEventMessage(consumer_pid="c", provider_pid="p", event_type="ACCEPTED")
    assert negotiation.apply(NegState.OFFERED, Role.PROVIDER, "receive", event) is NegState.ACCEPTED
    assert negotiation.apply(NegState.VERIFIED, Role.CONSUMER, "receive",
                             {"@type": "ContractNegotiationEventMessage", "eventType": "FINALIZED"}) is NegState.FINALIZED
    start = TransferStartMessage(consumer_pid="c", provider_pid="p")
    assert transfer.apply(TransferState.REQUESTED, Role.CONSUMER, "receive", start) is TransferState.STARTED
    assert transfer.apply(TransferState.STARTED, "provider", "send", "TransferSuspensionMessage") is TransferState.SUSPENDED


def test_the_wrong_sender_is_named_in_the_reason():
    with pytest.raises(ProtocolError) as info:
        negotiation.apply(NegState.VERIFIED, Role.CONSUMER, Direction.SEND, NegMessage.FINALIZED_EVENT)
    assert "only the provider" in info.value.reason
    with pytest.raises(ProtocolError) as info:
        transfer.apply(TransferState.REQUESTED, Role.CONSUMER, Direction.SEND, TransferMessage.TRANSFER_START)
    assert "only the provider" in info.value.reason


@pytest.mark.parametrize("message", [
    {"@type": "ContractNegotiationEventMessage", "eventType": "REJECTED"},
    {"@type": "TransferStartMessage"},
    "CatalogRequestMessage",
])
def test_messages_of_other_protocols_are_unknown(message):
    with pytest.raises(ProtocolError) as info:
        negotiation.apply(NegState.REQUESTED, Role.PROVIDER, "receive", message)
    assert (info.value.status, info.value.code) == (400, "UnknownMessage")


def test_transfer_rejects_negotiation_messages():
    with pytest.raises(ProtocolError) as info:
        transfer.apply(TransferState.STARTED, Role.PROVIDER, "receive", "ContractRequestMessage")
    assert info.value.code == "UnknownMessage"


def test_is_retry_recognises_a_resent_message():
    # The consumer resends its initial request because the provider's ACK was lost.
    assert negotiation.is_retry(NegState.REQUESTED, Role.PROVIDER, "receive", NegMessage.CONTRACT_REQUEST)
    # The provider's answering start after a consumer-side resume, while already STARTED.
    assert transfer.is_retry(TransferState.STARTED, Role.CONSUMER, "receive", TransferMessage.TRANSFER_START)
    assert not negotiation.is_retry(NegState.REQUESTED, Role.PROVIDER, "receive", NegMessage.AGREEMENT_VERIFICATION)
    assert not negotiation.is_retry(NegState.REQUESTED, Role.CONSUMER, "receive", NegMessage.CONTRACT_REQUEST)
    assert not negotiation.is_retry(None, Role.PROVIDER, "receive", NegMessage.CONTRACT_REQUEST)
    # Terminal states accept nothing, not even a repeated termination.
    assert not negotiation.is_retry(NegState.TERMINATED, Role.PROVIDER, "receive", NegMessage.TERMINATION)
    assert not transfer.is_retry(TransferState.COMPLETED, Role.PROVIDER, "receive", TransferMessage.TRANSFER_COMPLETION)


def test_ack_bodies_report_the_state():
    body = negotiation.ack(consumer_pid="c", provider_pid="p", state=NegState.AGREED).to_dict()
    assert body["@type"] == "ContractNegotiation" and body["state"] == "AGREED"
    body = transfer.ack(consumer_pid="c", provider_pid="p", state=TransferState.SUSPENDED).to_dict()
    assert body["@type"] == "TransferProcess" and body["state"] == "SUSPENDED"


def _walk(machine, choices, max_steps):
    """Both parties track the process; the sender applies SEND, the receiver RECEIVE."""
    ours = {Role.CONSUMER: None, Role.PROVIDER: None}
    for step in range(max_steps):
        role = choices.draw(st.sampled_from(list(Role)))
        legal = machine.legal_messages(ours[role], role)
        if not legal:
            other = machine.legal_messages(ours[role.peer], role.peer)
            if not other:
                return ours
            role, legal = role.peer, other
        kind = choices.draw(st.sampled_from(legal))
        sent = machine.apply(ours[role], role, Direction.SEND, kind)
        received = machine.apply(ours[role.peer], role.peer, Direction.RECEIVE, kind)
        assert sent == received
        ours = {role: sent, role.peer: received}
        # Anything the table does not list for this sender is refused in the new state.
        for illegal in set(machine.TABLE.message_kinds) - set(machine.legal_messages(sent, role)):
            with pytest.raises(ProtocolError):
                machine.apply(sent, role, Direction.SEND, illegal)
    return ours


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_random_negotiations_keep_both_parties_in_step(data):
    final = _walk(negotiation, data, 30)
    assert final[Role.CONSUMER] == final[Role.PROVIDER]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_random_transfers_keep_both_parties_in_step(data):
    final = _walk(transfer, data, 30)
    assert final[Role.CONSUMER] == final[Role.PROVIDER]
