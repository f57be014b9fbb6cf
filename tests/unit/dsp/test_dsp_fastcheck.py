"""The compiled schema check agrees with jsonschema (the reference) on examples and mutations."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT201909

from connector.dsp import schemas
from connector.dsp.errors import SchemaViolation
from connector.dsp.fastcheck import Compiler, UnsupportedSchema

DATA = Path(__file__).parents[2] / "conformance" / "data" / "dsp"
KIND_BY_FILE = {"protocol-version.json": "VersionResponse", "catalogservice-did-service.json": "DidService",
                "dataservice-did-service.json": "DidService"}
DOCS = [
    (KIND_BY_FILE.get(p.name) or json.loads(p.read_text())["@type"], json.loads(p.read_text()))
    for p in sorted(DATA.glob("*/*.json"))
]


def _reference_valid(doc, kind) -> bool:
    return not schemas.errors(doc, kind)


@pytest.mark.parametrize(("kind", "doc"), DOCS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(DOCS)])
def test_agrees_on_every_example(kind, doc):
    assert schemas.is_valid(doc, kind) == _reference_valid(doc, kind)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


REPLACEMENTS = st.sampled_from([None, 1, True, "", "x", "REQUESTED", "use", "eq", [], ["x"], {}, {"@id": "x"},
                                "https://w3id.org/dspace/2025/1/context.jsonld", "2025-01-01T00:00:00Z"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_agrees_on_mutated_examples(data):
    kind, doc = data.draw(st.sampled_from(DOCS))
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        action = data.draw(st.sampled_from(["delete", "replace", "wrap"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = copy.deepcopy(data.draw(REPLACEMENTS))
        else:
            parent[path[-1]] = [parent[path[-1]]]
    assert schemas.is_valid(doc, kind) == _reference_valid(doc, kind)


def test_validate_reports_problems_from_the_reference_validator():
    kind, doc = next((k, d) for k, d in DOCS if k == "ContractAgreementMessage")
    bad = copy.deepcopy(doc)
    bad["agreement"]["permission"][0]["constraint"][0]["operator"] = "approximately"
    with pytest.raises(SchemaViolation) as info:
        schemas.validate(bad)
    assert "agreement.permission[0].constraint[0]" in info.value.reason


def test_unsupported_keywords_are_refused_at_compile_time():
    schema = {"$id": "urn:test", "type": "object", "additionalProperties": False}
    registry = Registry().with_resource("urn:test", Resource.from_contents(schema, default_specification=DRAFT201909))
    with pytest.raises(UnsupportedSchema, match="additionalProperties"):
        Compiler(registry).compile_url("urn:test")


def test_every_packaged_schema_compiles():
    for kind in schemas.KINDS:
        assert callable(schemas._fast(kind))
