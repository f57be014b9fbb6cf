from __future__ import annotations

import copy

from policies.jsonld import parse_policy, to_dsp, to_edc, to_expanded
from policies.matching import offers_match
from policies.profiles.crossborder import pcf_exchange_policy

OFFER = {
    "@type": "Offer", "@id": "urn:offer:1", "target": "urn:asset:1", "assigner": "did:web:jp",
    "permission": [{"action": "use", "constraint": [{"and": [
        {"leftOperand": "spatial", "operator": "isAnyOf", "rightOperand": ["JP", "TW"]},
        {"leftOperand": "dateTime", "operator": "lt", "rightOperand": "2027-01-01T00:00:00Z"},
        {"leftOperand": "purpose", "operator": "eq", "rightOperand": "pcf"},
    ]}], "duty": [{"action": "delete", "constraint": [
        {"leftOperand": "elapsedTime", "operator": "lteq", "rightOperand": "P365D"}]}]}],
    "prohibition": [{"action": "distribute"}],
}


def _req(mutate=None):
    doc = copy.deepcopy(OFFER)
    if mutate:
        mutate(doc)
    return parse_policy(doc)


def test_same_policy_in_every_form_matches() -> None:
    offered = parse_policy(OFFER)
    for form in (to_dsp, to_edc, to_expanded):
        assert offers_match(offered, parse_policy(form(offered))).ok


def test_equivalent_forms_of_the_same_meaning_match() -> None:
    def rewrite(d):
        and_ = d["permission"][0]["constraint"][0]["and"]
        and_.reverse()                                              # order of and-members
        and_[0] = {"leftOperand": "purpose", "operator": "isAnyOf", "rightOperand": ["pcf"]}  # isAnyOf [x] == eq x
        and_[1]["rightOperand"] = {"@value": "2027-01-01T09:00:00+09:00", "@type": "xsd:dateTime"}  # same instant
        and_[2]["rightOperand"] = ["tw", "jp"]                      # country case and order
        d["permission"][0]["duty"][0]["constraint"][0]["rightOperand"] = {"@value": "P365D", "@type": "xsd:duration"}
        d["permission"][0]["constraint"] = and_                     # rule-level list is an implicit and
        d["assignee"] = "did:web:tw"                                # consumer names itself
    assert offers_match(parse_policy(OFFER), _req(rewrite)).ok


def test_weaker_or_different_requests_do_not_match() -> None:
    offered = parse_policy(OFFER)
    cases = {
        "drops a constraint": lambda d: d["permission"][0]["constraint"][0]["and"].pop(),
        "widens countries": lambda d: d["permission"][0]["constraint"][0]["and"][0].update(rightOperand=["JP", "TW", "US"]),
        "drops the duty": lambda d: d["permission"][0].pop("duty"),
        "longer retention": lambda d: d["permission"][0]["duty"][0]["constraint"][0].update(rightOperand="P730D"),
        "drops the prohibition": lambda d: d.pop("prohibition"),
        "different target": lambda d: d.update(target="urn:asset:2"),
        "and becomes or": lambda d: d["permission"][0]["constraint"][0].update(
            {"or": d["permission"][0]["constraint"][0].pop("and")}),
        "adds a permission": lambda d: d["permission"].append({"action": "distribute"}),
        "conflict strategy": lambda d: d.update(conflict="perm"),
    }
    for name, mutate in cases.items():
        result = offers_match(offered, _req(mutate))
        assert not result.ok, name
        assert result.reason, name


def test_and_sequence_order_matters_and_uid_check() -> None:
    seq = {"@type": "Set", "permission": [{"action": "use", "constraint": [{"andSequence": [
        {"leftOperand": "count", "operator": "lteq", "rightOperand": 1},
        {"leftOperand": "count", "operator": "lteq", "rightOperand": 2}]}]}]}
    rev = copy.deepcopy(seq)
    rev["permission"][0]["constraint"][0]["andSequence"].reverse()
    assert not offers_match(parse_policy(seq), parse_policy(rev)).ok
    a = pcf_exchange_policy("did:web:jp", "urn:a", uid="urn:offer:1")
    b = pcf_exchange_policy("did:web:jp", "urn:a", uid="urn:offer:2")
    assert offers_match(a, b).ok
    assert "urn:offer:2" in offers_match(a, b, require_same_uid=True).reason


def test_assignee_fixed_by_the_offer_must_be_kept() -> None:
    offered = pcf_exchange_policy("did:web:jp", "urn:a", assignee="did:web:tw", policy_type="Agreement")
    other = pcf_exchange_policy("did:web:jp", "urn:a", assignee="did:web:evil", policy_type="Agreement")
    assert not offers_match(offered, other).ok
