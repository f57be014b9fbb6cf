from __future__ import annotations

import json

import pytest
from pyld import jsonld

from policies.errors import (
    InvalidOperandValueError, PolicyLimitError, PolicySyntaxError, UnknownOperandError, UnsupportedOperatorError,
)
from policies.jsonld import (
    CX_POLICY_CONTEXT, ODRL_CONTEXT, parse_policy, pinned_document_loader, to_dsp, to_edc, to_expanded,
)
from policies.limits import Limits
from policies.profiles.crossborder import pcf_exchange_policy
from policies.vocab import CX_POLICY, EDC, ODRL

DSP_OFFER = {
    "@type": "Offer", "@id": "urn:uuid:offer-1", "target": "urn:uuid:asset-1",
    "permission": [{"action": "use", "constraint": [
        {"leftOperand": "dateTime", "operator": "lteq", "rightOperand": "2023-12-31T06:00Z"}]}],
}

TRACTUSX = {
    "@context": [ODRL_CONTEXT, CX_POLICY_CONTEXT, {"@vocab": EDC}],
    "@type": "PolicyDefinition", "@id": "pcf-policy",
    "policy": {"@type": "Set", "permission": [{"action": "use", "constraint": [{"and": [
        {"leftOperand": "Membership", "operator": "eq", "rightOperand": "active"},
        {"leftOperand": "FrameworkAgreement", "operator": "eq", "rightOperand": "DataExchangeGovernance:1.0"},
        {"leftOperand": "UsagePurpose", "operator": "isAnyOf", "rightOperand": "cx.pcf.base:1"},
    ]}]}]},
}

EDC_PREFIXED = {
    "@context": {"odrl": ODRL, "cx-policy": CX_POLICY, "@vocab": EDC},
    "@type": "odrl:Set",
    "odrl:permission": [{"odrl:action": {"@id": "odrl:use"}, "odrl:constraint": {"odrl:and": [
        {"odrl:leftOperand": {"@id": "cx-policy:Membership"}, "odrl:operator": {"@id": "odrl:eq"},
         "odrl:rightOperand": "active"},
        {"odrl:leftOperand": {"@id": "cx-policy:FrameworkAgreement"}, "odrl:operator": {"@id": "odrl:eq"},
         "odrl:rightOperand": "DataExchangeGovernance:1.0"},
        {"odrl:leftOperand": {"@id": "cx-policy:UsagePurpose"}, "odrl:operator": {"@id": "odrl:isAnyOf"},
         "odrl:rightOperand": "cx.pcf.base:1"},
    ]}}],
}


def test_dsp_compact_offer() -> None:
    p = parse_policy(DSP_OFFER)
    assert p.type == "Offer" and p.uid == "urn:uuid:offer-1" and p.target == "urn:uuid:asset-1"
    c = p.permissions[0].constraints[0]
    assert c.left_operand == ODRL + "dateTime" and c.operator == "lteq"
    assert p.permissions[0].actions[0].iri == ODRL + "use"


def test_tractusx_and_edc_prefixed_shapes_mean_the_same() -> None:
    a, b = parse_policy(TRACTUSX), parse_policy(EDC_PREFIXED)
    assert a == b
    members = a.permissions[0].constraints[0].constraints
    assert [m.left_operand for m in members] == [CX_POLICY + n for n in ("Membership", "FrameworkAgreement", "UsagePurpose")]


def test_string_input_and_non_ascii_values() -> None:
    doc = dict(DSP_OFFER, permission=[{"action": "use", "constraint": [
        {"leftOperand": "purpose", "operator": "eq", "rightOperand": "製品カーボンフットプリント交換・產品碳足跡"}]}])
    p = parse_policy(json.dumps(doc, ensure_ascii=False))
    assert p.permissions[0].constraints[0].right_operand[0].value == "製品カーボンフットプリント交換・產品碳足跡"
    assert parse_policy(to_dsp(p)) == p


@pytest.mark.parametrize("writer", [to_dsp, to_edc, to_expanded, lambda p: to_edc(p, definition_id="d1"),
                                    lambda p: to_dsp(p, with_context=True)])
def test_round_trip_every_form(writer) -> None:
    p = pcf_exchange_policy("did:web:jp.example", "urn:uuid:asset-1", uid="urn:uuid:offer-9")
    assert parse_policy(writer(p)) == p
    assert parse_policy(json.dumps(writer(p))) == p


@pytest.fixture(autouse=True)
def _fresh_pyld_cache():
    # pyld caches resolved contexts per URL in one process-wide cache shared by every loader;
    # start from (and leave) a clean cache so other suites' loaders cannot interfere.
    jsonld._resolved_context_cache.clear()
    yield
    jsonld._resolved_context_cache.clear()


def _rdf(doc) -> str:
    opts = {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": pinned_document_loader}
    return jsonld.normalize(doc, opts)


def test_writers_agree_with_a_real_jsonld_processor() -> None:
    """pyld (with the pinned contexts only) reads our compact and EDC output as our expanded output."""
    p = pcf_exchange_policy("did:web:jp.example", "urn:uuid:asset-1", uid="urn:uuid:offer-9")
    expected = _rdf(to_expanded(p))
    assert "http://www.w3.org/ns/odrl/2/elapsedTime" in expected
    assert _rdf(to_dsp(p, with_context=True)) == expected
    assert _rdf(to_edc(p)) == expected
    assert _rdf(TRACTUSX) and parse_policy(jsonld.expand(TRACTUSX, {"documentLoader": pinned_document_loader})) \
        == parse_policy(TRACTUSX)


@pytest.mark.parametrize("mutate,error,match", [
    (lambda c: c.update(operator="approximately"), PolicySyntaxError, "operator"),
    (lambda c: c.update(leftOperand="https://example.org/shoeSize"), UnknownOperandError, "shoeSize"),
    (lambda c: c.pop("operator"), PolicySyntaxError, "no operator"),
    (lambda c: c.pop("rightOperand"), PolicySyntaxError, "neither rightOperand"),
    (lambda c: c.update(rightOperand="yesterday"), InvalidOperandValueError, "dateTime"),
    (lambda c: c.update(rightOperand=["2023-01-01", "2024-01-01"]), InvalidOperandValueError, "exactly one"),
    (lambda c: c.update(operator="isPartOf", leftOperand="count"), UnsupportedOperatorError, "isPartOf"),
    (lambda c: c.update(constrant=[]), PolicySyntaxError, "refusing to ignore"),
    (lambda c: c.update(rightOperand={"nested": {"x": 1}}), PolicySyntaxError, "not a literal"),
])
def test_bad_constraints_are_rejected_with_reasons(mutate, error, match) -> None:
    doc = json.loads(json.dumps(DSP_OFFER))
    mutate(doc["permission"][0]["constraint"][0])
    with pytest.raises(error, match=match) as info:
        parse_policy(doc)
    assert "permission[0]" in str(info.value)


@pytest.mark.parametrize("doc,match", [
    ("{not json", "not valid JSON"),
    ("[]", "expected exactly one policy"),
    ('"a string"', "must be a JSON object"),
    ({"@context": "https://evil.example/ctx.jsonld", "@type": "Set"}, "not pinned"),
    ({"@type": "Ticket"}, "not supported"),
    ({"@type": "Set", "conflict": "maybe"}, "conflict"),
    ({"@type": "Set", "permission": [{"action": "use", "constraint": [{"and": [], }]}]}, "no operands"),
    ({"@type": "Set", "permission": [{"action": "use", "constraint": [
        {"and": [{"leftOperand": "count", "operator": "lt", "rightOperand": 2}],
         "or": [{"leftOperand": "count", "operator": "lt", "rightOperand": 2}]}]}]}, "one operator"),
    ({"@type": "Set", "permission": [{"constraint": []}]}, "no action"),
])
def test_malformed_documents(doc, match) -> None:
    with pytest.raises(PolicySyntaxError, match=match):
        parse_policy(doc)


def test_limits_on_size_depth_and_counts() -> None:
    atom = {"leftOperand": "count", "operator": "lteq", "rightOperand": 5}
    many = {"@type": "Set", "permission": [{"action": "use", "constraint": [atom] * 50}]}
    with pytest.raises(PolicyLimitError, match="more than 10 constraints"):
        parse_policy(many, limits=Limits(max_constraints=10))
    deep: dict = atom
    for _ in range(20):
        deep = {"and": [deep]}
    with pytest.raises(PolicyLimitError, match="nested deeper"):
        parse_policy({"@type": "Set", "permission": [{"action": "use", "constraint": [deep]}]})
    with pytest.raises(PolicyLimitError, match="bytes"):
        parse_policy(json.dumps(many), limits=Limits(max_bytes=100))
    hostile = "[" * 100_000 + "]" * 100_000
    with pytest.raises((PolicySyntaxError, PolicyLimitError)):
        parse_policy(hostile, limits=Limits(max_bytes=10**6))
    rules = {"@type": "Set", "permission": [{"action": "use"}] * 300}
    with pytest.raises(PolicyLimitError, match="rules"):
        parse_policy(rules)


def test_flattened_cycle_is_rejected() -> None:
    doc = [
        {"@id": "urn:p", "@type": [ODRL + "Set"], ODRL + "permission": [{"@id": "urn:r"}]},
        {"@id": "urn:r", ODRL + "action": [{"@id": ODRL + "use"}], ODRL + "constraint": [{"@id": "urn:c"}]},
        {"@id": "urn:c", ODRL + "and": [{"@id": "urn:c"}]},
    ]
    with pytest.raises((PolicySyntaxError, PolicyLimitError), match="cycle|deeper"):
        parse_policy(doc)


def test_japanese_identifiers_are_validated_at_parse_time() -> None:
    doc = {"@type": "Set", "permission": [{"action": "use", "constraint": [
        {"leftOperand": "https://w3id.org/kakehashi/2025/policy/CorporateNumber", "operator": "isAnyOf",
         "rightOperand": ["７００００１２０５０００２"]}]}]}
    with pytest.raises(InvalidOperandValueError, match="13-digit"):
        parse_policy(doc)
    doc["permission"][0]["constraint"][0]["rightOperand"] = ["7000012050003"]
    with pytest.raises(InvalidOperandValueError, match="check digit"):
        parse_policy(doc)
