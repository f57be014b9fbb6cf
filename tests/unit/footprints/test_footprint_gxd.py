from __future__ import annotations

import copy

import pytest

from connector.footprints import make_footprints, parse_footprint, serialise_footprint, validate_footprint
from connector.footprints.gxd import (
    GXD_SCHEMA_URL_EN,
    GXD_SCHEMA_URL_JA,
    gxd_language,
    gxd_schema,
    is_gxd_extension,
    make_gxd_extension,
    validate_gxd_data,
)


@pytest.mark.parametrize(
    ("url", "language"),
    [
        (GXD_SCHEMA_URL_EN, "en"),
        (GXD_SCHEMA_URL_JA, "jp"),
        ("https://raw.githubusercontent.com/Green-x-Digital-Consortium/data-model-extensions/main/specs/GxD_schema_en.json", "en"),
        ("https://github.com/Green-x-Digital-Consortium/data-model-extensions/blob/v1.0/specs/GxD_schema_jp.json", "jp"),
        ("https://catalog.carbon-transparency.com/shipment/1.0.0/data-model.json", None),
        ("https://evil.example/Green-x-Digital-Consortium/data-model-extensions/blob/main/specs/GxD_schema_en.json", None),
    ],
)
def test_recognised_by_data_schema_url(url: str, language: str | None) -> None:
    assert gxd_language(url) == language
    assert is_gxd_extension({"dataSchema": url}) is (language is not None)


def test_minimal_and_full_data_validate() -> None:
    assert validate_gxd_data({"calcMethod": "0", "FWedition": "2.0"}) == []
    org = {"scope1DistributionLevel": "site", "scope2DistributionLevel": "site", "scope3DistributionLevel": "organization"}
    # Published schema still requires two names it no longer defines; we do not.
    assert validate_gxd_data({"calcMethod": "1", "FWedition": "2.0", "organization": org}) == []
    assert "declaredUnit" in gxd_schema("en", as_published=True)["$defs"]["organization"]["required"]
    assert "declaredUnit" not in gxd_schema("en")["$defs"]["organization"]["required"]


def test_bad_data_reasons_name_the_path() -> None:
    reasons = validate_gxd_data({"calcMethod": "2", "organization": {"scope1DistributionLevel": "city"}}, "jp")
    joined = "\n".join(reasons)
    assert "data: GxD schema: 'FWedition' is a required property" in joined
    assert "data.calcMethod: GxD schema: '2' is not one of ['0', '1']" in joined
    assert "data.organization.scope1DistributionLevel" in joined
    with pytest.raises(ValueError, match="calcMethod"):
        make_gxd_extension({"calcMethod": 0, "FWedition": "2.0"})


def test_footprint_with_bad_gxd_fails_schema_check() -> None:
    pf = make_footprints("jp", 1)[0]
    assert is_gxd_extension(pf["extensions"][0])
    pf["extensions"][0]["data"]["calcMethod"] = "9"
    check = validate_footprint(pf)
    assert not check.ok
    assert check.errors == ["extensions[0].data.calcMethod: GxD schema: '9' is not one of ['0', '1']"]


def test_other_extensions_are_not_inspected_and_japanese_text_is_intact() -> None:
    pf = make_footprints("jp", 1)[0]
    other = {"specVersion": "2.0.0", "dataSchema": "https://example.org/ext.json", "data": {"anything": ["goes", 1, None]}}
    pf["extensions"].append(other)
    gxd_before = copy.deepcopy(pf["extensions"][0])
    out = serialise_footprint(parse_footprint(pf))
    assert out["extensions"] == [gxd_before, other]
    text = out["extensions"][0]["data"]["gateToGate"]["unitaryProductAmountComment"]
    assert text == "宣言単位あたり（出荷荷姿を除く）"


def test_make_extension_wraps_valid_data() -> None:
    ext = make_gxd_extension({"calcMethod": "0", "FWedition": "2.0"}, language="jp")
    assert ext == {"specVersion": "2.0.0", "dataSchema": GXD_SCHEMA_URL_JA, "data": {"calcMethod": "0", "FWedition": "2.0"}}
