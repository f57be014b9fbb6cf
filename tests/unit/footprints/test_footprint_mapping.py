from __future__ import annotations

import copy
from typing import Any

import pytest

from connector.footprints import MappingError, make_footprints, to_v2, to_v3, validate_footprint
from connector.footprints.mapping import decimal_to_number, number_to_decimal


@pytest.mark.parametrize(
    ("number", "text"), [(0, "0"), (78, "78"), (12.9, "12.9"), (0.0, "0.0"), (1e-05, "0.00001"), (2.57, "2.57")]
)
def test_number_decimal_conversions_are_exact_both_ways(number: float, text: str) -> None:
    assert number_to_decimal(number) == text
    assert decimal_to_number(text) == number and type(decimal_to_number(text)) is type(number)


def _diff(a: dict[str, Any], b: dict[str, Any]) -> set[str]:
    keys = {k for k in set(a) | set(b) if k != "pcf" and a.get(k) != b.get(k)}
    return keys | {f"pcf.{k}" for k in set(a["pcf"]) | set(b["pcf"]) if a["pcf"].get(k) != b["pcf"].get(k)}


def test_v2_official_example_round_trip_differs_only_where_documented(v2_example: dict) -> None:
    with pytest.raises(MappingError, match="productMassPerDeclaredUnit"):
        to_v3(v2_example)  # a liter of ethanol: its mass is not in the v2 footprint
    v3 = to_v3(v2_example, product_mass_per_declared_unit="0.789")
    assert validate_footprint(v3).ok and v3["specVersion"] == "3.0.0"
    assert v3["productClassifications"] == ["urn:pact:productclassification:un-cpc:6398"]
    assert v3["pcf"]["landCarbonLeakage"] == "0" and v3["pcf"]["biogenicCO2Uptake"] == "-1.5"
    assert v3["pcf"]["exemptedEmissionsPercent"] == "0" and v3["pcf"]["primaryDataShare"] == "12.9"
    assert v3["pcf"]["dqi"] == {"technologicalDQR": "1.6", "geographicalDQR": "1.8", "temporalDQR": "2.6"}
    assert "verification" not in v3["pcf"]  # assurance: false means not assured
    assert v3["extensions"] == v2_example["extensions"]
    back = to_v2(v3, version=1)
    assert validate_footprint(back).ok
    assert _diff(v2_example, back) == {
        "specVersion",  # 2.0.0 -> 2.3.0
        "productClassifications",  # gains the URN form of productCategoryCpc
        "pcf.productMassPerDeclaredUnit",  # supplied for v3
        "pcf.crossSectoralStandards",  # derived from crossSectoralStandardsUsed
        "pcf.dqi",  # v3 keeps 3 of 5 DQRs; v2 needs all 5
        "pcf.assurance",  # assurance=false has no v3 form
        "pcf.biogenicAccountingMethodology",  # no v3 property
        "pcf.uncertaintyAssessmentDescription",  # no v3 property
    }


@pytest.mark.parametrize("name", ["v3/example-1.json", "v3/example-2.json"])
def test_v3_official_examples_round_trip(example: Any, name: str) -> None:
    pf = example(name)
    if name.endswith("example-1.json"):
        with pytest.raises(MappingError, match="productCategoryCpc"):
            to_v2(pf)  # only a CAS classification: no CPC for v2.3
    back = to_v3(to_v2(pf, cpc_fallback="3411"))
    assert validate_footprint(back).ok
    lost_v3_only = {
        "pcf.recycledCarbonContent",
        "pcf.landAreaOccupation",
        "pcf.landManagementBiogenicCO2Removals",
        "pcf.packagingBiogenicCarbonContent",
        "pcf.dqi",
        "pcf.otherOperatorName",  # stray, not a v3 property
        "pcf.exemptedEmissionsDescription",  # "" after the v2 hop
        "pcf.landManagementFossilGhgEmissions",  # folded into land management
        "pcf.landManagementBiogenicCO2Emissions",
        "productClassifications",  # gains the CPC URN
    }
    assert _diff(pf, back) <= lost_v3_only
    assert back["pcf"]["pcfExcludingBiogenicUptake"] == pf["pcf"]["pcfExcludingBiogenicUptake"]


def test_v3_to_v2_reports_everything_it_cannot_supply(example: Any) -> None:
    pf = copy.deepcopy(example("v3/example-3.json"))
    pf["pcf"]["crossSectoralStandards"] = ["PAS2050"]
    pf["pcf"]["ipccCharacterizationFactors"] = ["AR4"]
    del pf["pcf"]["packagingEmissionsIncluded"]
    with pytest.raises(MappingError) as info:
        to_v2(pf)
    text = str(info.value)
    for needle in ("'piece' has no v2.3", "crossSectoralStandardsUsed", "AR6 or AR5", "packagingEmissionsIncluded"):
        assert needle in text


def test_samples_round_trip_v2_v3_v2() -> None:
    for pf in make_footprints("jp", 10) + make_footprints("tw", 10):
        v3 = to_v3(pf)
        back = to_v2(v3, version=pf["version"])
        assert _diff(pf, back) <= {"pcf.dqi", "pcf.assurance", "pcf.landManagementGhgEmissions"}
        assert back["pcf"]["dqi" if "dqi" in back["pcf"] else "primaryDataShare"] is not None
        if "assurance" in pf["pcf"]:
            assert v3["pcf"]["verification"]["providerName"] == pf["pcf"]["assurance"]["providerName"]
            assert back["pcf"]["assurance"]["assurance"] is True


def test_mapping_rejects_invalid_input(v2_example: dict) -> None:
    bad = copy.deepcopy(v2_example)
    bad["updated"] = "2023-1-08T14:47:32Z"
    with pytest.raises(ValueError, match="updated"):
        to_v3(bad, product_mass_per_declared_unit="1")
