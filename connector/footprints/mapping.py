"""Mapping between PACT v2.3 and v3.0 footprints (both directions).

One store serves both API versions, so the mapping must be predictable: every
property either maps, is derived by a stated rule, or is dropped, and a property
the target requires but the source cannot supply raises `MappingError` naming it
(never a made-up value). Both functions validate their input and their output.

v2.3 -> v3.0 (`to_v3`)
  renamed:   declaredUnit -> declaredUnitOfMeasurement, unitaryProductAmount ->
             declaredUnitAmount, pCfExcludingBiogenic -> pcfExcludingBiogenicUptake,
             pCfIncludingBiogenic -> pcfIncludingBiogenicUptake, dLucGhgEmissions ->
             landUseChangeGhgEmissions, iLucGhgEmissions -> landCarbonLeakage (iLUC is
             the methodology's land carbon leakage), biogenicCarbonWithdrawal ->
             biogenicCO2Uptake, landManagementGhgEmissions ->
             landManagementBiogenicCO2Emissions, otherBiogenicGhgEmissions ->
             biogenicNonCO2Emissions, ipccCharacterizationFactorsSources ->
             ipccCharacterizationFactors, assurance -> verification (only when
             assurance.assurance is true: in v3 its presence means "assured").
  derived:   productCategoryCpc -> productClassifications gains
             "urn:pact:productclassification:un-cpc:<code>";
             crossSectoralStandards, when absent, from crossSectoralStandardsUsed;
             numbers (exemptedEmissionsPercent, primaryDataShare, DQRs) -> exact
             decimal strings; productMassPerDeclaredUnit "1" when the declared unit
             is kilogram (otherwise it must be in the source or passed in);
             assurance.coverage "PCF system" -> "PCF calculation model".
  lossy:     version, updated, statusComment, assurance with assurance=false, characterizationFactors (kept in the
             list), biogenicAccountingMethodology, uncertaintyAssessmentDescription,
             dqi.coveragePercent / completenessDQR / reliabilityDQR, assurance.level /
             boundary, assurance.coverage "corporate level" / "product line".
  specVersion becomes "3.0.0".

v3.0 -> v2.3 (`to_v2`)
  the inverse renames; productClassifications kept (v2.3 has it);
  productCategoryCpc from the un-cpc classification (or `cpc_fallback`), characterizationFactors = the newest of AR6/AR5 listed,
  crossSectoralStandardsUsed from crossSectoralStandards where an equivalent
  exists (both are emitted), landManagementGhgEmissions =
  landManagementBiogenicCO2Emissions + landManagementFossilGhgEmissions,
  decimal strings -> JSON numbers for the v2 number properties (binary floats:
  exact for ordinary values, not beyond ~15 significant digits), `version` from
  the argument (default 0), comment / boundaryProcessesDescription /
  exemptedEmissionsDescription "" when absent (free text, may be empty in v2).
  lossy: every v3-only quantity (recycledCarbonContent, landAreaOccupation,
  landManagementBiogenicCO2Removals, packagingBiogenicCarbonContent,
  outboundLogisticsGhgEmissions, CCS/CCU properties), dqi (v2 needs five DQRs
  and a coverage v3 does not have), verification.coverage other than
  "product level" / "PCF calculation model".
  specVersion becomes "2.3.0".

Extensions pass through untouched both ways.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from connector.footprints.pact_v2 import ProductFootprintV2
from connector.footprints.pact_v3 import ProductFootprintV3
from connector.footprints.validation import FootprintError, parse_footprint, pydantic_reasons

V2_SPEC_VERSION = "2.3.0"
V3_SPEC_VERSION = "3.0.0"
CPC_URN_PREFIX = "urn:pact:productclassification:un-cpc:"

_STANDARDS_USED_TO_V3 = {
    "GHG Protocol Product standard": "GHGP-Product",
    "ISO Standard 14067": "ISO14067",
    "ISO Standard 14044": "ISO14040-44",
}
_STANDARDS_V3_TO_USED = {v3: used for used, v3 in _STANDARDS_USED_TO_V3.items()}
_V23_STANDARDS = {"ISO14067", "ISO14083", "ISO14040-44", "GHGP-Product", "PEF", "PACT-1.0", "PACT-2.0", "PACT-3.0"}
_V2_UNITS = {"liter", "kilogram", "cubic meter", "kilowatt hour", "megajoule", "ton kilometer", "square meter"}
_COVERAGE_TO_V3 = {"product level": "product level", "PCF system": "PCF calculation model"}
_COVERAGE_TO_V2 = {v3: v2 for v2, v3 in _COVERAGE_TO_V3.items()}

# (v2 name, v3 name) for decimal-string properties that only change name.
_RENAMED_DECIMALS = (
    ("unitaryProductAmount", "declaredUnitAmount"),
    ("productMassPerDeclaredUnit", "productMassPerDeclaredUnit"),
    ("pCfExcludingBiogenic", "pcfExcludingBiogenicUptake"),
    ("pCfIncludingBiogenic", "pcfIncludingBiogenicUptake"),
    ("fossilGhgEmissions", "fossilGhgEmissions"),
    ("fossilCarbonContent", "fossilCarbonContent"),
    ("biogenicCarbonContent", "biogenicCarbonContent"),
    ("dLucGhgEmissions", "landUseChangeGhgEmissions"),
    ("iLucGhgEmissions", "landCarbonLeakage"),
    ("otherBiogenicGhgEmissions", "biogenicNonCO2Emissions"),
    ("biogenicCarbonWithdrawal", "biogenicCO2Uptake"),
    ("aircraftGhgEmissions", "aircraftGhgEmissions"),
    ("packagingGhgEmissions", "packagingGhgEmissions"),
)
_SAME_NAME = (
    "referencePeriodStart",
    "referencePeriodEnd",
    "geographyRegionOrSubregion",
    "geographyCountry",
    "geographyCountrySubdivision",
    "packagingEmissionsIncluded",
    "allocationRulesDescription",
)
_HEADER_SAME = (
    "id",
    "precedingPfIds",
    "created",
    "status",
    "validityPeriodStart",
    "validityPeriodEnd",
    "companyName",
    "companyIds",
    "productDescription",
    "productIds",
    "productNameCompany",
)


class MappingError(ValueError):
    """The target version requires something the source footprint cannot supply."""

    def __init__(self, reasons: list[str], target: str) -> None:
        self.reasons = reasons
        super().__init__(f"cannot map to PACT {target}: " + "; ".join(reasons))


def number_to_decimal(value: int | float) -> str:
    """A v2 JSON number as the exact decimal string of its shortest repr."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int):
        return str(value)
    return format(Decimal(repr(value)), "f")


def decimal_to_number(value: str) -> int | float:
    """A v3 decimal string as a JSON number: int when it has no fraction part."""
    exact = Decimal(value)
    return int(exact) if "." not in value else float(exact)


def _copy_present(src: dict[str, Any], dst: dict[str, Any], pairs: Any) -> None:
    for source_name, target_name in pairs:
        if source_name in src:
            dst[target_name] = src[source_name]


def _checked(model: type[ProductFootprintV2] | type[ProductFootprintV3], doc: dict[str, Any], target: str) -> dict[str, Any]:
    """Validate the mapped output so a mapping bug can never emit an invalid footprint."""
    try:
        return model.model_validate(doc).to_json_dict()
    except ValidationError as exc:
        raise MappingError(pydantic_reasons(exc), target) from None


def to_v3(pf_v2: dict[str, Any] | ProductFootprintV2, *, product_mass_per_declared_unit: str | None = None) -> dict[str, Any]:
    """A v3.0 footprint dict for a v2.x footprint (see the module docstring)."""
    pf = pf_v2 if isinstance(pf_v2, ProductFootprintV2) else parse_footprint(pf_v2, "2.3")
    if not isinstance(pf, ProductFootprintV2):
        raise FootprintError(["specVersion: not a PACT 2.x footprint"], "2.3")
    src = pf.to_json_dict()
    pcf = src["pcf"]
    out: dict[str, Any] = {"id": src["id"], "specVersion": V3_SPEC_VERSION}
    _copy_present(src, out, ((name, name) for name in _HEADER_SAME))
    classifications = list(src.get("productClassifications", []))
    cpc_urn = CPC_URN_PREFIX + src["productCategoryCpc"]
    if cpc_urn not in classifications:
        classifications.append(cpc_urn)
    out["productClassifications"] = classifications
    out["comment"] = src["comment"]

    v3: dict[str, Any] = {"declaredUnitOfMeasurement": pcf["declaredUnit"]}
    _copy_present(pcf, v3, _RENAMED_DECIMALS)
    _copy_present(pcf, v3, ((name, name) for name in _SAME_NAME))
    if "landManagementGhgEmissions" in pcf:
        v3["landManagementBiogenicCO2Emissions"] = pcf["landManagementGhgEmissions"]
    if product_mass_per_declared_unit is not None:
        v3["productMassPerDeclaredUnit"] = product_mass_per_declared_unit
    elif "productMassPerDeclaredUnit" not in v3 and pcf["declaredUnit"] == "kilogram":
        v3["productMassPerDeclaredUnit"] = "1"
    v3["boundaryProcessesDescription"] = pcf["boundaryProcessesDescription"]
    factors = list(pcf["ipccCharacterizationFactorsSources"])
    if pcf["characterizationFactors"] not in factors:
        factors.append(pcf["characterizationFactors"])
    v3["ipccCharacterizationFactors"] = factors
    v3["crossSectoralStandards"] = pcf.get("crossSectoralStandards") or [
        _STANDARDS_USED_TO_V3[used] for used in pcf["crossSectoralStandardsUsed"]
    ]
    _copy_present(pcf, v3, (("productOrSectorSpecificRules", "productOrSectorSpecificRules"),))
    v3["exemptedEmissionsPercent"] = number_to_decimal(pcf["exemptedEmissionsPercent"])
    v3["exemptedEmissionsDescription"] = pcf["exemptedEmissionsDescription"]
    _copy_present(pcf, v3, (("secondaryEmissionFactorSources", "secondaryEmissionFactorSources"),))
    if "primaryDataShare" in pcf:
        v3["primaryDataShare"] = number_to_decimal(pcf["primaryDataShare"])
    if "dqi" in pcf:
        v3["dqi"] = {
            name: number_to_decimal(pcf["dqi"][name]) for name in ("technologicalDQR", "geographicalDQR", "temporalDQR")
        }
    assurance = pcf.get("assurance")
    if assurance and assurance["assurance"]:
        verification: dict[str, Any] = {}
        if assurance.get("coverage") in _COVERAGE_TO_V3:
            verification["coverage"] = _COVERAGE_TO_V3[assurance["coverage"]]
        if assurance["providerName"]:
            verification["providerName"] = assurance["providerName"]
        _copy_present(assurance, verification, ((n, n) for n in ("completedAt", "standardName", "comments")))
        v3["verification"] = verification
    out["pcf"] = v3
    if "extensions" in src:
        out["extensions"] = src["extensions"]

    missing = [f"pcf.{name}" for name in ("productMassPerDeclaredUnit", "pcfIncludingBiogenicUptake") if name not in v3]
    if missing:
        raise MappingError(
            [f"{name}: required in v3 but absent in the v2 footprint and not derivable" for name in missing], "3.0"
        )
    return _checked(ProductFootprintV3, out, "3.0")


def to_v2(pf_v3: dict[str, Any] | ProductFootprintV3, *, version: int = 0, cpc_fallback: str | None = None) -> dict[str, Any]:
    """A v2.3 footprint dict for a v3.x footprint (see the module docstring)."""
    pf = pf_v3 if isinstance(pf_v3, ProductFootprintV3) else parse_footprint(pf_v3, "3.0")
    if not isinstance(pf, ProductFootprintV3):
        raise FootprintError(["specVersion: not a PACT 3.x footprint"], "3.0")
    src = pf.to_json_dict()
    pcf = src["pcf"]
    problems: list[str] = []

    out: dict[str, Any] = {"id": src["id"], "specVersion": V2_SPEC_VERSION, "version": version}
    _copy_present(src, out, ((name, name) for name in _HEADER_SAME))
    classifications = list(src.get("productClassifications", []))
    cpc = next((c[len(CPC_URN_PREFIX):] for c in classifications if c.startswith(CPC_URN_PREFIX)), None)
    cpc = cpc or cpc_fallback
    if not cpc:
        problems.append(
            f"productCategoryCpc: required in v2.3; no '{CPC_URN_PREFIX}' classification and no cpc_fallback given"
        )
    else:
        out["productCategoryCpc"] = cpc
    if classifications:
        out["productClassifications"] = classifications  # v2.3 defines it too
    out["comment"] = src.get("comment", "")

    unit = pcf["declaredUnitOfMeasurement"]
    v2: dict[str, Any] = {}
    if unit not in _V2_UNITS:
        problems.append(f"pcf.declaredUnitOfMeasurement: {unit!r} has no v2.3 declaredUnit equivalent")
    v2["declaredUnit"] = unit
    _copy_present(pcf, v2, ((v3_name, v2_name) for v2_name, v3_name in _RENAMED_DECIMALS))
    _copy_present(pcf, v2, ((name, name) for name in _SAME_NAME))
    land = [pcf[n] for n in ("landManagementBiogenicCO2Emissions", "landManagementFossilGhgEmissions") if n in pcf]
    if land:
        total = sum((Decimal(x) for x in land), Decimal(0))
        v2["landManagementGhgEmissions"] = land[0] if len(land) == 1 else format(total, "f")
    factors = pcf["ipccCharacterizationFactors"]
    newest = next((ar for ar in ("AR6", "AR5") if ar in factors), None)
    if newest is None:
        problems.append(f"pcf.characterizationFactors: v2.3 needs AR6 or AR5, source lists only {factors}")
    v2["characterizationFactors"] = newest
    v2["ipccCharacterizationFactorsSources"] = factors
    used = [_STANDARDS_V3_TO_USED[s] for s in pcf["crossSectoralStandards"] if s in _STANDARDS_V3_TO_USED]
    if not used:
        problems.append(
            "pcf.crossSectoralStandardsUsed: required in v2.3; none of "
            f"{pcf['crossSectoralStandards']} maps to GHGP-Product, ISO14067 or ISO14040-44"
        )
    v2["crossSectoralStandardsUsed"] = used
    modern = [s for s in pcf["crossSectoralStandards"] if s in _V23_STANDARDS]
    if modern:
        v2["crossSectoralStandards"] = modern
    _copy_present(pcf, v2, (("productOrSectorSpecificRules", "productOrSectorSpecificRules"),))
    v2["boundaryProcessesDescription"] = pcf.get("boundaryProcessesDescription", "")
    _copy_present(pcf, v2, (("secondaryEmissionFactorSources", "secondaryEmissionFactorSources"),))
    v2["exemptedEmissionsPercent"] = decimal_to_number(pcf["exemptedEmissionsPercent"])
    v2["exemptedEmissionsDescription"] = pcf.get("exemptedEmissionsDescription", "")
    if "packagingEmissionsIncluded" not in pcf:
        problems.append("pcf.packagingEmissionsIncluded: required in v2.3 but absent in the v3 footprint")
    if "biogenicCarbonContent" not in pcf:
        problems.append("pcf.biogenicCarbonContent: required in v2.3 but absent in the v3 footprint")
    if "primaryDataShare" in pcf:
        v2["primaryDataShare"] = decimal_to_number(pcf["primaryDataShare"])
    else:
        problems.append("pcf.primaryDataShare: v2.3 needs primaryDataShare or dqi; v3 dqi cannot be mapped")
    verification = pcf.get("verification")
    if verification is not None:
        assurance: dict[str, Any] = {"assurance": True, "providerName": verification.get("providerName", "")}
        if verification.get("coverage") in _COVERAGE_TO_V2:
            assurance["coverage"] = _COVERAGE_TO_V2[verification["coverage"]]
        _copy_present(verification, assurance, ((n, n) for n in ("completedAt", "standardName", "comments")))
        v2["assurance"] = assurance
    out["pcf"] = v2
    if "extensions" in src:
        out["extensions"] = src["extensions"]
    if problems:
        raise MappingError(problems, "2.3")
    return _checked(ProductFootprintV2, out, "2.3")
