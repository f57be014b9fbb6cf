from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from connector.footprints import (
    FootprintError,
    ProductFootprintV2,
    ProductFootprintV3,
    detect_version,
    make_footprints,
    parse_footprint,
    serialise_footprint,
    validate_footprint,
)


def test_detect_version_from_spec_version_and_fields(v2_example: dict, v3_example: dict) -> None:
    assert detect_version(v2_example) == "2.3"  # "2.0.0" is a 2.x footprint
    assert detect_version(v3_example) == "3.0"
    no_spec = {k: v for k, v in v3_example.items() if k != "specVersion"}
    assert detect_version(no_spec) == "3.0"
    assert detect_version({k: v for k, v in v2_example.items() if k != "specVersion"}) == "2.3"
    assert detect_version({"specVersion": "1.0.0"}) is None
    assert detect_version([]) is None


def test_v2_invalid_example_is_rejected_naming_updated(example: Any) -> None:
    check = validate_footprint(example("v2/invalid-response-all-properties.json"))
    assert check.version == "2.3" and not check.ok
    assert check.errors == [
        "updated: not an RFC 3339 date-time (YYYY-MM-DDThh:mm:ss[.f](Z|±hh:mm)): '2023-1-08T14:47:32Z'"
    ]


def test_v3_invalid_example_is_rejected_naming_updated(example: Any) -> None:
    check = validate_footprint(example("v3/invalid-response-all-properties.json"))
    assert check.version == "3.0" and not check.ok
    assert len(check.errors) == 1 and check.errors[0].startswith("updated:")


def test_v3_example_1_is_valid_with_warnings(example: Any) -> None:
    check = validate_footprint(example("v3/example-1.json"))
    assert check.ok and check.errors == []
    assert "pcf.otherOperatorName: not a PACT 3.0 property; ignored" in check.warnings
    assert any("otherOperatorName is missing" in w for w in check.warnings)


def test_errors_name_every_failed_field(v2_example: dict) -> None:
    bad = copy.deepcopy(v2_example)
    bad["pcf"]["pCfExcludingBiogenic"] = "-1"
    bad["pcf"]["dqi"]["temporalDQR"] = 4
    del bad["companyName"]
    bad["companyIds"].append("not-a-urn")
    check = validate_footprint(bad)
    assert not check.ok
    joined = "\n".join(check.errors)
    assert "pcf.pCfExcludingBiogenic: must be >= 0" in joined
    assert "pcf.dqi.temporalDQR: must be between 1 and 3" in joined
    assert "companyName: required property is missing" in joined
    assert "companyIds[2]: not a URN" in joined


def test_semantic_rules_beyond_openapi(v2_example: dict, v3_example: dict) -> None:
    both = copy.deepcopy(v3_example)
    both["pcf"]["geographyRegionOrSubregion"] = "Europe"
    assert any("at most one of geography" in e for e in validate_footprint(both).errors)
    backwards = copy.deepcopy(v2_example)
    backwards["validityPeriodEnd"] = "2020-01-01T00:00:00Z"
    assert any("validityPeriodEnd" in e and "must be after" in e for e in validate_footprint(backwards).errors)
    no_quality = copy.deepcopy(v2_example)
    del no_quality["pcf"]["dqi"], no_quality["pcf"]["primaryDataShare"]
    assert any("primaryDataShare or dqi" in e for e in validate_footprint(no_quality).errors)
    wrong_major = copy.deepcopy(v2_example)
    assert not validate_footprint(wrong_major, "3.0").ok


@pytest.mark.parametrize("doc", [None, "text", 42, [], {"specVersion": "9.9.9"}, {}])
def test_garbage_gives_reasons_not_tracebacks(doc: Any) -> None:
    check = validate_footprint(doc)
    assert not check.ok and check.errors
    with pytest.raises(FootprintError) as info:
        parse_footprint(doc)
    assert info.value.reasons == check.errors


def test_parse_returns_typed_models(v2_example: dict, v3_example: dict) -> None:
    assert isinstance(parse_footprint(v2_example), ProductFootprintV2)
    assert isinstance(parse_footprint(v3_example), ProductFootprintV3)


def test_serialisation_is_strict_and_exact(v2_example: dict, v3_example: dict) -> None:
    assert serialise_footprint(parse_footprint(v2_example)) == v2_example
    noisy = copy.deepcopy(v3_example)
    noisy["vendorField"] = 1
    noisy["pcf"]["exemptedEmissionsPercent"] = "0.000"
    noisy["updated"] = "2025-01-01T00:00:00Z"
    out = serialise_footprint(parse_footprint(noisy))
    assert "vendorField" not in out and "updated" not in out and "otherOperatorName" not in out["pcf"]
    assert out["pcf"]["exemptedEmissionsPercent"] == "0.000"
    assert None not in out.values()
    # Property order follows the spec; JSON text round-trips byte for byte for samples.
    for pf in make_footprints("jp", 6) + make_footprints("tw", 3):
        again = serialise_footprint(parse_footprint(pf))
        assert json.dumps(again, ensure_ascii=False, sort_keys=True) == json.dumps(pf, ensure_ascii=False, sort_keys=True)


def test_extension_data_passes_through_untouched(v2_example: dict) -> None:
    pf = copy.deepcopy(v2_example)
    pf["extensions"][0]["data"]["nested"] = {"keep": None, "日本語": "そのまま"}
    out = serialise_footprint(parse_footprint(pf))
    assert out["extensions"] == pf["extensions"]


def test_union_branch_failures_merge_into_one_reason(v2_example: dict) -> None:
    bad = copy.deepcopy(v2_example)
    bad["pcf"]["primaryDataShare"] = "12.9"
    assert validate_footprint(bad).errors == [
        "pcf.primaryDataShare: Input should be a valid integer or a valid number"
    ]
