"""PACT Technical Specifications v2.3 (OpenAPI 2.3.3): ProductFootprint and parts.

Accepts every 2.x `specVersion` (the official examples are "2.0.0" and "2.1.0"
and validate against the 2.3.3 OpenAPI). Decimals are strings and stay strings;
the properties that v2 defines as JSON numbers (percentages, DQRs) stay numbers.

Leniencies on input, each because the OpenAPI allows what the prose forbids or
the prose allows what a strict reading would reject:

- Additional properties are ignored (warned about), as the OpenAPI does not
  forbid them; they are never serialised.
- `assurance.providerName` may be empty (the official example sends "").
- UUIDs may use upper-case hex (the official invalid-response example does).
- `productCategoryCpc` is still required (the 2.3.3 OpenAPI requires it even
  though 2.3 deprecates it in favour of `productClassifications`).

Rules from the prose enforced beyond the OpenAPI: the "x-comment" sign rules
on decimals (>= 0, <= 0, > 0), validity period end after start, reference
period end after start, and at least one of `primaryDataShare` / `dqi`.
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
from connector.footprints.types import (
    CountryCode,
    CountrySubdivisionCode,
    DateTimeString,
    DecimalString,
    Dqr1To3,
    IpccReport,
    NonEmptyString,
    NonNegativeDecimalString,
    NonPositiveDecimalString,
    Percent,
    PositiveDecimalString,
    SpecVersionString,
    Unique,
    Urn,
    UuidString,
    parse_date_time,
)

DeclaredUnitV2 = Literal[
    "liter", "kilogram", "cubic meter", "kilowatt hour", "megajoule", "ton kilometer", "square meter"
]
CharacterizationFactorsV2 = Literal["AR6", "AR5"]
CrossSectoralStandardUsedV2 = Literal[
    "GHG Protocol Product standard", "ISO Standard 14067", "ISO Standard 14044"
]
CrossSectoralStandardV2 = Literal[
    "ISO14067", "ISO14083", "ISO14040-44", "GHGP-Product", "PEF", "PACT-1.0", "PACT-2.0", "PACT-3.0"
]


class DataQualityIndicatorsV2(PactModel):
    coveragePercent: Percent
    technologicalDQR: Dqr1To3
    temporalDQR: Dqr1To3
    geographicalDQR: Dqr1To3
    completenessDQR: Dqr1To3
    reliabilityDQR: Dqr1To3


class AssuranceV2(PactModel):
    assurance: StrictBool
    coverage: Literal["corporate level", "product line", "PCF system", "product level"] | None = None
    level: Literal["limited", "reasonable"] | None = None
    boundary: Literal["Gate-to-Gate", "Cradle-to-Gate"] | None = None
    providerName: StrictStr
    completedAt: DateTimeString | None = None
    standardName: StrictStr | None = None
    comments: StrictStr | None = None


def _check_geography(pcf: PactModel) -> None:
    given = [
        name
        for name in ("geographyRegionOrSubregion", "geographyCountry", "geographyCountrySubdivision")
        if getattr(pcf, name) is not None
    ]
    if len(given) > 1:
        raise ValueError(
            "geography: at most one of geographyRegionOrSubregion, geographyCountry, "
            f"geographyCountrySubdivision may be set, got {', '.join(given)}"
        )


def _check_period(start: str | None, end: str | None, what: str) -> None:
    if start is not None and end is not None and parse_date_time(end) <= parse_date_time(start):
        raise ValueError(f"{what}End ({end}) must be after {what}Start ({start})")


def _common_warnings(pf: PactModel) -> list[str]:
    """The spec-prose warnings v2 and v3 share: an 'Other' rule operator without a name, and a
    validity period end without a start."""
    found: list[str] = []
    for i, rule in enumerate(pf.pcf.productOrSectorSpecificRules or []):  # type: ignore[attr-defined]
        if rule.operator == "Other" and rule.otherOperatorName is None:
            found.append(f"pcf.productOrSectorSpecificRules[{i}]: operator is 'Other' but otherOperatorName is missing")
    if pf.validityPeriodStart is None and pf.validityPeriodEnd is not None:  # type: ignore[attr-defined]
        found.append("validityPeriodEnd is set without validityPeriodStart")
    return found


class CarbonFootprintV2(PactModel):
    declaredUnit: DeclaredUnitV2
    unitaryProductAmount: PositiveDecimalString
    productMassPerDeclaredUnit: DecimalString | None = None
    pCfExcludingBiogenic: NonNegativeDecimalString
    pCfIncludingBiogenic: DecimalString | None = None
    fossilGhgEmissions: NonNegativeDecimalString
    fossilCarbonContent: NonNegativeDecimalString
    biogenicCarbonContent: NonNegativeDecimalString
    dLucGhgEmissions: NonNegativeDecimalString | None = None
    landManagementGhgEmissions: NonNegativeDecimalString | None = None
    otherBiogenicGhgEmissions: NonNegativeDecimalString | None = None
    iLucGhgEmissions: NonNegativeDecimalString | None = None
    biogenicCarbonWithdrawal: NonPositiveDecimalString | None = None
    aircraftGhgEmissions: NonNegativeDecimalString | None = None
    characterizationFactors: CharacterizationFactorsV2
    ipccCharacterizationFactorsSources: Annotated[list[IpccReport], Field(min_length=1), Unique]
    crossSectoralStandardsUsed: Annotated[list[CrossSectoralStandardUsedV2], Field(min_length=1), Unique]
    crossSectoralStandards: Annotated[list[CrossSectoralStandardV2], Field(min_length=1), Unique] | None = None
    productOrSectorSpecificRules: (
        Annotated[list[ProductOrSectorSpecificRule], Field(min_length=1), Unique] | None
    ) = None
    biogenicAccountingMethodology: Literal["PEF", "ISO", "GHGP", "Quantis"] | None = None
    boundaryProcessesDescription: StrictStr
    referencePeriodStart: DateTimeString
    referencePeriodEnd: DateTimeString
    geographyRegionOrSubregion: GeographyRegion | None = None
    geographyCountry: CountryCode | None = None
    geographyCountrySubdivision: CountrySubdivisionCode | None = None
    secondaryEmissionFactorSources: Annotated[list[EmissionFactorSource], Field(min_length=1)] | None = None
    exemptedEmissionsPercent: Percent
    exemptedEmissionsDescription: StrictStr
    packagingEmissionsIncluded: StrictBool
    packagingGhgEmissions: NonNegativeDecimalString | None = None
    allocationRulesDescription: StrictStr | None = None
    uncertaintyAssessmentDescription: StrictStr | None = None
    primaryDataShare: Percent | None = None
    dqi: DataQualityIndicatorsV2 | None = None
    assurance: AssuranceV2 | None = None

    @model_validator(mode="after")
    def _spec_rules(self) -> "CarbonFootprintV2":
        _check_geography(self)
        _check_period(self.referencePeriodStart, self.referencePeriodEnd, "referencePeriod")
        if self.primaryDataShare is None and self.dqi is None:
            raise ValueError("at least one of primaryDataShare or dqi must be defined")
        return self


class ProductFootprintV2(PactModel):
    id: UuidString
    specVersion: SpecVersionString
    precedingPfIds: Annotated[list[UuidString], Field(min_length=1), Unique] | None = None
    version: Annotated[int, Field(strict=True, ge=0, le=2**31 - 1)]
    created: DateTimeString
    updated: DateTimeString | None = None
    status: Status
    statusComment: StrictStr | None = None
    validityPeriodStart: DateTimeString | None = None
    validityPeriodEnd: DateTimeString | None = None
    companyName: NonEmptyString
    companyIds: Annotated[list[Urn], Field(min_length=1), Unique]
    productDescription: StrictStr
    productIds: Annotated[list[Urn], Field(min_length=1), Unique]
    productClassifications: Annotated[list[Urn], Field(min_length=1), Unique] | None = None
    productCategoryCpc: NonEmptyString
    productNameCompany: NonEmptyString
    comment: StrictStr
    pcf: CarbonFootprintV2
    extensions: list[DataModelExtension] | None = None

    @model_validator(mode="after")
    def _spec_rules(self) -> "ProductFootprintV2":
        if not self.specVersion.startswith("2."):
            raise ValueError(f"specVersion {self.specVersion!r} is not a PACT 2.x version")
        _check_period(self.validityPeriodStart, self.validityPeriodEnd, "validityPeriod")
        return self

    def warnings(self) -> list[str]:
        """Spec-prose problems that the OpenAPI accepts: reported, not fatal."""
        found = _common_warnings(self)
        if self.pcf.packagingEmissionsIncluded is False and self.pcf.packagingGhgEmissions is not None:
            found.append("pcf.packagingGhgEmissions is set although packagingEmissionsIncluded is false")
        return found
