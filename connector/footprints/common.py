"""Model pieces that PACT v2.3 and v3.0 share word for word."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from connector.footprints.types import NonEmptyString


class PactModel(BaseModel):
    """Base for every PACT wire model.

    Unknown properties are ignored rather than rejected because neither PACT
    OpenAPI forbids additional properties; `validation.unknown_properties`
    reports them as warnings, and serialisation never emits them (strict output).
    """

    model_config = ConfigDict(extra="ignore", validate_default=False, frozen=False)

    def to_json_dict(self) -> dict[str, Any]:
        """The wire form: the spec's property names only, absent values omitted."""
        return self.model_dump(mode="json", exclude_none=True)


GeographyRegion = Literal[
    "Africa",
    "Americas",
    "Asia",
    "Europe",
    "Oceania",
    "Australia and New Zealand",
    "Central Asia",
    "Eastern Asia",
    "Eastern Europe",
    "Latin America and the Caribbean",
    "Melanesia",
    "Micronesia",
    "Northern Africa",
    "Northern America",
    "Northern Europe",
    "Polynesia",
    "South-eastern Asia",
    "Southern Asia",
    "Southern Europe",
    "Sub-Saharan Africa",
    "Western Asia",
    "Western Europe",
]

Status = Literal["Active", "Deprecated"]


class DataModelExtension(PactModel):
    """A PACT Data Model Extension; `data` is kept exactly as received.

    Known extensions (GxD) are checked against their own schema by
    `connector.footprints.gxd`; any other extension passes through untouched.
    """

    specVersion: StrictStr
    dataSchema: StrictStr = Field(min_length=1)
    documentation: StrictStr | None = None
    data: dict[str, Any]


class ProductOrSectorSpecificRule(PactModel):
    """Identical in v2.3 and v3.0.

    Lenient: `otherOperatorName` missing while `operator` is "Other" violates the
    spec's prose but not its OpenAPI (the official v3 example-1 does it), so it is
    reported as a warning, not an error.
    """

    operator: Literal["PEF", "EPD International", "Other"]
    ruleNames: list[NonEmptyString] = Field(min_length=1)
    otherOperatorName: NonEmptyString | None = None


class EmissionFactorSource(PactModel):
    """`EmissionFactorDatabases` in v2.3, `EmissionFactorSource` in v3.0: same shape."""

    name: NonEmptyString
    version: NonEmptyString
