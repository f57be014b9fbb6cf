"""The footprint models held to the official PACT OpenAPI schemas and examples.

The product validates with its pydantic models (the WBCSD files do not ship);
these tests check that the models and the official schemas agree: every
official example is accepted or rejected as the spec says, and everything the
models emit (parsed examples, samples, mapped footprints) validates against the
OpenAPI of its version.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from connector.footprints import make_footprints, parse_footprint, to_v2, to_v3, validate_footprint
from connector.footprints.mapping import MappingError

DATA = Path(__file__).parent / "data" / "pact"
OPENAPI = {
    "2.3.3": DATA / "openapi" / "pact-openapi-2.3.3.yaml",
    "3.0.3": DATA / "openapi" / "pact-openapi-3.0.3.yaml",
    "3.0.4": DATA / "openapi" / "conformance-tool-openapi-v3_0-3.0.4.yaml",
}
V3_SCHEMAS = ("3.0.3", "3.0.4")


@lru_cache(maxsize=None)
def openapi_validator(version: str, component: str = "ProductFootprint") -> Draft202012Validator:
    document = yaml.safe_load(OPENAPI[version].read_text(encoding="utf-8"))
    uri = f"urn:kakehashi:test:pact-openapi:{version}"
    registry = Registry().with_resource(uri, Resource.from_contents(document, default_specification=DRAFT202012))
    return Draft202012Validator(
        {"$ref": f"{uri}#/components/schemas/{component}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def openapi_errors(version: str, doc: Any) -> list[str]:
    return [e.message for e in openapi_validator(version).iter_errors(doc)]


def footprints_in(path: Path) -> list[dict[str, Any]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    data = doc.get("data", doc)
    if isinstance(data, dict) and "pfs" in data:
        return data["pfs"]
    if isinstance(data, list):
        return data
    return [data] if "pcf" in data else []


def example_cases() -> list[Any]:
    cases = []
    for folder in ("v2", "v3"):
        for path in sorted((DATA / "examples" / folder).glob("*.json")):
            for i, pf in enumerate(footprints_in(path)):
                cases.append(pytest.param(folder, path.name, pf, id=f"{folder}/{path.name}[{i}]"))
    return cases


def test_every_example_file_with_footprints_is_covered() -> None:
    names = {(c.values[0], c.values[1]) for c in example_cases()}
    assert len(names) == 12  # 4 v2 files + 8 v3 files carry footprints
    assert ("v2", "invalid-response-all-properties.json") in names
    assert ("v3", "example-1.json") in names


@pytest.mark.parametrize(("folder", "name", "pf"), example_cases())
def test_official_example_verdicts(folder: str, name: str, pf: dict[str, Any]) -> None:
    check = validate_footprint(pf)
    assert check.version == ("2.3" if folder == "v2" else "3.0")
    expected_valid = not name.startswith("invalid-")
    assert check.ok is expected_valid, check.errors
    if folder == "v2":
        # The v2 OpenAPI (with a real date-time checker) agrees on every file.
        assert (not openapi_errors("2.3.3", pf)) is expected_valid
    else:
        # The v3 OpenAPI accepts even the "invalid" file (no `updated` property in
        # v3, extra properties allowed); we reject it for its bad `updated`.
        for version in V3_SCHEMAS:
            assert openapi_errors(version, pf) == []
    if not expected_valid:
        assert any(e.startswith("updated:") for e in check.errors), check.errors


@pytest.mark.parametrize(("folder", "name", "pf"), [c for c in example_cases() if not c.values[1].startswith("invalid-")])
def test_model_output_validates_against_openapi(folder: str, name: str, pf: dict[str, Any]) -> None:
    out = parse_footprint(pf).to_json_dict()
    for version in ("2.3.3",) if folder == "v2" else V3_SCHEMAS:
        assert openapi_errors(version, out) == []


def test_samples_and_their_mappings_validate_against_openapi() -> None:
    for company in ("jp", "tw"):
        for pf in make_footprints(company, 12, seed=3):
            assert openapi_errors("2.3.3", pf) == []
            assert openapi_errors("2.3.3", parse_footprint(pf).to_json_dict()) == []
            v3 = to_v3(pf)
            for version in V3_SCHEMAS:
                assert openapi_errors(version, v3) == []
            assert openapi_errors("2.3.3", to_v2(v3, version=1)) == []


@pytest.mark.parametrize(("folder", "name", "pf"), [c for c in example_cases() if c.values[0] == "v3" and not c.values[1].startswith("invalid-")])
def test_v3_examples_mapped_to_v2_validate_against_openapi(folder: str, name: str, pf: dict[str, Any]) -> None:
    try:
        v2 = to_v2(pf, cpc_fallback="4999")
    except MappingError as exc:
        # Only documented impossibilities: something v2.3 requires that v3 lacks.
        assert name not in ("example-1.json", "example-2.json")
        assert all("v2.3" in reason for reason in exc.reasons), exc.reasons
        return
    assert openapi_errors("2.3.3", v2) == []


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    *parents, last = path.split(".")
    target = out
    for part in parents:
        target = target[part]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return out


_DELETE = object()

# Mutations the official OpenAPI rejects: the models must reject each one too.
V2_MUTATIONS = [
    ("id", "not-a-uuid"),
    ("version", -1),
    ("version", "1"),
    ("status", "Retired"),
    ("companyIds", []),
    ("companyIds", ["company1"]),
    ("productIds", ["urn:gtin:1", "urn:gtin:1"]),
    ("productCategoryCpc", _DELETE),
    ("comment", _DELETE),
    ("created", "2022-03-01"),
    ("pcf.declaredUnit", "piece"),
    ("pcf.unitaryProductAmount", 1),
    ("pcf.characterizationFactors", "AR4"),
    ("pcf.ipccCharacterizationFactorsSources", ["6"]),
    ("pcf.crossSectoralStandardsUsed", ["ISO14067"]),
    ("pcf.exemptedEmissionsPercent", 101),
    ("pcf.exemptedEmissionsPercent", "0"),
    ("pcf.primaryDataShare", "12.9"),
    ("pcf.dqi.technologicalDQR", 3.5),
    ("pcf.geographyCountry", "DE"),
    ("pcf.assurance.providerName", _DELETE),
    ("pcf.packagingEmissionsIncluded", "false"),
    ("pcf.referencePeriodEnd", "yesterday"),
]


@pytest.mark.parametrize(("path", "value"), V2_MUTATIONS, ids=[f"{p}={v!r}"[:60] for p, v in V2_MUTATIONS])
def test_v2_model_rejects_what_openapi_rejects(path: str, value: Any) -> None:
    pf = footprints_in(DATA / "examples" / "v2" / "get-footprint-response.json")[0]
    bad = _set(pf, path, value)
    assert openapi_errors("2.3.3", bad), "mutation should break the official schema"
    check = validate_footprint(bad)
    assert not check.ok
    assert any(path.split(".")[-1] in e or "geography" in e for e in check.errors), check.errors


V3_MUTATIONS = [
    ("specVersion", "3.0"),
    ("companyName", ""),
    ("pcf.declaredUnitOfMeasurement", "ton"),
    ("pcf.productMassPerDeclaredUnit", _DELETE),
    ("pcf.pcfIncludingBiogenicUptake", 1.5),
    ("pcf.exemptedEmissionsPercent", 0),
    ("pcf.dqi.technologicalDQR", 1.5),
    ("pcf.ipccCharacterizationFactors", []),
    ("pcf.crossSectoralStandards", _DELETE),
    ("pcf.geographyCountry", "US"),
    ("pcf.verification", {"coverage": "PCF system"}),
]


@pytest.mark.parametrize(("path", "value"), V3_MUTATIONS, ids=[f"{p}={v!r}"[:60] for p, v in V3_MUTATIONS])
def test_v3_model_rejects_what_openapi_rejects(path: str, value: Any) -> None:
    pf = json.loads((DATA / "examples" / "v3" / "example-3.json").read_text(encoding="utf-8"))
    bad = _set(pf, path, value)
    for version in V3_SCHEMAS:
        if version == "3.0.4" and path == "pcf.exemptedEmissionsPercent":
            continue
        assert openapi_errors(version, bad), f"mutation should break the {version} schema"
    check = validate_footprint(bad)
    assert not check.ok
    assert any(path.split(".")[-1] in e or "geography" in e or "specVersion" in e for e in check.errors), check.errors
