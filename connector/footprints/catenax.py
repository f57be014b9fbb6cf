"""Catena-X CX-0136 view: a PACT footprint as the io.catenax.pcf 9.0.0 aspect.

The aspect is built from the v3 form (v2 footprints are mapped first with
`mapping.to_v3`) and validated against the shipped 9.0.0 JSON Schema
(CC-BY-4.0, eclipse-tractusx/sldt-semantic-models) before it is returned.

The aspect wants JSON numbers where PACT has exact decimal strings: values
become ints when integral, otherwise binary floats (lossy beyond ~15
significant digits). Other rules, each stated because the aspect asks for
something PACT does not carry:

- `scopeOfPcfForm.partialFullPcf` is "Cradle-to-gate" (PACT's system boundary).
- `retroOrProspectivePcfType` defaults to "Retrospective PCF" (PACT footprints
  are computed from reference-period activity data); pass another if not.
- `allocationWasteIncineration` is required by the aspect and unknown to PACT:
  the caller chooses it (default "cut-off").
- `massBalancingInformation` says no mass balancing ("not applicable").
- `validityPeriodEnd`, when PACT omits it, is referencePeriodEnd + 3 years, the
  validity PACT itself implies.
- `geographyRegionOrSubregion` is required: PACT's region, else the UN M49
  sub-region of the country (a table of common trading countries; otherwise
  pass `geography_region`), else "Global" when PACT sets no geography.
- `ipccCharacterizationFactors` is one value: the newest of AR6/AR5/AR4
  listed, else "unspecified".
- `carbonContentTotal` = fossilCarbonContent + biogenicCarbonContent.
- Outbound logistics (reported beside, not inside, a PACT PCF) appear as a
  distribution stage marked not included; packaging emissions as the
  packaging stage's PCF excluding biogenic uptake.
- `precedingPfIds` is omitted: the 9.0.0 schema models each entry as an empty
  object, so ids cannot be carried. `version` is the v2 version, else 0.
- PACT product-or-sector rules become "<operator>: <rule name>" strings.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft4Validator

from connector.footprints.mapping import MappingError, to_v3
from connector.footprints.types import parse_date_time
from connector.footprints.validation import detect_version, parse_footprint

CX_PCF_SPEC_VERSION = "urn:io.catenax.pcf:datamodel:version:9.0.0"
CX_PCF_ASPECT_URN = "urn:samm:io.catenax.pcf:9.0.0#Pcf"

# UN M49 sub-regions for the countries our partners commonly report.
_M49_SUBREGION = {
    **dict.fromkeys(["JP", "TW", "CN", "KR", "HK", "MO", "MN", "KP"], "Eastern Asia"),
    **dict.fromkeys(["TH", "VN", "MY", "SG", "ID", "PH", "KH", "LA", "MM", "BN"], "South-eastern Asia"),
    **dict.fromkeys(["IN", "PK", "BD", "LK", "NP", "IR"], "Southern Asia"),
    **dict.fromkeys(["US", "CA"], "Northern America"),
    **dict.fromkeys(["MX", "BR", "AR", "CL", "CO", "PE"], "Latin America and the Caribbean"),
    **dict.fromkeys(["DE", "FR", "NL", "BE", "AT", "CH", "LU"], "Western Europe"),
    **dict.fromkeys(["GB", "IE", "SE", "NO", "DK", "FI", "EE", "LV", "LT"], "Northern Europe"),
    **dict.fromkeys(["IT", "ES", "PT", "GR", "SI", "HR"], "Southern Europe"),
    **dict.fromkeys(["PL", "CZ", "SK", "HU", "RO", "BG"], "Eastern Europe"),
    **dict.fromkeys(["AU", "NZ"], "Australia and New Zealand"),
    **dict.fromkeys(["TR", "AE", "SA", "IL"], "Western Asia"),
    "ZA": "Sub-Saharan Africa",
}


@lru_cache(maxsize=1)
def _validator() -> Draft4Validator:
    text = resources.files("connector.footprints").joinpath("data/catenax/io.catenax.pcf-9.0.0-Pcf-schema.json")
    return Draft4Validator(json.loads(text.read_text(encoding="utf-8")))


def validate_catenax(aspect: Any) -> list[str]:
    """Reasons a document is not a valid io.catenax.pcf 9.0.0 aspect (empty if valid)."""
    errors = sorted(_validator().iter_errors(aspect), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]


def _num(value: str) -> int | float:
    exact = Decimal(value)
    return int(exact) if exact == exact.to_integral_value() and "." not in value else float(exact)


def _timestamp(value: str) -> str:
    """CX timestamps want upper-case T and Z; RFC 3339 allows lower-case too."""
    return value.replace("t", "T").replace("z", "Z")


def _three_years_after(value: str) -> str:
    """PACT's implied validity end: referencePeriodEnd + 3 years (29 Feb -> 28 Feb)."""
    moment = parse_date_time(value)
    day = 28 if (moment.month, moment.day) == (2, 29) else moment.day
    return moment.replace(year=moment.year + 3, day=day).isoformat().replace("+00:00", "Z")


def _put(target: dict[str, Any], name: str, value: Any) -> None:
    if value is not None:
        target[name] = value


def to_catenax(
    footprint: dict[str, Any],
    *,
    retro_or_prospective: str = "Retrospective PCF",
    allocation_waste_incineration: str = "cut-off",
    geography_region: str | None = None,
    product_mass_per_declared_unit: str | None = None,
) -> dict[str, Any]:
    """The CX-0136 (io.catenax.pcf 9.0.0) aspect for a PACT v2.x or v3.x footprint."""
    version = detect_version(footprint)
    v2_version = 0
    if version == "2.3":
        v2_version = parse_footprint(footprint, "2.3").version  # type: ignore[union-attr]
        v3 = to_v3(footprint, product_mass_per_declared_unit=product_mass_per_declared_unit)
    else:
        v3 = parse_footprint(footprint, "3.0").to_json_dict()
    pcf = v3["pcf"]
    problems: list[str] = []

    def number(name: str) -> int | float | None:
        return _num(pcf[name]) if name in pcf else None

    if pcf["declaredUnitOfMeasurement"] == "megabit second":
        problems.append("declaredUnitOfMeasurement: 'megabit second' has no Catena-X equivalent")
    mass = _num(pcf["productMassPerDeclaredUnit"])
    if mass < 0:
        problems.append("productMassPerDeclaredUnit: Catena-X requires a value >= 0")
    if Decimal(pcf["pcfExcludingBiogenicUptake"]) < 0:
        problems.append("pcfExcludingBiogenicUptake: Catena-X requires a value >= 0")
    if Decimal(pcf["exemptedEmissionsPercent"]) > 10:
        problems.append("exemptedEmissionsPercent: Catena-X allows at most 10 percent")

    region = pcf.get("geographyRegionOrSubregion") or geography_region
    country = pcf.get("geographyCountry") or (pcf.get("geographyCountrySubdivision") or "")[:2] or None
    if region is None and country is not None:
        region = _M49_SUBREGION.get(country)
        if region is None:
            problems.append(f"geography: no UN M49 sub-region known for country {country!r}; pass geography_region")
    region = region or "Global"
    if problems:
        raise MappingError(problems, "Catena-X PCF 9.0.0")

    product: dict[str, Any] = {
        "productNameCompany": v3["productNameCompany"],
        "productIds": v3["productIds"],
        "declaredUnitOfMeasurement": pcf["declaredUnitOfMeasurement"],
        "declaredUnitAmount": _num(pcf["declaredUnitAmount"]),
        "productMassPerDeclaredUnit": mass,
    }
    _put(product, "productClassifications", v3.get("productClassifications"))
    product["productDescription"] = v3["productDescription"]

    quality: dict[str, Any] = {}
    _put(quality, "primaryDataShare", number("primaryDataShare"))
    if "secondaryEmissionFactorSources" in pcf:
        quality["secondaryEmissionFactorSources"] = list(
            dict.fromkeys(f"{s['name']} {s['version']}" for s in pcf["secondaryEmissionFactorSources"])
        )
    for name, value in (pcf.get("dqi") or {}).items():
        quality[name] = _num(value)

    factors = pcf["ipccCharacterizationFactors"]
    ipcc = next((ar for ar in ("AR6", "AR5", "AR4") if ar in factors), "unspecified")
    rules = list(
        dict.fromkeys(
            f"{rule.get('otherOperatorName', rule['operator'])}: {name}"
            for rule in pcf.get("productOrSectorSpecificRules", [])
            for name in rule["ruleNames"]
        )
    )
    allocation: dict[str, Any] = {"allocationWasteIncineration": allocation_waste_incineration}
    _put(allocation, "allocationRulesDescription", pcf.get("allocationRulesDescription"))

    technology: dict[str, Any] = {"ccsTechnologicalCO2CaptureIncluded": bool(pcf.get("ccsTechnologicalCO2CaptureIncluded"))}
    _put(technology, "boundaryProcessesDescription", pcf.get("boundaryProcessesDescription"))
    boundary: dict[str, Any] = {"exemptedEmissionsPercent": _num(pcf["exemptedEmissionsPercent"])}
    _put(boundary, "exemptedEmissionsDescription", pcf.get("exemptedEmissionsDescription"))
    validity_end = v3.get("validityPeriodEnd") or _three_years_after(pcf["referencePeriodEnd"])
    time: dict[str, Any] = {
        "referencePeriodStart": _timestamp(pcf["referencePeriodStart"]),
        "referencePeriodEnd": _timestamp(pcf["referencePeriodEnd"]),
        "created": _timestamp(v3["created"]),
        "validityPeriodEnd": _timestamp(validity_end),
    }
    if "validityPeriodStart" in v3:
        time["validityPeriodStart"] = _timestamp(v3["validityPeriodStart"])
    geography: dict[str, Any] = {"geographyRegionOrSubregion": region}
    _put(geography, "geographyCountry", pcf.get("geographyCountry"))
    _put(geography, "geographyCountrySubdivision", pcf.get("geographyCountrySubdivision"))

    production: dict[str, Any] = {
        "pcfIncludingBiogenicUptake": _num(pcf["pcfIncludingBiogenicUptake"]),
        "pcfExcludingBiogenicUptake": _num(pcf["pcfExcludingBiogenicUptake"]),
        "fossilGhgEmissions": _num(pcf["fossilGhgEmissions"]),
    }
    for name in (
        "biogenicNonCO2Emissions",
        "biogenicCO2Uptake",
        "landUseChangeGhgEmissions",
        "landManagementBiogenicCO2Emissions",
        "landManagementBiogenicCO2Removals",
        "aircraftGhgEmissions",
    ):
        _put(production, name, number(name))
    distribution: dict[str, Any] = {"distributionStageIncluded": False}
    _put(distribution, "distributionStagePcfExcludingBiogenicUptake", number("outboundLogisticsGhgEmissions"))
    packaging: dict[str, Any] = {"packagingEmissionsIncluded": bool(pcf.get("packagingEmissionsIncluded"))}
    _put(packaging, "packagingPcfExcludingBiogenicUptake", number("packagingGhgEmissions"))

    carbon: dict[str, Any] = {
        "carbonContentTotal": _num(
            str(Decimal(pcf["fossilCarbonContent"]) + Decimal(pcf.get("biogenicCarbonContent", "0")))
        ),
        "fossilCarbonContent": _num(pcf["fossilCarbonContent"]),
    }
    for name in ("biogenicCarbonContent", "packagingBiogenicCarbonContent", "recycledCarbonContent"):
        _put(carbon, name, number(name))
    general: dict[str, Any] = {}
    _put(general, "comment", v3.get("comment"))

    aspect = {
        "scopeOfPcfForm": [{"specVersion": CX_PCF_SPEC_VERSION, "partialFullPcf": "Cradle-to-gate"}],
        "companyAndProductInformation": [
            {
                "companyInformation": [{"companyName": v3["companyName"], "companyIds": v3["companyIds"]}],
                "productInformation": [product],
            }
        ],
        "pcfAssessmentAndMethodology": [
            {
                "dataSourcesAndQuality": [quality],
                "pcfMethodology": [
                    {
                        "standards": [
                            {"crossSectoralStandards": pcf["crossSectoralStandards"], "productOrSectorSpecificRules": rules}
                        ],
                        "gwpCharacterizationFactorDetails": [{"ipccCharacterizationFactors": ipcc}],
                        "massBalancingInformation": [
                            {
                                "massBalancingUsed": False,
                                "freeAttributionInMassBalancing": "not applicable",
                                "massBalancingCertificateScheme": "not applicable",
                            }
                        ],
                        "allocationInForeground": [allocation],
                    }
                ],
                "pcfAssessmentInformation": [
                    {
                        "technology": [technology],
                        "boundarySpecifications": [boundary],
                        "time": [time],
                        "geography": [geography],
                        "idAndVersion": [
                            {
                                "id": v3["id"],
                                "version": v2_version,
                                "status": v3["status"],
                                "retroOrProspectivePcfType": retro_or_prospective,
                            }
                        ],
                    }
                ],
            }
        ],
        "general": [general],
        "carbonContent": [carbon],
        "productLifeCycleStagesAndEmissions": [
            {"productionStage": [production], "distributionStage": [distribution], "packagingStage": [packaging]}
        ],
    }
    reasons = validate_catenax(aspect)
    if reasons:
        raise MappingError([f"Catena-X schema: {r}" for r in reasons], "Catena-X PCF 9.0.0")
    return aspect
