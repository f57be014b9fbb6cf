"""Scalar wire types shared by the PACT v2.3 and v3.0 models.

Every value stays the exact string (or number) it arrived as: decimals are never
turned into floats and date-times are never re-formatted, so a footprint that is
parsed and serialised again is byte-identical in those fields (signatures over it
stay valid).
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Callable

import math

from pydantic import AfterValidator, Field, StrictBool, StrictFloat, StrictInt, StrictStr

# PACT "Decimal": a JSON string holding a plain decimal number (no exponent).
# The v3 OpenAPI states this pattern; v2.3 says `format: decimal` only, and we
# apply the same pattern to both.
_DECIMAL_RE = re.compile(r"[+-]?\d+(\.\d+)?")

# RFC 3339 section 5.6 `date-time`. Lower-case `t`/`z` are allowed by RFC 3339.
_DATE_TIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))"
)

_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_URN_RE = re.compile(r"[uU][rR][nN]:\S+")


def check_decimal(value: str) -> str:
    """Accept a PACT decimal string, returned unchanged."""
    if not _DECIMAL_RE.fullmatch(value):
        raise ValueError(f"not a PACT decimal string (digits, optional sign and fraction): {value!r}")
    return value


def decimal_value(value: str) -> Decimal:
    """The exact numeric value of a (validated) PACT decimal string."""
    return Decimal(check_decimal(value))


def _sign_check(test: Callable[[Decimal], bool], rule: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not test(decimal_value(value)):
            raise ValueError(f"must be {rule}, got {value!r}")
        return value

    return check


def check_date_time(value: str) -> str:
    """Accept an RFC 3339 date-time with an explicit offset, returned unchanged."""
    match = _DATE_TIME_RE.fullmatch(value)
    if not match:
        raise ValueError(f"not an RFC 3339 date-time (YYYY-MM-DDThh:mm:ss[.f](Z|±hh:mm)): {value!r}")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    try:
        # Seconds 60 is a leap second in RFC 3339; datetime cannot hold it.
        datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError as exc:
        raise ValueError(f"not a valid calendar date-time: {value!r} ({exc})") from None
    if second > 60 or (match.group(9) and (int(match.group(9)) > 23 or int(match.group(10)) > 59)):
        raise ValueError(f"not a valid RFC 3339 date-time: {value!r}")
    return value


def parse_date_time(value: str) -> datetime:
    """A timezone-aware datetime for comparisons (the wire string is kept as-is)."""
    check_date_time(value)
    normalised = value.replace("t", "T").replace("z", "Z").replace("Z", "+00:00")
    normalised = re.sub(r":60(?=[.+-])", ":59", normalised)
    return datetime.fromisoformat(normalised)


def check_uuid(value: str) -> str:
    if not _UUID_RE.fullmatch(value):
        raise ValueError(f"not a UUID (8-4-4-4-12 hex digits): {value!r}")
    return value


def check_urn(value: str) -> str:
    if not _URN_RE.fullmatch(value):
        raise ValueError(f"not a URN (must start with 'urn:' and contain no spaces): {value!r}")
    return value


DecimalString = Annotated[StrictStr, AfterValidator(check_decimal)]
PositiveDecimalString = Annotated[StrictStr, AfterValidator(_sign_check(lambda d: d > 0, "> 0"))]
NonNegativeDecimalString = Annotated[StrictStr, AfterValidator(_sign_check(lambda d: d >= 0, ">= 0"))]
NonPositiveDecimalString = Annotated[StrictStr, AfterValidator(_sign_check(lambda d: d <= 0, "<= 0"))]
DateTimeString = Annotated[StrictStr, AfterValidator(check_date_time)]
UuidString = Annotated[StrictStr, AfterValidator(check_uuid)]
Urn = Annotated[StrictStr, AfterValidator(check_urn)]
NonEmptyString = Annotated[StrictStr, Field(min_length=1)]
SpecVersionString = Annotated[StrictStr, Field(pattern=r"^\d+\.\d+\.\d+(-\d{8})?$")]
CountryCode = Annotated[StrictStr, Field(pattern=r"^[A-Z]{2}$")]
CountrySubdivisionCode = Annotated[StrictStr, Field(pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$")]
IpccReport = Annotated[StrictStr, Field(pattern=r"^AR\d+$")]


def _number_range(low: float, high: float) -> Callable[[int | float], int | float]:
    def check(value: int | float) -> int | float:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"must be a finite JSON number, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g} inclusive, got {value!r}")
        return value

    return check


# v2.x numbers: JSON numbers, never strings or booleans, kept as the int or float
# they were decoded as.
Number = StrictInt | StrictFloat
Percent = Annotated[Number, AfterValidator(_number_range(0, 100))]
Dqr1To3 = Annotated[Number, AfterValidator(_number_range(1, 3))]

__all__ = [
    "CountryCode",
    "CountrySubdivisionCode",
    "DateTimeString",
    "DecimalString",
    "Dqr1To3",
    "IpccReport",
    "NonEmptyString",
    "NonNegativeDecimalString",
    "NonPositiveDecimalString",
    "Number",
    "Percent",
    "PositiveDecimalString",
    "SpecVersionString",
    "StrictBool",
    "Urn",
    "UuidString",
    "Unique",
    "check_date_time",
    "check_decimal",
    "decimal_value",
    "parse_date_time",
]


def check_unique(values: list) -> list:
    """JSON Schema `uniqueItems` for lists of strings or of models."""
    seen: list = []
    for item in values:
        key = item.model_dump(mode="json") if hasattr(item, "model_dump") else item
        if key in seen:
            raise ValueError(f"items must be unique; {key!r} appears more than once")
        seen.append(key)
    return values


Unique = AfterValidator(check_unique)
