from __future__ import annotations

import re
from decimal import Decimal

import pytest

from jsonschema import Draft202012Validator

from connector.footprints import is_gxd_extension, make_footprints, validate_footprint
from connector.footprints.gxd import gxd_schema
from connector.footprints.samples import company_id, is_tw_business_number, jp_corporate_number


def test_japanese_corporate_number_check_digit() -> None:
    assert jp_corporate_number(12050002) == "7000012050002"  # National Tax Agency's own number


def test_taiwan_business_number_checksum() -> None:
    assert is_tw_business_number("04595257")
    assert not is_tw_business_number("04595258")
    assert not is_tw_business_number("1234567")


@pytest.mark.parametrize("company", ["jp", "tw"])
def test_samples_are_valid_without_warnings_and_deterministic(company: str) -> None:
    footprints = make_footprints(company, 25, seed=7)
    assert len(footprints) == 25
    for pf in footprints:
        check = validate_footprint(pf)
        assert check.ok and check.version == "2.3", check.errors
        assert check.warnings == []
    assert footprints == make_footprints(company, 25, seed=7)
    assert footprints != make_footprints(company, 25, seed=8)
    assert len({pf["id"] for pf in footprints}) == 25
    assert len({pf["productIds"][0] for pf in footprints}) == 25


def test_company_ids_and_languages() -> None:
    jp = make_footprints("jp", 3)
    tw = make_footprints("tw", 3)
    jp_id = jp[0]["companyIds"][0]
    assert re.fullmatch(r"urn:kakehashi:jp:corporate-number:\d{13}", jp_id)
    digits = jp_id.rsplit(":", 1)[1]
    assert jp_corporate_number(int(digits[1:])) == digits
    tw_id = tw[0]["companyIds"][0]
    assert re.fullmatch(r"urn:kakehashi:tw:ubn:\d{8}", tw_id) and is_tw_business_number(tw_id.rsplit(":", 1)[1])
    assert jp_id == company_id("jp") and all(pf["companyIds"] == [jp_id] for pf in jp)
    assert jp[0]["productNameCompany"] == "リチウムイオン電池セル"
    assert tw[0]["productNameCompany"] == "鋰離子電池模組"
    assert {pf["pcf"].get("geographyCountry") or pf["pcf"]["geographyCountrySubdivision"][:2] for pf in tw} == {"TW"}


def test_totals_add_up_exactly() -> None:
    for pf in make_footprints("tw", 10) + make_footprints("jp", 10):
        pcf = pf["pcf"]
        parts = ("fossilGhgEmissions", "dLucGhgEmissions", "landManagementGhgEmissions", "otherBiogenicGhgEmissions")
        assert Decimal(pcf["pCfExcludingBiogenic"]) == sum(Decimal(pcf[p]) for p in parts)
        assert Decimal(pcf["pCfIncludingBiogenic"]) == Decimal(pcf["pCfExcludingBiogenic"]) + Decimal(pcf["biogenicCarbonWithdrawal"])
        assert pcf["biogenicCarbonWithdrawal"] != "-0"


def test_gxd_only_on_some_japanese_footprints() -> None:
    jp = make_footprints("jp", 8)
    with_gxd = [pf for pf in jp if any(is_gxd_extension(e) for e in pf.get("extensions", []))]
    assert 0 < len(with_gxd) < len(jp)
    assert {e["data"]["calcMethod"] for pf in with_gxd for e in pf["extensions"]} == {"0", "1"}
    published = Draft202012Validator(gxd_schema("jp", as_published=True))
    assert all(published.is_valid(e["data"]) for pf in with_gxd for e in pf["extensions"])
    assert not any("extensions" in pf for pf in make_footprints("jp", 8, gxd=False))
    assert not any("extensions" in pf for pf in make_footprints("tw", 8))


def test_bad_arguments() -> None:
    assert make_footprints("jp", 0) == []
    with pytest.raises(ValueError, match="company"):
        make_footprints("kr", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n must be"):
        make_footprints("jp", -1)
