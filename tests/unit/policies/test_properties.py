"""Property-based tests: serialise -> parse keeps meaning; and / xone behave as logic says."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.engine import Facts, Request, evaluate
from policies.jsonld import parse_policy, to_dsp, to_edc, to_expanded
from policies.matching import offers_match
from policies.model import Action, Constraint, Duty, LogicalConstraint, Permission, Policy, Prohibition, literal
from policies.profiles.crossborder import DATA_SPACE_MEMBERSHIP
from policies.vocab import ODRL, XSD

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
COUNTRIES = ["JP", "TW", "US", "DE"]
SPACES = ["Ouranos Ecosystem", "Taiwan Data Space", "Catena-X"]
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=10)
purposes = st.sampled_from(["pcf", "製品CFP交換", "產品碳足跡", "audit"]) | texts
zones = st.sampled_from([timezone.utc, timezone(timedelta(hours=9)), timezone(timedelta(hours=8))])
moments = st.builds(lambda d, z: datetime(2026, 1, 1, tzinfo=z) + timedelta(minutes=d),
                    st.integers(-100_000, 100_000), zones)


def _atoms() -> st.SearchStrategy[Constraint]:
    count = st.builds(lambda op, n: Constraint(left_operand=ODRL + "count", operator=op, right_operand=(literal(n),)),
                      st.sampled_from(["eq", "neq", "lt", "lteq", "gt", "gteq"]), st.integers(0, 6))
    spatial = st.builds(
        lambda op, cs: Constraint(left_operand=ODRL + "spatial", operator=op,
                                  right_operand=tuple(literal(c) for c in (cs if op != "eq" else cs[:1]))),
        st.sampled_from(["eq", "isAnyOf", "isNoneOf"]),
        st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=3, unique=True))
    purpose = st.builds(
        lambda op, ps: Constraint(left_operand=ODRL + "purpose", operator=op,
                                  right_operand=tuple(literal(p) for p in (ps if op != "eq" else ps[:1]))),
        st.sampled_from(["eq", "isAnyOf", "isNoneOf"]), st.lists(purposes, min_size=1, max_size=3, unique=True))
    when = st.builds(lambda op, t: Constraint(left_operand=ODRL + "dateTime", operator=op,
                                             right_operand=(literal(t.isoformat(), XSD + "dateTime"),)),
                     st.sampled_from(["lt", "lteq", "gt", "gteq"]), moments)
    spaces = st.builds(
        lambda op, ss: Constraint(left_operand=DATA_SPACE_MEMBERSHIP, operator=op,
                                  right_operand=tuple(literal(s) for s in ss)),
        st.sampled_from(["isAnyOf", "isAllOf", "isNoneOf"]), st.lists(st.sampled_from(SPACES), min_size=1, max_size=3, unique=True))
    return st.one_of(count, spatial, purpose, when, spaces)


atoms = _atoms()
nodes = st.recursive(atoms, lambda inner: st.builds(
    lambda op, ms: LogicalConstraint(operator=op, constraints=tuple(ms)),
    st.sampled_from(["and", "or", "xone", "andSequence"]), st.lists(inner, min_size=1, max_size=3)), max_leaves=6)
actions = st.sampled_from(["use", "read", "distribute", "print"]).map(lambda a: Action(iri=ODRL + a))
duties = st.builds(lambda a, n: Duty(actions=(a,), constraints=(Constraint(
    left_operand=ODRL + "elapsedTime", operator="lteq", right_operand=(literal(f"P{n}D", XSD + "duration"),)),)),
    st.sampled_from(["delete", "inform"]).map(lambda a: Action(iri=ODRL + a)), st.integers(1, 999))
permissions = st.builds(lambda a, cs, ds: Permission(actions=(a,), constraints=tuple(cs), duties=tuple(ds)),
                        actions, st.lists(nodes, max_size=3), st.lists(duties, max_size=2))
prohibitions = st.builds(lambda a, cs: Prohibition(actions=(a,), constraints=tuple(cs)),
                         actions, st.lists(nodes, max_size=2))
policies = st.builds(
    lambda t, uid, target, perms, prohs, conflict: Policy(
        type=t, uid=uid, target=target, assigner="did:web:jp.example", permissions=tuple(perms),
        prohibitions=tuple(prohs), conflict=conflict),
    st.sampled_from(["Set", "Offer", "Agreement"]), st.none() | st.just("urn:uuid:p-1"),
    st.none() | st.just("urn:asset:1"), st.lists(permissions, min_size=1, max_size=3),
    st.lists(prohibitions, max_size=2), st.none() | st.sampled_from(["perm", "prohibit", "invalid"]))
facts = st.builds(
    lambda now, n, loc, purpose, spaces: Facts(
        now=now, use_count=n, processing_location=loc, purpose=purpose,
        credentials=[{"type": ["MembershipCredential"], "credentialSubject": {"memberOf": s}} for s in spaces]),
    moments, st.integers(0, 7), st.none() | st.sampled_from(COUNTRIES), st.none() | purposes,
    st.lists(st.sampled_from(SPACES), max_size=3, unique=True))


@SETTINGS
@given(policies)
def test_serialise_then_parse_is_identity(p: Policy) -> None:
    for writer in (to_dsp, to_edc, to_expanded):
        doc = writer(p)
        back = parse_policy(json.dumps(doc, ensure_ascii=False))
        assert back == p
        assert offers_match(p, back).ok


def _permitted(constraints: tuple, f: Facts) -> bool:
    p = Policy(permissions=(Permission(actions=(Action(iri=ODRL + "use"),), constraints=constraints),))
    return evaluate(p, Request("use"), f, scope="transfer").permitted


@SETTINGS
@given(st.lists(atoms, min_size=1, max_size=4), facts)
def test_and_is_never_more_permissive_than_its_members(members: list, f: Facts) -> None:
    together = _permitted((LogicalConstraint(operator="and", constraints=tuple(members)),), f)
    each = [_permitted((m,), f) for m in members]
    assert together == all(each)
    assert _permitted(tuple(members), f) == together    # a rule's list is an implicit and


@SETTINGS
@given(st.lists(atoms, min_size=1, max_size=4), facts)
def test_xone_holds_when_exactly_one_member_holds(members: list, f: Facts) -> None:
    each = [_permitted((m,), f) for m in members]
    assert _permitted((LogicalConstraint(operator="xone", constraints=tuple(members)),), f) == (sum(each) == 1)
    assert _permitted((LogicalConstraint(operator="or", constraints=tuple(members)),), f) == any(each)


@SETTINGS
@given(policies, facts, st.sampled_from(["use", "read", "distribute", "print", "sell"]))
def test_decisions_are_explained(p: Policy, f: Facts, action: str) -> None:
    d = evaluate(p, Request(action, "urn:asset:1"), f, scope="transfer")
    assert d.checks
    assert bool(d.reasons) != d.permitted
    if not d.permitted:
        assert not d.duties
