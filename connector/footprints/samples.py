"""Realistic, deterministic sample footprints for demos, benchmarks and tests.

A JP battery-materials supplier (product names in Japanese, a GxD extension on
every other footprint) and a TW module maker (names in Traditional Chinese).
Company identifiers are URNs around real identifier schemes with valid check
digits: the Japanese corporate number (13 digits) and the Taiwanese unified
business number (8 digits). Quantities are exact decimal strings computed with
`Decimal`, and the totals add up (PCF excl. = fossil + LUC + land management +
other biogenic; PCF incl. = excl. + biogenic withdrawal).
"""

from __future__ import annotations

import random
import uuid
from decimal import Decimal
from typing import Any, Literal

from connector.footprints.gxd import GXD_SCHEMA_URL_JA, GXD_SPEC_VERSION

Company = Literal["jp", "tw"]

# (product name, description, UN CPC code, declared unit, kg per declared unit)
_PRODUCTS: dict[str, list[tuple[str, str, str, str, str]]] = {
    "jp": [
        ("リチウムイオン電池セル", "車載用角形リチウムイオン電池セル（NMC正極、黒鉛負極）", "46410", "kilowatt hour", "5.8"),
        ("正極材（NMC811）", "ニッケル・マンガン・コバルト系正極活物質、粉体、フレコン出荷", "34290", "kilogram", "1"),
        ("負極材（人造黒鉛）", "リチウムイオン電池用人造黒鉛負極材", "34550", "kilogram", "1"),
        ("電解液", "LiPF6系電解液、200Lドラム缶入り", "34790", "kilogram", "1"),
        ("セパレータ", "ポリエチレン製微多孔膜セパレータ、厚さ12µm", "36320", "square meter", "0.011"),
        ("アルミニウム箔", "正極集電体用アルミニウム箔、厚さ15µm", "41532", "kilogram", "1"),
        ("銅箔", "負極集電体用電解銅箔、厚さ8µm", "41522", "kilogram", "1"),
        ("電池パック筐体", "アルミダイカスト製電池パック筐体", "42999", "kilogram", "1"),
    ],
    "tw": [
        ("鋰離子電池模組", "電動機車用鋰離子電池模組（含電池管理系統）", "46410", "kilowatt hour", "7.1"),
        ("電池芯", "圓柱型21700鋰離子電池芯", "46410", "kilowatt hour", "4.9"),
        ("電池管理系統電路板", "電池管理系統印刷電路板組件", "47160", "kilogram", "1"),
        ("隔離膜", "陶瓷塗層聚乙烯隔離膜", "36320", "square meter", "0.012"),
        ("鋁製電池外殼", "擠型鋁合金電池外殼", "42999", "kilogram", "1"),
        ("導熱膠", "電池模組用有機矽導熱膠", "35420", "kilogram", "1"),
    ],
}

_COMPANY = {
    "jp": {
        "name": "かけはし電池材料株式会社",
        "geography": [{"geographyCountry": "JP"}, {"geographyCountrySubdivision": "JP-23"}],
        "comment": "CFP算定はCO2可視化フレームワークおよびPACT方法論に準拠。電力は工場の実績値を使用。",
        "rule": "電池のカーボンフットプリント算定ルール（経済産業省）",
    },
    "tw": {
        "name": "橋接能源科技股份有限公司",
        "geography": [{"geographyCountry": "TW"}, {"geographyCountrySubdivision": "TW-TAO"}],
        "comment": "依PACT方法論計算，電力排放係數採用經濟部能源署公告值。",
        "rule": "產品類別規則：電池（環境部）",
    },
}


def jp_corporate_number(base12: int) -> str:
    """A 13-digit Japanese corporate number: check digit + 12-digit base."""
    digits = f"{base12:012d}"
    total = sum(int(d) * (1 if i % 2 == 0 else 2) for i, d in enumerate(reversed(digits)))
    return f"{9 - total % 9}{digits}"


def is_tw_business_number(number: str) -> bool:
    """Taiwan unified business number checksum (divisor 5, as since 2023)."""
    if len(number) != 8 or not number.isdigit():
        return False
    weights = (1, 2, 1, 2, 1, 2, 4, 1)
    sums = [sum(divmod(int(d) * w, 10)) for d, w in zip(number, weights)]
    total = sum(sums)
    if total % 5 == 0:
        return True
    return number[6] == "7" and (total + 1) % 5 == 0


def _tw_business_number(rng: random.Random) -> str:
    while True:
        candidate = f"{rng.randrange(10**8):08d}"
        if is_tw_business_number(candidate):
            return candidate


def company_id(company: Company, seed: int = 0) -> str:
    """The sample supplier's company URN for a seed."""
    rng = random.Random(f"company:{company}:{seed}")
    if company == "jp":
        return f"urn:kakehashi:jp:corporate-number:{jp_corporate_number(rng.randrange(10**11, 10**12))}"
    return f"urn:kakehashi:tw:ubn:{_tw_business_number(rng)}"


def _dec(rng: random.Random, low: str, high: str, places: int = 3) -> Decimal:
    scale = 10**places
    value = Decimal(rng.randint(int(Decimal(low) * scale), int(Decimal(high) * scale))) / scale
    return Decimal(format(value, "f"))


def _gxd_data(rng: random.Random, fossil: Decimal, index: int) -> dict[str, Any]:
    if index % 4 == 0:
        return {
            "calcMethod": "0",
            "FWedition": "2.0",
            "gateToGate": {
                "gateToGateFossilGhgEmissions": str((fossil * Decimal("0.35")).quantize(Decimal("0.001"))),
                "gateToGateBiogenicCarbonContent": "0",
                "unitaryProductAmountComment": "宣言単位あたり（出荷荷姿を除く）",
            },
        }
    # Organisation-based: declaredUnit and crossSectoralStandardsUsed are still
    # listed as required by the published schema, so they are included.
    return {
        "calcMethod": "1",
        "FWedition": "2.0",
        "organization": {
            "declaredUnit": "kilogram",
            "crossSectoralStandardsUsed": ["GHG Protocol Product standard"],
            "scope3Category": ["1", "4"],
            "scope1DistributionLevel": "site",
            "scope2DistributionLevel": "production line",
            "scope3DistributionLevel": "organization",
            "scope1DistributionIndex": "production",
            "scope2DistributionIndex": "volume",
            "distributionLevelComment": "事業所単位で按分",
            "distributionIndexComment": "生産量比で按分",
        },
        "certificate": {"certificateAmount": str(rng.randint(1, 20) * 100), "certificateType": "非化石証書"},
    }


def make_footprints(company: Company, n: int, *, seed: int = 0, gxd: bool = True) -> list[dict[str, Any]]:
    """`n` valid PACT v2.3 footprints from the sample JP or TW supplier.

    Deterministic for a given (company, n, seed); ids are UUID v4 drawn from
    the seeded generator, so two seeds never collide in practice.
    """
    if company not in _COMPANY:
        raise ValueError(f"company must be 'jp' or 'tw', got {company!r}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"footprints:{company}:{seed}")
    info = _COMPANY[company]
    owner = company_id(company, seed)
    corp = owner.rsplit(":", 1)[1]
    out: list[dict[str, Any]] = []
    for i in range(n):
        name, description, cpc, unit, mass = _PRODUCTS[company][i % len(_PRODUCTS[company])]
        year = 2023 + (i % 2)
        fossil = _dec(rng, "0.5", "90")
        dluc = _dec(rng, "0", "0.5")
        land = _dec(rng, "0", "0.2")
        other_bio = _dec(rng, "0", "0.1")
        withdrawal = Decimal(0) - _dec(rng, "0", "0.3")
        excluding = fossil + dluc + land + other_bio
        lot = i // len(_PRODUCTS[company])
        pf: dict[str, Any] = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "specVersion": "2.3.0",
            "version": 1,
            "created": f"{year + 1}-0{1 + i % 9}-{10 + i % 18:02d}T0{i % 10}:00:00Z",
            "status": "Active",
            "validityPeriodStart": f"{year + 1}-01-01T00:00:00Z",
            "validityPeriodEnd": f"{year + 4}-01-01T00:00:00Z",
            "companyName": info["name"],
            "companyIds": [owner],
            "productDescription": description,
            "productIds": [f"urn:kakehashi:{company}:part:{corp}:{cpc}-{i % len(_PRODUCTS[company]):02d}-{lot:05d}"],
            "productClassifications": [f"urn:pact:productclassification:un-cpc:{cpc}"],
            "productCategoryCpc": cpc,
            "productNameCompany": name if lot == 0 else f"{name} ロット{lot}" if company == "jp" else f"{name} 批次{lot}",
            "comment": info["comment"],
            "pcf": {
                "declaredUnit": unit,
                "unitaryProductAmount": "1",
                "productMassPerDeclaredUnit": mass,
                "pCfExcludingBiogenic": str(excluding),
                "pCfIncludingBiogenic": str(excluding + withdrawal),
                "fossilGhgEmissions": str(fossil),
                "fossilCarbonContent": str(_dec(rng, "0", "0.8")),
                "biogenicCarbonContent": str(_dec(rng, "0", "0.05")),
                "dLucGhgEmissions": str(dluc),
                "landManagementGhgEmissions": str(land),
                "otherBiogenicGhgEmissions": str(other_bio),
                "iLucGhgEmissions": "0",
                "biogenicCarbonWithdrawal": str(withdrawal),
                "aircraftGhgEmissions": "0",
                "characterizationFactors": "AR6",
                "ipccCharacterizationFactorsSources": ["AR6"],
                "crossSectoralStandardsUsed": ["GHG Protocol Product standard", "ISO Standard 14067"],
                "crossSectoralStandards": ["GHGP-Product", "ISO14067", "PACT-2.0"],
                "productOrSectorSpecificRules": [
                    {"operator": "Other", "ruleNames": [info["rule"]], "otherOperatorName": "Government PCR"}
                ],
                "boundaryProcessesDescription": "Cradle-to-gate: raw material extraction, transport to site, production.",
                "referencePeriodStart": f"{year}-01-01T00:00:00Z",
                "referencePeriodEnd": f"{year + 1}-01-01T00:00:00Z",
                **info["geography"][i % 2],
                "secondaryEmissionFactorSources": [{"name": "IDEA", "version": "3.4"}]
                if company == "jp"
                else [{"name": "ecoinvent", "version": "3.10"}],
                "exemptedEmissionsPercent": round(rng.uniform(0, 3), 1),
                "exemptedEmissionsDescription": "Capital goods and R&D activities excluded.",
                "packagingEmissionsIncluded": i % 3 == 0,
                "allocationRulesDescription": "Mass allocation between co-products.",
                "primaryDataShare": round(rng.uniform(20, 95), 1),
                "dqi": {
                    "coveragePercent": rng.randint(80, 100),
                    "technologicalDQR": round(rng.uniform(1, 3), 1),
                    "temporalDQR": round(rng.uniform(1, 3), 1),
                    "geographicalDQR": round(rng.uniform(1, 3), 1),
                    "completenessDQR": round(rng.uniform(1, 3), 1),
                    "reliabilityDQR": round(rng.uniform(1, 3), 1),
                },
            },
        }
        if pf["pcf"]["packagingEmissionsIncluded"]:
            pf["pcf"]["packagingGhgEmissions"] = str(_dec(rng, "0.01", "0.5"))
        if i % 5 == 4:
            pf["pcf"]["assurance"] = {
                "assurance": True,
                "coverage": "product level",
                "level": "limited",
                "boundary": "Cradle-to-Gate",
                "providerName": "日本検証機構" if company == "jp" else "台灣驗證中心",
                "completedAt": f"{year + 1}-03-31T00:00:00Z",
                "standardName": "ISO 14067",
            }
        if gxd and company == "jp" and i % 2 == 0:
            pf["extensions"] = [
                {"specVersion": GXD_SPEC_VERSION, "dataSchema": GXD_SCHEMA_URL_JA, "data": _gxd_data(rng, fossil, i)}
            ]
        out.append(pf)
    return out
