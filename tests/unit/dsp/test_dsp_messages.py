"""Wire models: everything we serialise validates against the 2025-1 schemas; rules the
schemas and spec text impose are enforced; peers' variants are read."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.dsp import schemas
from connector.dsp.errors import ProtocolError
from connector.dsp.messages import (
    MESSAGE_TYPES,
    Agreement,
    AtomicConstraint,
    CatalogError,
    CatalogRequestMessage,
    ContractAgreementMessage,
    ContractAgreementVerificationMessage,
    ContractNegotiation,
    ContractNegotiationError,
    ContractNegotiationEventMessage,
    ContractNegotiationTerminationMessage,
    ContractOfferMessage,
    ContractRequestMessage,
    DataAddress,
    DataService,
    Dataset,
    DatasetRequestMessage,
    Distribution,
    LogicalConstraint,
    Offer,
    RootCatalog,
    RootDataset,
    Rule,
    TransferCompletionMessage,
    TransferError,
    TransferProcess,
    TransferRequestMessage,
    TransferStartMessage,
    TransferSuspensionMessage,
    TransferTerminationMessage,
    VersionResponse,
    parse,
    timestamp_now,
)
from connector.dsp.states import NegState, TransferState

C, P = "urn:uuid:consumer-1", "urn:uuid:provider-1"


def _rule() -> Rule:
    return Rule(
        action="use",
        constraint=[
            AtomicConstraint(left_operand="purpose", operator="eq", right_operand="pcf-exchange"),
            LogicalConstraint(or_=[
                AtomicConstraint(left_operand="spatial", operator="isAnyOf", right_operand=["JP", "TW"]),
                AtomicConstraint(left_operand="dateTime", operator="lteq", right_operand="2030-01-01T00:00:00Z"),
            ]),
        ],
    )


def _offer(target: str | None = "urn:ds:1") -> Offer:
    return Offer(id="urn:offer:1", target=target, permission=[_rule()])


def _agreement() -> Agreement:
    return Agreement(id="urn:agr:1", target="urn:ds:1", assigner="did:web:jp.example",
                     assignee="did:web:tw.example", permission=[_rule()])


def _service() -> DataService:
    return DataService(id="urn:svc:1", endpoint_url="https://jp.example/api/dsp")


def _dataset(cls=Dataset):
    return cls(id="urn:ds:1", has_policy=[_offer(None)],
               distribution=[Distribution(format="HttpData-PULL", access_service="urn:svc:1")])


def _address() -> DataAddress:
    return DataAddress.with_properties("https://w3id.org/idsa/v4.1/HTTP", "https://jp.example/pact/3/footprints",
                                       authorization="eyJ.token", authType="bearer")


ONE_OF_EACH = [
    CatalogRequestMessage(filter=[{"operandLeft": "id", "operator": "=", "operandRight": "x"}]),
    CatalogRequestMessage(),
    DatasetRequestMessage(dataset="urn:ds:1"),
    CatalogError(code="403", reason="not a member"),
    RootCatalog(id="urn:cat:1", participant_id="did:web:jp.example", service=[_service()], dataset=[_dataset()]),
    _dataset(RootDataset),
    ContractRequestMessage(consumer_pid=C, offer=_offer(), callback_address="https://tw.example/cb"),
    ContractRequestMessage(consumer_pid=C, provider_pid=P, offer=_offer()),
    ContractOfferMessage(provider_pid=P, offer=_offer(), callback_address="https://jp.example/cb"),
    ContractOfferMessage(provider_pid=P, consumer_pid=C, offer=_offer()),
    ContractAgreementMessage(provider_pid=P, consumer_pid=C, agreement=_agreement()),
    ContractAgreementVerificationMessage(provider_pid=P, consumer_pid=C),
    ContractNegotiationEventMessage(provider_pid=P, consumer_pid=C, event_type="ACCEPTED"),
    ContractNegotiationEventMessage(provider_pid=P, consumer_pid=C, event_type="FINALIZED"),
    ContractNegotiationTerminationMessage(provider_pid=P, consumer_pid=C, code="policy", reason=["denied"]),
    ContractNegotiationTerminationMessage(provider_pid=P, consumer_pid=C),
    ContractNegotiation(provider_pid=P, consumer_pid=C, state=NegState.VERIFIED),
    ContractNegotiationError(provider_pid=P, consumer_pid=C, code="400", reason=[{"detail": "x"}]),
    TransferRequestMessage(consumer_pid=C, agreement_id="urn:agr:1", format="HttpData-PULL",
                           callback_address="https://tw.example/cb"),
    TransferRequestMessage(consumer_pid=C, agreement_id="urn:agr:1", format="HttpData-PUSH",
                           callback_address="https://tw.example/cb", data_address=_address()),
    TransferStartMessage(provider_pid=P, consumer_pid=C, data_address=_address()),
    TransferStartMessage(provider_pid=P, consumer_pid=C),
    TransferSuspensionMessage(provider_pid=P, consumer_pid=C, reason="maintenance"),
    TransferCompletionMessage(provider_pid=P, consumer_pid=C),
    TransferTerminationMessage(provider_pid=P, consumer_pid=C, code="expired"),
    TransferProcess(provider_pid=P, consumer_pid=C, state=TransferState.SUSPENDED),
    TransferError(provider_pid=P, consumer_pid=C, reason=["no such agreement"]),
]


def test_one_of_each_covers_every_message_type():
    assert {type(m) for m in ONE_OF_EACH} == set(MESSAGE_TYPES.values())


@pytest.mark.parametrize("message", ONE_OF_EACH, ids=lambda m: type(m).__name__)
def test_serialised_message_validates_and_reads_back(message):
    body = message.to_dict()
    assert body["@context"] == ["https://w3id.org/dspace/2025/1/context.jsonld"]
    assert list(body)[:2] == ["@context", "@type"]
    schemas.validate(body)
    assert parse(body) == message


def test_version_document_validates():
    doc = VersionResponse.for_2025_1("/api/dsp/2025-1", auth_profiles=["vc20-bssl/jwt"]).to_dict()
    schemas.validate(doc, "VersionResponse")
    assert "@context" not in doc
    assert doc["protocolVersions"][0] == {
        "version": "2025-1", "path": "/api/dsp/2025-1", "binding": "HTTPS", "identifierType": "did:web",
        "auth": {"protocol": "DCP", "version": "1.0", "profile": ["vc20-bssl/jwt"]},
    }


def test_counter_offer_request_emits_provider_pid_not_callback():
    msg = ContractRequestMessage(consumer_pid=C, provider_pid=P, offer=_offer(), callback_address="https://x/cb")
    body = msg.to_dict()
    assert "callbackAddress" not in body and body["providerPid"] == P
    schemas.validate(body)


def test_offer_message_to_known_consumer_emits_consumer_pid_not_callback():
    body = ContractOfferMessage(provider_pid=P, consumer_pid=C, offer=_offer(), callback_address="https://x").to_dict()
    assert "callbackAddress" not in body
    schemas.validate(body)


def test_initial_messages_need_a_callback_address():
    with pytest.raises(ValueError, match="callbackAddress"):
        ContractRequestMessage(consumer_pid=C, offer=_offer())
    with pytest.raises(ValueError, match="callbackAddress"):
        ContractOfferMessage(provider_pid=P, offer=_offer())


def test_offer_message_needs_a_target():
    with pytest.raises(ValueError, match="target"):
        ContractOfferMessage(provider_pid=P, consumer_pid=C, offer=_offer(None))


def test_catalog_offers_have_no_target():
    with pytest.raises(ValueError, match="must not have a target"):
        Dataset(id="urn:ds:1", has_policy=[_offer("urn:ds:1")],
                distribution=[Distribution(format="HttpData-PULL", access_service="urn:svc:1")])


def test_policies_need_a_permission_or_prohibition():
    with pytest.raises(ValueError, match="permission or prohibition"):
        Offer(id="urn:o", target="urn:d", obligation=[Rule(action="compensate")])
    Offer(id="urn:o", target="urn:d", prohibition=[Rule(action="distribute")])


def test_rules_carry_no_target():
    with pytest.raises(ValueError, match="must not have a target"):
        Rule.model_validate({"action": "use", "target": "urn:ds:1"})


def test_logical_constraint_has_exactly_one_operator():
    with pytest.raises(ValueError, match="exactly one"):
        LogicalConstraint.model_validate({
            "and": [{"leftOperand": "a", "operator": "eq", "rightOperand": "1"}],
            "or": [{"leftOperand": "b", "operator": "eq", "rightOperand": "2"}],
        })


def test_agreement_timestamp_is_an_xsd_datetime():
    assert schemas.is_valid({"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
                             **ContractAgreementMessage(provider_pid=P, consumer_pid=C, agreement=_agreement()).dump()},
                            "ContractAgreementMessage")
    with pytest.raises(ValueError, match="xsd:dateTime"):
        Agreement(id="a", target="t", assigner="x", assignee="y", timestamp="31/12/2025",
                  permission=[Rule(action="use")])
    assert timestamp_now().endswith("Z")


def test_reason_accepts_string_object_or_list():
    assert TransferError(provider_pid=P, consumer_pid=C, reason="x").reason == ["x"]
    assert TransferError(provider_pid=P, consumer_pid=C, reason={"msg": "x"}).reason == [{"msg": "x"}]
    assert TransferError(provider_pid=P, consumer_pid=C, reason=[]).reason is None
    assert "reason" not in TransferError(provider_pid=P, consumer_pid=C, reason=[]).to_dict()


def test_data_address_properties():
    address = _address()
    assert address.property("authorization") == "eyJ.token"
    assert address.property("authType") == "bearer"
    assert address.property("missing") is None
    assert DataAddress(endpoint_type="x", endpoint_properties=[]).dump() == {"@type": "DataAddress", "endpointType": "x"}


def test_root_catalog_requires_participant_id():
    with pytest.raises(ProtocolError) as info:
        parse({"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@type": "Catalog", "@id": "urn:c"})
    assert "participantId" in str(info.value.reasons())


def test_parse_with_expect_refuses_other_types():
    body = TransferCompletionMessage(provider_pid=P, consumer_pid=C).to_dict()
    with pytest.raises(ProtocolError) as info:
        parse(body, TransferStartMessage)
    assert info.value.status == 400 and "expected a TransferStartMessage" in info.value.reason
    assert isinstance(parse(body, TransferCompletionMessage), TransferCompletionMessage)


def test_model_errors_are_readable_protocol_errors():
    body = {"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@type": "ContractRequestMessage",
            "consumerPid": C, "providerPid": P,
            "offer": {"@type": "Offer", "@id": "o", "target": "t", "permission": [{"action": "use", "target": "t"}]}}
    with pytest.raises(ProtocolError) as info:
        parse(body)
    assert info.value.code == "MalformedMessage"
    assert "must not have a target" in info.value.reason


def test_unknown_top_level_terms_are_dropped_on_output():
    body = ContractAgreementVerificationMessage(provider_pid=P, consumer_pid=C).to_dict()
    body["edc:something"] = "x"
    body["@id"] = "urn:msg"
    assert parse(body).to_dict() == ContractAgreementVerificationMessage(provider_pid=P, consumer_pid=C).to_dict()


_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
# Keys of reason objects: plain words (JSON-LD keywords and prefixed terms are normalised).
_key = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10)


@settings(max_examples=60, deadline=None)
@given(consumer=_text, provider=_text, code=st.none() | _text,
       reason=st.none() | _text | st.lists(_text | st.dictionaries(_key, _text, max_size=2), min_size=1, max_size=3))
def test_termination_messages_with_any_content_validate_and_round_trip(consumer, provider, code, reason):
    for cls in (ContractNegotiationTerminationMessage, TransferTerminationMessage, TransferSuspensionMessage,
                ContractNegotiationError, TransferError):
        msg = cls(consumer_pid=consumer, provider_pid=provider, code=code, reason=reason)
        body = msg.to_dict()
        schemas.validate(body)
        assert parse(body) == msg
