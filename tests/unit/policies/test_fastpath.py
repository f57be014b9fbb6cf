"""The DSP / EDC fast reader gives exactly the general reader's Policy, or steps aside.

For every document: if ``fastpath.read_fast`` returns a policy, the general reader
(``parse_policy(..., fast=False)``) returns an identical one (same model classes, field values
and explicitly-set fields, all the way down); if the general reader rejects a document, the fast
reader must not have accepted it. Checked on every policy fixture in the repository, on the
documents the other tests use (good and malformed), on generated policies in every written form
and on randomly perturbed versions of them. The everyday forms must actually take the fast path.
"""

from __future__ import annotations

import copy
import gc
import json
import random
import weakref
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from policies import fastpath
from policies.errors import PolicyError
from policies.jsonld import _detect_form, _read_policy, parse_policy, to_dsp, to_edc, to_expanded
from policies.limits import DEFAULT_LIMITS, Limits
from policies.model import Policy
from policies.profiles.crossborder import pcf_exchange_policy

from .test_jsonld import DSP_OFFER, EDC_PREFIXED, TRACTUSX
from .test_properties import SETTINGS, policies

DATA = Path(__file__).resolve().parents[2] / "conformance" / "data"


def identical(a: Any, b: Any, path: str = "policy") -> None:
    """Same classes, same field values and the same explicitly-set fields, recursively."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, BaseModel):
        assert a.__dict__.keys() == b.__dict__.keys(), path
        assert a.model_fields_set == b.model_fields_set, f"{path}: fields set {a.model_fields_set} vs {b.model_fields_set}"
        assert a.__pydantic_extra__ == b.__pydantic_extra__, path
        for k in a.__dict__:
            identical(a.__dict__[k], b.__dict__[k], f"{path}.{k}")
    elif isinstance(a, tuple):
        assert len(a) == len(b), f"{path}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b)):
            identical(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"


def general(doc: Any, limits: Limits = DEFAULT_LIMITS) -> Policy | PolicyError:
    try:
        return _read_policy(copy.deepcopy(doc), "auto", limits, fast=False)
    except PolicyError as exc:
        return exc


def fast(doc: Any, limits: Limits = DEFAULT_LIMITS) -> Policy | None:
    if not isinstance(doc, dict):
        return None
    form = _detect_form(doc)
    return None if form == "expanded" else fastpath.read_fast(copy.deepcopy(doc), form, limits)


def agree(doc: Any, limits: Limits = DEFAULT_LIMITS) -> bool:
    """Assert the two readers agree; True when the fast reader handled the document."""
    f, g = fast(doc, limits), general(doc, limits)
    if f is None:
        return False
    assert isinstance(g, Policy), f"fast reader accepted what the general reader rejects: {g}"
    identical(f, g)
    # and through parse_policy, which also compiles
    if not isinstance(g, PolicyError):
        try:
            slow_parsed = parse_policy(copy.deepcopy(doc), fast=False, limits=limits)
        except PolicyError:
            with pytest.raises(PolicyError):
                parse_policy(copy.deepcopy(doc), limits=limits)
        else:
            identical(parse_policy(copy.deepcopy(doc), limits=limits), slow_parsed)
    return True


# --------------------------------------------------------------------------------------------
# Fixtures


def _dsp_message_policies() -> list[tuple[str, dict[str, Any]]]:
    out = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("offer", "agreement", "hasPolicy", "odrl:hasPolicy"):
                    for i, p in enumerate(v if isinstance(v, list) else [v]):
                        if isinstance(p, dict):
                            out.append((f"{where}:{k}[{i}]", p))
                walk(v, where)
        elif isinstance(node, list):
            for v in node:
                walk(v, where)

    for path in sorted((DATA / "dsp").rglob("*.json")):
        walk(json.loads(path.read_text(encoding="utf-8")), str(path.relative_to(DATA)))
    return out


def _odrl_fixtures() -> list[tuple[str, Any]]:
    return [(str(p.relative_to(DATA)), json.loads(p.read_text(encoding="utf-8")))
            for p in sorted((DATA / "odrl" / "w3c").rglob("policy*.json"))]


def _written() -> list[tuple[str, Any]]:
    from tests.bench.bench_policies import contract_policy

    out = []
    for name, p in (("pcf", pcf_exchange_policy("did:web:jp.example", "urn:uuid:a", uid="urn:uuid:o")),
                    ("contract", contract_policy(7))):
        for wname, writer in (("dsp", to_dsp), ("dsp+context", lambda q: to_dsp(q, with_context=True)),
                              ("edc", to_edc), ("edc-definition", lambda q: to_edc(q, definition_id="d1"))):
            out.append((f"{name}/{wname}", writer(p)))
    return out


FIXTURES = _dsp_message_policies() + _odrl_fixtures() + _written() + [
    ("DSP_OFFER", DSP_OFFER), ("TRACTUSX", TRACTUSX), ("EDC_PREFIXED", EDC_PREFIXED)]


def test_there_are_fixtures_of_each_kind() -> None:
    names = [n for n, _ in FIXTURES]
    assert sum(n.startswith("dsp/") for n in names) >= 5
    assert sum(n.startswith("odrl/w3c") for n in names) == 5


@pytest.mark.parametrize("name,doc", FIXTURES, ids=[n for n, _ in FIXTURES])
def test_fixture_reads_the_same_on_both_paths(name: str, doc: Any) -> None:
    agree(doc)


@pytest.mark.parametrize("name,doc", [f for f in FIXTURES if not f[0].startswith("dsp/")],
                         ids=[n for n, _ in FIXTURES if not n.startswith("dsp/")])
def test_everyday_forms_take_the_fast_path(name: str, doc: Any) -> None:
    assert fast(doc) is not None, f"{name} fell back to the general reader"


def test_unusual_documents_fall_back() -> None:
    base = to_dsp(pcf_exchange_policy("did:web:jp.example", "urn:uuid:a"))
    nested_ctx = copy.deepcopy(base)
    nested_ctx["permission"][0]["@context"] = {"x": "https://example.org/x#"}
    unknown = dict(base, **{"https://example.org/extra": "x"})
    expanded_key = copy.deepcopy(base)
    expanded_key["http://www.w3.org/ns/odrl/2/permission"] = expanded_key.pop("permission")
    reference = dict(base, permission=["urn:rule:1"])
    for doc in (nested_ctx, unknown, expanded_key, reference):
        assert fast(doc) is None
        agree(doc)


# Malformed documents: the same ones test_jsonld rejects, plus limits.
BAD_ATOMS = [
    {"operator": "approximately"}, {"leftOperand": "https://example.org/shoeSize"}, {"operator": None},
    {"rightOperand": None}, {"rightOperand": "yesterday"}, {"rightOperand": ["2023-01-01", "2024-01-01"]},
    {"operator": "isPartOf", "leftOperand": "count"}, {"constrant": []}, {"rightOperand": {"nested": {"x": 1}}},
    {"rightOperand": {"@value": "x", "@foo": 1}}, {"@id": 5}, {"and": []}, {"rightOperand": {"@id": ["x"]}},
]


@pytest.mark.parametrize("change", BAD_ATOMS)
def test_malformed_constraints_agree(change: dict[str, Any]) -> None:
    doc = copy.deepcopy(DSP_OFFER)
    atom = doc["permission"][0]["constraint"][0]
    for k, v in change.items():
        if v is None:
            atom.pop(k, None)
        else:
            atom[k] = v
    agree(doc)


@pytest.mark.parametrize("doc", [
    {"@type": "Ticket"}, {"@type": "Set", "conflict": "maybe"}, {"@type": ["Set", 3]},
    {"@type": "Set", "permission": [{"constraint": []}]},
    {"@type": "Set", "permission": [{"action": "use", "constraint": [
        {"and": [{"leftOperand": "count", "operator": "lt", "rightOperand": 2}],
         "or": [{"leftOperand": "count", "operator": "lt", "rightOperand": 2}]}]}]},
    {"@type": "Set", "target": ["urn:a", "urn:b"], "permission": [{"action": "use"}]},
    {"@type": "Set", "target": "urn:a", "odrl:target": "urn:b", "permission": [{"action": "use"}]},
    {"@type": "Set", "permission": [{"action": {"refinement": []}}]},
    {"@context": "https://evil.example/ctx.jsonld", "@type": "Set"},
])
def test_malformed_policies_agree(doc: dict[str, Any]) -> None:
    agree(doc)


def test_limits_agree() -> None:
    atom = {"leftOperand": "count", "operator": "lteq", "rightOperand": 5}
    many = {"@type": "Set", "permission": [{"action": "use", "constraint": [atom] * 50}]}
    assert not agree(many, Limits(max_constraints=10))
    deep: dict[str, Any] = atom
    for _ in range(20):
        deep = {"and": [deep]}
    assert not agree({"@type": "Set", "permission": [{"action": "use", "constraint": [deep]}]})
    long = {"@type": "Set", "target": "urn:" + "x" * 100, "permission": [{"action": "use"}]}
    assert not agree(long, Limits(max_string=50))
    assert agree(long)


# --------------------------------------------------------------------------------------------
# Generated policies


WRITERS = [to_dsp, lambda p: to_dsp(p, with_context=True), to_edc, lambda p: to_edc(p, definition_id="def-1")]


@SETTINGS
@given(policies)
def test_generated_policies_read_identically_on_both_paths(p: Policy) -> None:
    for writer in WRITERS:
        doc = json.loads(json.dumps(writer(p), ensure_ascii=False))
        assert agree(doc), "written forms must take the fast path"
        assert fast(doc) == p == general(to_expanded(p))


def _perturb(doc: Any, rnd: random.Random) -> Any:
    """One random change somewhere in the document tree (shapes JSON-LD allows, and some it does not)."""
    nodes: list[dict[str, Any]] = []

    def collect(n: Any) -> None:
        if isinstance(n, dict):
            nodes.append(n)
            for v in n.values():
                collect(v)
        elif isinstance(n, list):
            for v in n:
                collect(v)
    collect(doc)
    node = rnd.choice(nodes)
    keys = [k for k in node if not k.startswith("@")] or list(node)
    k = rnd.choice(keys) if keys else None
    choice = rnd.randrange(14)
    if k is None:
        node["@type"] = "Set"
    elif choice == 0 and ":" not in k:
        node["odrl:" + k] = node.pop(k)                      # prefixed alias
    elif choice == 1:
        node[k] = [node[k]]                                   # value wrapped in an array
    elif choice == 2:
        node[k] = {"@list": node[k] if isinstance(node[k], list) else [node[k]]}
    elif choice == 3:
        node["@context"] = rnd.choice([{"ex": "https://example.org/"}, "https://w3id.org/dspace/2025/1/odrl-profile.jsonld"])
    elif choice == 4:
        node[rnd.choice(["dct:title", "rdfs:comment", "unknownThing", "ex:foo"])] = "x"
    elif choice == 5 and isinstance(node[k], str):
        node[k] = {"@id": node[k]}
    elif choice == 6 and isinstance(node[k], str):
        node[k] = {"@value": node[k]}
    elif choice == 7:
        node.pop(k)
    elif choice == 8:
        node[k] = rnd.choice([None, [], 3, True, 2.5, {}, "", "odrl:use", {"@id": 3}])
    elif choice == 9:
        node["@id"] = rnd.choice(["urn:x", "odrl:x", "_:b0", "x", 3])
    elif choice == 10:
        node["@type"] = rnd.choice(["Set", "odrl:Offer", ["Agreement"], "Ticket", "PolicyDefinition", 5])
    elif choice == 11 and ":" not in k:
        node["http://www.w3.org/ns/odrl/2/" + k] = node.pop(k)   # expanded IRI key
    elif choice == 12:
        node["uid"] = rnd.choice(["urn:u", {"@id": "urn:u"}, ["urn:u"]])
    else:
        node[rnd.choice(["@foo", "@nest", "@graph", "status"])] = "x"
    return doc


@settings(SETTINGS, max_examples=200)
@given(policies, st.sampled_from(WRITERS), st.randoms(use_true_random=False), st.integers(1, 4))
def test_perturbed_documents_never_read_differently(p: Policy, writer: Any, rnd: random.Random, n: int) -> None:
    doc = json.loads(json.dumps(writer(p), ensure_ascii=False))
    for _ in range(n):
        doc = _perturb(doc, rnd)
    agree(doc)


def test_parsed_policies_are_freed_without_the_cycle_collector() -> None:
    # The compiled form is cached on the policy; it must not hold the policy strongly.
    text = json.dumps(to_dsp(pcf_exchange_policy("did:web:jp.example", "urn:uuid:a")))
    gc.disable()
    try:
        p = parse_policy(text)
        ref = weakref.ref(p)
        del p
        assert ref() is None
    finally:
        gc.enable()
