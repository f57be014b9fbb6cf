"""What EDC / Tractus-X EDC and older DSP peers send is read as its 2025-1 equivalent."""

from __future__ import annotations

import pytest

from connector.dsp import schemas
from connector.dsp.errors import MalformedMessage, ProtocolError
from connector.dsp.messages import ContractRequestMessage, RootCatalog, TransferTerminationMessage, parse
from connector.dsp.normalize import compact_term, normalize

DSP = "https://w3id.org/dspace/2025/1/context.jsonld"


def test_compact_term_handles_prefixes_and_iris_of_every_dsp_version():
    assert compact_term("dspace:consumerPid") == "consumerPid"
    assert compact_term("https://w3id.org/dspace/v0.8/providerPid") == "providerPid"
    assert compact_term("https://w3id.org/dspace/2024/1/agreementId") == "agreementId"
    assert compact_term("odrl:permission") == "permission"
    assert compact_term("http://www.w3.org/ns/odrl/2/use") == "use"
    assert compact_term("dct:format") == "format"
    assert compact_term("dcat:endpointURL") == "endpointURL"
    # Unknown vocabularies are left alone.
    assert compact_term("https://w3id.org/catenax/policy/Membership") == "https://w3id.org/catenax/policy/Membership"
    assert compact_term("edc:assetId") == "edc:assetId"
    assert compact_term("did:web:example.com") == "did:web:example.com"


def test_edc_contract_request():
    edc = {
        "@context": [DSP, "https://w3id.org/edc/dspace/v0.0.1"],
        "@id": "urn:uuid:message-id",
        "@type": "dspace:ContractRequestMessage",
        "dspace:consumerPid": {"@id": "urn:uuid:c1"},
        "dspace:callbackAddress": "https://tw.example/protocol",
        "dspace:offer": {
            "@id": "offer-1", "@type": "odrl:Offer",
            "odrl:target": {"@id": "pcf-asset"},
            "odrl:assigner": {"@id": "did:web:jp.example"},
            "odrl:permission": {
                "odrl:action": {"@id": "odrl:use"},
                "odrl:constraint": {
                    "odrl:leftOperand": {"@id": "https://w3id.org/catenax/policy/FrameworkAgreement"},
                    "odrl:operator": {"@id": "odrl:eq"},
                    "odrl:rightOperand": "DataExchangeGovernance:1.0",
                },
            },
            "odrl:prohibition": [],
            "odrl:obligation": [],
        },
    }
    body = normalize(edc)
    schemas.validate(body)
    assert body["@context"] == [DSP] and "@id" not in body
    offer = body["offer"]
    assert offer["target"] == "pcf-asset" and offer["assigner"] == "did:web:jp.example"
    assert offer["permission"] == [{
        "action": "use",
        "constraint": [{"leftOperand": "https://w3id.org/catenax/policy/FrameworkAgreement",
                        "operator": "eq", "rightOperand": "DataExchangeGovernance:1.0"}],
    }]
    assert "prohibition" not in offer and "obligation" not in offer
    msg = parse(edc)
    assert isinstance(msg, ContractRequestMessage) and msg.consumer_pid == "urn:uuid:c1"


def test_v08_style_inline_context_and_string_reason():
    old = {
        "@context": {"@vocab": "https://w3id.org/edc/v0.0.1/ns/", "dspace": "https://w3id.org/dspace/v0.8/"},
        "@type": "dspace:TransferTerminationMessage",
        "dspace:providerPid": "p", "dspace:consumerPid": "c",
        "dspace:code": "410", "dspace:reason": "agreement expired",
    }
    msg = parse(old)
    assert msg == TransferTerminationMessage(provider_pid="p", consumer_pid="c", code="410", reason=["agreement expired"])


def test_reason_objects_and_value_objects():
    body = normalize({
        "@context": [DSP], "@type": "ContractNegotiationError", "providerPid": "p", "consumerPid": "c",
        "reason": {"@value": "policy denied"}, "code": {"@value": "403", "@type": "xsd:string"},
    })
    assert body["reason"] == ["policy denied"] and body["code"] == "403"
    schemas.validate(body)


def test_vocabulary_values_are_compacted():
    body = normalize({"@context": [DSP], "@type": "ContractNegotiationEventMessage", "providerPid": "p",
                      "consumerPid": "c", "eventType": "https://w3id.org/dspace/v0.8/FINALIZED"})
    assert body["eventType"] == "FINALIZED"
    body = normalize({"@context": [DSP], "@type": "TransferProcess", "providerPid": "p", "consumerPid": "c",
                      "dspace:state": {"@id": "dspace:STARTED"}})
    assert body["state"] == "STARTED"


def test_edc_catalog_with_single_objects_and_targets_on_offers():
    edc = {
        "@context": [DSP, "https://w3id.org/edc/dspace/v0.0.1"],
        "@id": "urn:cat", "@type": "dcat:Catalog",
        "dspace:participantId": "did:web:jp.example",
        "dcat:service": {"@id": "svc", "@type": "dcat:DataService", "dcat:endpointURL": "https://jp.example/dsp"},
        "dcat:dataset": {
            "@id": "pcf-asset", "@type": "dcat:Dataset",
            "odrl:hasPolicy": {"@id": "offer-1", "@type": "odrl:Offer", "odrl:target": {"@id": "pcf-asset"},
                               "odrl:permission": [{"odrl:action": "odrl:use"}]},
            "dcat:distribution": [{"@type": "dcat:Distribution", "dct:format": {"@id": "HttpData-PULL"},
                                   "dcat:accessService": {"@id": "svc"}}],
            "edc:description": "battery PCF",
        },
    }
    catalog = parse(edc)
    assert isinstance(catalog, RootCatalog)
    ds = catalog.dataset[0]
    assert ds.id == "pcf-asset" and ds.has_policy[0].target is None
    assert ds.distribution[0].format == "HttpData-PULL" and ds.distribution[0].access_service == "svc"
    schemas.validate(catalog.to_dict())


def test_empty_arrays_mean_absent():
    body = normalize({"@context": [DSP], "@type": "Catalog", "@id": "c", "participantId": "p",
                      "dataset": [], "service": [], "catalog": []})
    assert body == {"@context": [DSP], "@type": "Catalog", "@id": "c", "participantId": "p"}
    schemas.validate(body)


def test_catalog_request_filter_keeps_an_empty_array():
    assert normalize({"@context": [DSP], "@type": "CatalogRequestMessage", "filter": []})["filter"] == []


def test_dataset_request_keeps_a_single_dataset_iri():
    body = normalize({"@context": [DSP], "@type": "DatasetRequestMessage", "dspace:dataset": {"@id": "urn:ds"}})
    assert body["dataset"] == "urn:ds"


@pytest.mark.parametrize("bad", [None, "text", 42, ["a"]])
def test_non_objects_are_malformed(bad):
    with pytest.raises(MalformedMessage):
        normalize(bad)


def test_the_same_property_twice_is_ambiguous():
    with pytest.raises(MalformedMessage, match="appears twice"):
        normalize({"@context": [DSP], "@type": "TransferProcess", "consumerPid": "a", "dspace:consumerPid": "b"})


def test_absurd_nesting_is_refused_without_recursion_error():
    deep: dict = {"leaf": 1}
    for _ in range(200):
        deep = {"x": deep}
    with pytest.raises(ProtocolError, match="deeper"):
        normalize({"@context": [DSP], "@type": "CatalogRequestMessage", "filter": [deep]})


def test_normalize_does_not_mutate_its_input():
    edc = {"@context": [DSP], "@type": "dspace:TransferCompletionMessage", "dspace:providerPid": "p",
           "dspace:consumerPid": "c"}
    snapshot = repr(edc)
    normalize(edc)
    assert repr(edc) == snapshot


def test_terms_the_context_does_not_define_keep_their_prefix():
    assert compact_term("http://purl.org/dc/terms/title") == "dct:title"
    assert compact_term("dcat:keyword") == "dcat:keyword"
    assert compact_term("odrl:spatial") == "odrl:spatial"
    assert compact_term("odrl:spatial", vocab=True) == "spatial"
