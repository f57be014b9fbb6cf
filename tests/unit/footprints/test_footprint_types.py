from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from connector.footprints.types import (
    DateTimeString,
    DecimalString,
    NonPositiveDecimalString,
    Percent,
    PositiveDecimalString,
    Urn,
    UuidString,
    parse_date_time,
)


def accepts(tp: Any, value: Any) -> bool:
    try:
        return TypeAdapter(tp).validate_python(value) == value
    except ValidationError:
        return False


@pytest.mark.parametrize("value", ["0", "0.0", "12.0", "-1.5", "+3", "0.000000000000000000001", "123456789012345678901234567890"])
def test_decimal_strings_are_kept_exactly(value: str) -> None:
    assert TypeAdapter(DecimalString).validate_python(value) == value


@pytest.mark.parametrize("value", ["1e3", ".5", "1.", "1,5", " 1", "NaN", "", 1.5, 1])
def test_decimal_strings_reject_non_decimals(value: Any) -> None:
    assert not accepts(DecimalString, value)


def test_decimal_sign_rules() -> None:
    assert accepts(PositiveDecimalString, "0.001")
    assert not accepts(PositiveDecimalString, "0")
    assert not accepts(PositiveDecimalString, "0.000")
    assert accepts(NonPositiveDecimalString, "0")
    assert accepts(NonPositiveDecimalString, "-0.0")
    assert not accepts(NonPositiveDecimalString, "0.1")


@pytest.mark.parametrize(
    "value", ["2022-03-01T09:32:20Z", "2022-03-01t09:32:20z", "2024-02-29T00:00:00.123456+09:00", "2016-12-31T23:59:60Z"]
)
def test_rfc3339_date_times(value: str) -> None:
    assert TypeAdapter(DateTimeString).validate_python(value) == value
    assert parse_date_time(value).tzinfo is not None


@pytest.mark.parametrize(
    "value",
    ["2023-1-08T14:47:32Z", "2023-02-29T00:00:00Z", "2023-01-08T14:47:32", "2023-01-08 14:47:32Z", "2023-01-08T24:00:00Z", "2023-01-08T10:00:00+25:00"],
)
def test_bad_date_times_are_rejected_with_reason(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        TypeAdapter(DateTimeString).validate_python(value)
    assert "date-time" in str(info.value)


def test_numbers_are_strict() -> None:
    assert accepts(Percent, 12.9) and accepts(Percent, 0) and accepts(Percent, 100)
    for bad in ("12.9", True, 100.5, -1, float("inf")):
        assert not accepts(Percent, bad)


def test_uuid_and_urn() -> None:
    assert accepts(UuidString, "51131FB5-42A2-4267-A402-0ECFEFAD1619")
    assert not accepts(UuidString, "51131FB5-42A2-4267-A402")
    assert accepts(Urn, "URN:gtin:123") and accepts(Urn, "urn:kakehashi:jp:corporate-number:7000012050002")
    assert not accepts(Urn, "gtin:123") and not accepts(Urn, "urn:a b")
