from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from policies.engine import Decision, Facts, Request, evaluate
from policies.errors import FactsError, PolicyError
from policies.jsonld import parse_policy
from policies.vocab import ODRL

from .conftest import JST, NOW, TWT, membership


def policy(*constraints, action="use", extra=None, **rule):
    doc = {"@type": "Set", "permission": [{"action": action, "constraint": list(constraints), **rule}]}
    doc.update(extra or {})
    return parse_policy(doc)


def atom(left, op, right):
    return {"leftOperand": left, "operator": op, "rightOperand": right}


def decide(p, scope="transfer", action="use", target=None, party=None, **facts) -> Decision:
    facts.setdefault("now", NOW)
    return evaluate(p, Request(action, target, party), Facts(**facts), scope=scope)


# -- operators -----------------------------------------------------------------------------

@pytest.mark.parametrize("op,right,count,ok", [
    ("eq", 3, 3, True), ("eq", 3, 2, False), ("neq", 3, 2, True), ("neq", 3, 3, False),
    ("lt", 3, 2, True), ("lt", 3, 3, False), ("lteq", 3, 3, True), ("lteq", 3, 4, False),
    ("gt", 3, 4, True), ("gt", 3, 3, False), ("gteq", 3, 3, True), ("gteq", 3, 2, False),
    ("isAnyOf", [1, 5], 5, True), ("isAnyOf", [1, 5], 3, False),
    ("isNoneOf", [1, 5], 3, True), ("isNoneOf", [1, 5], 5, False),
])
def test_ordered_and_set_operators_on_count(op, right, count, ok) -> None:
    # count is this use included: use_count=2 means the 3rd use.
    d = decide(policy(atom("count", op, right)), use_count=count - 1)
    assert d.permitted is ok
    assert d.checks[0].outcome == ("satisfied" if ok else "not-satisfied")
    if not ok:
        assert "odrl:count" in d.reasons[0]


def test_set_operators_on_multi_valued_operand() -> None:
    facts = dict(credentials=[membership("Ouranos Ecosystem"), membership("Catena-X")])
    dsm = "https://w3id.org/kakehashi/2025/policy/DataSpaceMembership"
    assert decide(policy(atom(dsm, "isAllOf", ["ouranos ecosystem", "CATENA-X"])), **facts).permitted
    assert not decide(policy(atom(dsm, "isAllOf", ["Ouranos Ecosystem", "Taiwan Data Space"])), **facts).permitted
    assert decide(policy(atom(dsm, "eq", "Catena-X")), **facts).permitted
    assert decide(policy(atom(dsm, "neq", "Taiwan Data Space")), **facts).permitted
    assert not decide(policy(atom(dsm, "isNoneOf", ["Catena-X"])), **facts).permitted


def test_structure_operators_use_facts() -> None:
    part_of = {"TW": frozenset({"urn:region:east-asia"})}
    assert decide(policy(atom("spatial", "isPartOf", "urn:region:east-asia")), scope="negotiation",
                  processing_location="tw", part_of=part_of).permitted
    assert not decide(policy(atom("spatial", "isPartOf", "urn:region:east-asia")), scope="negotiation",
                      processing_location="DE", part_of=part_of).permitted
    assert decide(policy(atom("spatial", "hasPart", "TW")), scope="negotiation",
                  processing_location="urn:region:east-asia", part_of=part_of).permitted
    inst = {"urn:purpose:1": frozenset({"urn:dpv:Sustainability"})}
    assert decide(policy(atom("purpose", "isA", "urn:dpv:Sustainability")), purpose="urn:purpose:1",
                  instance_of=inst).permitted
    assert not decide(policy(atom("purpose", "isA", "urn:dpv:Marketing")), purpose="urn:purpose:1",
                      instance_of=inst).permitted


# -- dateTime with time zones ----------------------------------------------------------------

def test_datetime_is_compared_across_time_zones() -> None:
    p = policy(atom("dateTime", "lt", {"@value": "2026-03-01T09:00:00+08:00", "@type": "xsd:dateTime"}))
    # 09:00 JST is 08:00 Taipei time: before the deadline.
    assert decide(p, now=datetime(2026, 3, 1, 9, 0, tzinfo=JST)).permitted
    assert not decide(p, now=datetime(2026, 3, 1, 9, 0, tzinfo=TWT)).permitted
    assert not decide(p, now=datetime(2026, 3, 1, 1, 0, tzinfo=timezone.utc)).permitted  # equal: not lt


@pytest.mark.parametrize("op,now,ok", [
    ("eq", datetime(2024, 2, 12, 23, 59, tzinfo=timezone.utc), True),
    ("eq", datetime(2024, 2, 13, 0, 0, tzinfo=timezone.utc), False),
    ("lteq", datetime(2024, 2, 12, 23, 59, tzinfo=timezone.utc), True),
    ("lt", datetime(2024, 2, 12, 0, 1, tzinfo=timezone.utc), False),
    ("gt", datetime(2024, 2, 13, 0, 0, tzinfo=timezone.utc), True),
    ("gt", datetime(2024, 2, 12, 12, 0, tzinfo=timezone.utc), False),
    ("gteq", datetime(2024, 2, 12, 0, 0, tzinfo=timezone.utc), True),
    ("neq", datetime(2024, 2, 11, 23, 59, tzinfo=timezone.utc), True),
])
def test_xsd_date_is_the_whole_day(op, now, ok) -> None:
    p = policy(atom("dateTime", op, {"@value": "2024-02-12", "@type": "xsd:date"}))
    assert decide(p, now=now).permitted is ok


def test_naive_now_is_refused() -> None:
    with pytest.raises(FactsError, match="time-zone aware"):
        Facts(now=datetime(2026, 1, 1))


def test_elapsed_time_needs_an_agreement_start() -> None:
    p = policy(atom("elapsedTime", "lteq", {"@value": "P30D", "@type": "xsd:duration"}))
    assert not decide(p).permitted
    assert "agreement start is not known" in decide(p).reasons[0]
    assert decide(p, agreement_start=NOW - timedelta(days=30)).permitted
    assert not decide(p, agreement_start=NOW - timedelta(days=30, seconds=1)).permitted


# -- logical constraints -------------------------------------------------------------------

T, F = atom("count", "lteq", 10), atom("count", "gt", 10)


@pytest.mark.parametrize("op,members,ok", [
    ("and", [T, T], True), ("and", [T, F], False),
    ("or", [F, T], True), ("or", [F, F], False),
    ("xone", [T, F], True), ("xone", [T, T], False), ("xone", [F, F], False),
    ("andSequence", [T, T], True), ("andSequence", [F, T], False),
])
def test_logical_constraints(op, members, ok) -> None:
    d = decide(policy({op: members}))
    assert d.permitted is ok
    assert d.checks[-2].label == f"{op} of 2"


def test_and_sequence_stops_at_first_failure() -> None:
    d = decide(policy({"andSequence": [F, T]}))
    assert [c.subject for c in d.checks if c.subject.endswith("]") and "andSequence[" in c.subject] == \
        ["permission[0].constraint[0].andSequence[0]"]


# -- rules, actions, parties, conflicts -------------------------------------------------------

def test_action_hierarchy_and_target_and_assignee() -> None:
    p = policy(target="urn:a", assignee="did:web:tw")
    assert decide(p, action="read", target="urn:a", party="did:web:tw").permitted
    assert not decide(p, action="sell", target="urn:a", party="did:web:tw").permitted  # sell is under transfer
    assert not decide(p, target="urn:b", party="did:web:tw").permitted
    d = decide(p, target="urn:a", party="did:web:other")
    assert not d.permitted and "no permission covers" in d.reasons[0]
    assert decide(p, target="urn:a", party_id="did:web:tw").permitted  # party from the facts
    assert decide(p, target="urn:a", party="did:web:x", part_of={"did:web:x": frozenset({"did:web:tw"})}).permitted


@pytest.mark.parametrize("conflict,ok", [("perm", True), ("prohibit", False), ("invalid", False), (None, False)])
def test_conflict_strategies(conflict, ok) -> None:
    extra = {"prohibition": [{"action": "distribute"}]}
    if conflict:
        extra["conflict"] = conflict
    p = policy(extra=extra)
    d = decide(p, action="distribute")
    assert d.permitted is ok
    assert decide(p, action="read").permitted  # no conflict for other actions
    if not ok:
        assert d.reasons


def test_prohibition_constraints_decide_if_it_applies() -> None:
    p = policy(extra={"conflict": "prohibit", "prohibition": [
        {"action": "use", "constraint": [atom("spatial", "isNoneOf", ["JP", "TW"])]}]})
    assert decide(p, scope="negotiation", processing_location="JP").permitted
    d = decide(p, scope="negotiation", processing_location="US")
    assert not d.permitted and "prohibited" in d.reasons[-1]


def test_action_refinement() -> None:
    p = parse_policy({"@context": "http://www.w3.org/ns/odrl.jsonld", "@type": "Set", "permission": [{
        "action": [{"rdf:value": {"@id": "odrl:print"}, "refinement": [atom("resolution", "lteq", 1200)]}]}]})
    assert decide(p, action="print", values={"resolution": 1000}).permitted
    assert not decide(p, action="print", values={"resolution": 1300}).permitted
    assert not decide(p, action="print").permitted


def test_right_operand_reference_is_resolved_from_facts_or_fails() -> None:
    p = policy({"leftOperand": "spatial", "operator": "isAnyOf", "rightOperandReference": "urn:list:allowed"})
    assert not decide(p, processing_location="JP").permitted
    assert "not resolved" in decide(p, processing_location="JP").reasons[0]
    assert decide(p, processing_location="JP", values={"urn:list:allowed": ["JP", "TW"]}).permitted


# -- duties ---------------------------------------------------------------------------------

def test_post_obligation_duty_is_returned_with_its_deadline() -> None:
    p = policy(duty=[{"action": "delete", "constraint": [
        atom("elapsedTime", "lteq", {"@value": "P365D", "@type": "xsd:duration"})]}])
    d = decide(p, agreement_start=NOW)
    assert d.permitted
    assert d.duties[0].action == ODRL + "delete" and d.duties[0].due == NOW + timedelta(days=365)
    assert d.duties[0].description.startswith("odrl:delete within 365 days")
    assert not decide(p, agreement_start=NOW, duty_states={"delete": "violated"}).permitted


def test_precondition_duty_is_enforced_at_transfer_only() -> None:
    p = policy(duty=[{"@id": "urn:duty:inform", "action": "inform"}])
    assert decide(p, scope="negotiation").permitted
    assert decide(p, scope="negotiation").duties[0].precondition
    d = decide(p, scope="transfer")
    assert not d.permitted and "must be fulfilled" in d.reasons[0]
    assert decide(p, duty_states={"urn:duty:inform": "fulfilled"}).permitted


def test_duty_conditions_decide_whether_it_applies() -> None:
    p = policy(duty=[{"action": "inform", "constraint": [atom("spatial", "eq", "US")]}])
    assert decide(p, processing_location="JP").permitted       # duty inactive
    assert not decide(p, processing_location="US").permitted   # duty active, not fulfilled


def test_obligations() -> None:
    p = parse_policy({"@type": "Set", "permission": [{"action": "use"}],
                      "obligation": [{"action": "inform", "constraint": [
                          atom("dateTime", "lteq", {"@value": "2026-12-31", "@type": "xsd:date"})]}]})
    d = decide(p)
    assert d.permitted and d.duties[0].due == datetime(2027, 1, 1, tzinfo=timezone.utc)
    assert not decide(p, duty_states={"inform": "violated"}).permitted


# -- scopes ---------------------------------------------------------------------------------

def test_operand_outside_its_scope_fails_closed() -> None:
    p = policy(atom("purpose", "eq", "x"))
    d = decide(p, scope="catalog", purpose="x")
    assert not d.permitted
    assert "cannot be evaluated in catalog scope" in d.reasons[0]
    assert decide(p, scope="negotiation", purpose="x").permitted


def test_unknown_scope_is_an_error() -> None:
    with pytest.raises(PolicyError, match="unknown scope"):
        decide(policy(), scope="delivery")


def test_decision_serialises() -> None:
    d = decide(policy(atom("count", "lteq", 1)), use_count=5)
    data = d.to_dict()
    assert data["permitted"] is False and data["checks"][0]["outcome"] == "not-satisfied"
    assert data["reasons"]
