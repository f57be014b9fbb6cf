"""PACT Technical Specifications v3.0 (OpenAPI 3.0.3, conformance tool 3.0.4).

In v3 every quantity is a decimal string, including the percentages and DQRs
that v2 sent as numbers.

Leniencies on input (documented because the spec, its OpenAPI and the official
examples disagree):

- Additional properties are ignored (warned about) because the OpenAPI allows
  them; the official example-1 carries a stray `pcf.otherOperatorName`. They are
  never serialised.
- `updated` is not a v3 property, but v2-era hosts still send it: it is
  accepted, must still be an RFC 3339 date-time (the official
  `invalid-response-all-properties.json` is invalid for exactly that reason),
  and is dropped on output.
- A rule with operator "Other" and no `otherOperatorName` is a warning.
- The OpenAPI's sign patterns for PositiveNonZero / NegativeOrZero decimals
  are broken regular expressions (unanchored alternatives); the sign rules are
  checked numerically as the prose states them.
- `crossSectoralStandards` is an open list ("x-enum" ends in "..."), so any
  non-empty string is accepted.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictStr, model_validator

from connector.footprints.common import (
    DataModelExtension,
    EmissionFactorSource,
    GeographyRegion,
    PactModel,
    ProductOrSectorSpecificRule,
    Status,
)
from connector.footprints.pact_v2 import _check_geography, _check_period, _common_warnings
from connector.footprints.types import (
    CountryCode,
    CountrySubdivisionCode,
    DateTimeString,
    DecimalString,
    IpccReport,
    NonEmptyString,
    NonNegativeDecimalString,
    NonPositiveDecimalString,
    PositiveDecimalString,
    SpecVersionString,
    Unique,
    Urn,
    UuidString,
)

DeclaredUnitV3 = Literal[
    "liter",
    "kilogram",
    "cubic meter",
    "kilowatt hour",
    "megajoule",
    "ton kilometer",
    "square meter",
    "piece",
    "hour",
    "megabit second",
]


class DataQualityIndicatorsV3(PactModel):
    technologicalDQR: DecimalString
    geographicalDQR: DecimalString
    temporalDQR: DecimalString


class VerificationV3(PactModel):
    coverage: Literal["PCF calculation model", "PCF program", "product level"] | None = None
    providerName: StrictStr | None = None
    completedAt: DateTimeString | None = None
    standardName: StrictStr | None = None
    comments: StrictStr | None = None


class CarbonFootprintV3(PactModel):
    declaredUnitOfMeasurement: DeclaredUnitV3
    declaredUnitAmount: PositiveDecimalString
    productMassPerDeclaredUnit: DecimalString
    referencePeriodStart: DateTimeString
    referencePeriodEnd: DateTimeString
    geographyRegionOrSubregion: GeographyRegion | None = None
    geographyCountry: CountryCode | None = None
    geographyCountrySubdivision: CountrySubdivisionCode | None = None
    boundaryProcessesDescription: StrictStr | None = None
    pcfExcludingBiogenicUptake: DecimalString
    pcfIncludingBiogenicUptake: DecimalString
    fossilCarbonContent: NonNegativeDecimalString
    biogenicCarbonContent: NonNegativeDecimalString | None = None
    recycledCarbonContent: NonNegativeDecimalString | None = None
    fossilGhgEmissions: NonNegativeDecimalString
    landUseChangeGhgEmissions: NonNegativeDecimalString | None = None
    landCarbonLeakage: NonNegativeDecimalString | None = None
    landManagementFossilGhgEmissions: NonNegativeDecimalString | None = None
    landManagementBiogenicCO2Emissions: NonNegativeDecimalString | None = None
    landManagementBiogenicCO2Removals: NonPositiveDecimalString | None = None
    biogenicCO2Uptake: NonPositiveDecimalString | None = None
    biogenicNonCO2Emissions: NonNegativeDecimalString | None = None
    landAreaOccupation: NonNegativeDecimalString | None = None
    aircraftGhgEmissions: NonNegativeDecimalString | None = None
    packagingEmissionsIncluded: StrictBool | None = None
    packagingGhgEmissions: NonNegativeDecimalString | None = None
    packagingBiogenicCarbonContent: NonNegativeDecimalString | None = None
    outboundLogisticsGhgEmissions: NonNegativeDecimalString | None = None
    ccsTechnologicalCO2CaptureIncluded: StrictBool | None = None
    ccsTechnologicalCO2Capture: NonPositiveDecimalString | None = None
    technologicalCO2CaptureOrigin: StrictStr | None = None
    technologicalCO2Removals: NonPositiveDecimalString | None = None
    ccuCarbonContent: NonNegativeDecimalString | None = None
    ccuCalculationApproach: Literal["Cut-off", "Credit"] | None = None
    ccuCreditCertification: NonEmptyString | None = None
    ipccCharacterizationFactors: Annotated[list[IpccReport], Field(min_length=1), Unique]
    crossSectoralStandards: Annotated[list[StrictStr], Field(min_length=1), Unique]
    productOrSectorSpecificRules: (
        Annotated[list[ProductOrSectorSpecificRule], Field(min_length=1), Unique] | None
    ) = None
    exemptedEmissionsPercent: DecimalString
    exemptedEmissionsDescription: StrictStr | None = None
    allocationRulesDescription: StrictStr | None = None
    secondaryEmissionFactorSources: Annotated[list[EmissionFactorSource], Field(min_length=1)] | None = None
    primaryDataShare: DecimalString | None = None
    dqi: DataQualityIndicatorsV3 | None = None
    verification: VerificationV3 | None = None

    @model_validator(mode="after")
    def _spec_rules(self) -> "CarbonFootprintV3":
        _check_geography(self)
        _check_period(self.referencePeriodStart, self.referencePeriodEnd, "referencePeriod")
        return self


class ProductFootprintV3(PactModel):
    id: UuidString
    specVersion: SpecVersionString
    precedingPfIds: Annotated[list[UuidString], Field(min_length=1), Unique] | None = None
    created: DateTimeString
    updated: DateTimeString | None = Field(default=None, exclude=True)
    status: Status
    validityPeriodStart: DateTimeString | None = None
    validityPeriodEnd: DateTimeString | None = None
    companyName: NonEmptyString
    companyIds: Annotated[list[Urn], Field(min_length=1), Unique]
    productDescription: StrictStr
    productIds: Annotated[list[Urn], Field(min_length=1), Unique]
    productClassifications: Annotated[list[Urn], Field(min_length=1), Unique] | None = None
    productNameCompany: NonEmptyString
    comment: StrictStr | None = None
    pcf: CarbonFootprintV3
    extensions: list[DataModelExtension] | None = None

    @model_validator(mode="after")
    def _spec_rules(self) -> "ProductFootprintV3":
        if not self.specVersion.startswith("3."):
            raise ValueError(f"specVersion {self.specVersion!r} is not a PACT 3.x version")
        _check_period(self.validityPeriodStart, self.validityPeriodEnd, "validityPeriod")
        return self

    def warnings(self) -> list[str]:
        """Spec-prose problems that the OpenAPI accepts: reported, not fatal."""
        found: list[str] = []
        if self.updated is not None:
            found.append("updated is not a PACT v3 property; it is dropped on output")
        return found + _common_warnings(self)
