from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

from connector.footprints import MappingError, make_footprints, to_catenax, to_v3, validate_catenax


def test_official_catenax_example_validates_against_shipped_schema() -> None:
    path = resources.files("connector.footprints").joinpath("data/catenax/io.catenax.pcf-9.0.0-Pcf-example.json")
    assert validate_catenax(json.loads(path.read_text(encoding="utf-8"))) == []
    assert validate_catenax({"general": []}) != []


def _info(aspect: dict[str, Any]) -> dict[str, Any]:
    return aspect["pcfAssessmentAndMethodology"][0]["pcfAssessmentInformation"][0]


def test_jp_sample_maps_to_valid_aspect_with_derived_values() -> None:
    pf = make_footprints("jp", 1)[0]
    aspect = to_catenax(pf)
    assert validate_catenax(aspect) == []
    product = aspect["companyAndProductInformation"][0]["productInformation"][0]
    assert product["productNameCompany"] == "リチウムイオン電池セル"
    assert product["declaredUnitOfMeasurement"] == "kilowatt hour" and product["productMassPerDeclaredUnit"] == 5.8
    assert _info(aspect)["geography"] == [{"geographyRegionOrSubregion": "Eastern Asia", "geographyCountry": "JP"}]
    assert _info(aspect)["idAndVersion"][0]["id"] == pf["id"] and _info(aspect)["idAndVersion"][0]["version"] == 1
    stage = aspect["productLifeCycleStagesAndEmissions"][0]["productionStage"][0]
    assert str(stage["pcfExcludingBiogenicUptake"]) == pf["pcf"]["pCfExcludingBiogenic"]
    carbon = aspect["carbonContent"][0]
    total = float(pf["pcf"]["fossilCarbonContent"]) + float(pf["pcf"]["biogenicCarbonContent"])
    assert carbon["carbonContentTotal"] == pytest.approx(total)


def test_all_samples_and_official_v3_examples_map(example: Any) -> None:
    for pf in make_footprints("jp", 8, seed=1) + make_footprints("tw", 6, seed=1):
        assert validate_catenax(to_catenax(pf)) == []
        assert validate_catenax(to_catenax(to_v3(pf))) == []
    for name in ("example-1.json", "example-2.json", "example-3.json", "example-4.json"):
        assert validate_catenax(to_catenax(example(f"v3/{name}"))) == []


def test_validity_end_defaults_to_reference_end_plus_three_years(example: Any) -> None:
    pf = copy.deepcopy(example("v3/example-3.json"))
    del pf["validityPeriodEnd"], pf["validityPeriodStart"]
    pf["pcf"]["referencePeriodEnd"] = "2024-02-29T00:00:00Z"
    time = _info(to_catenax(pf))["time"][0]
    assert time["validityPeriodEnd"] == "2027-02-28T00:00:00Z" and "validityPeriodStart" not in time


def test_unmappable_footprints_give_reasons(example: Any) -> None:
    pf = copy.deepcopy(example("v3/example-3.json"))
    pf["pcf"]["declaredUnitOfMeasurement"] = "megabit second"
    pf["pcf"]["exemptedEmissionsPercent"] = "12"
    pf["pcf"]["geographyCountrySubdivision"] = "ZZ-1"
    with pytest.raises(MappingError) as info:
        to_catenax(pf)
    text = str(info.value)
    assert "megabit second" in text and "at most 10 percent" in text and "'ZZ'" in text
    assert validate_catenax(to_catenax(pf | {"pcf": example("v3/example-3.json")["pcf"]}, geography_region="Europe")) == []
    dqr = copy.deepcopy(example("v3/example-3.json"))
    dqr["pcf"]["dqi"]["temporalDQR"] = "7"
    with pytest.raises(MappingError, match="temporalDQR"):
        to_catenax(dqr)
