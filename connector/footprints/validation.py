"""Version detection, parsing and the auditor's footprint `schema` check.

The runtime check is the pydantic models plus the GxD JSON Schema: the WBCSD
schema files are not shipped with the product (licence), so the tests hold the
models to the official OpenAPI files instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from connector.footprints.common import DataModelExtension
from connector.footprints.gxd import gxd_language, validate_gxd_data
from connector.footprints.pact_v2 import ProductFootprintV2
from connector.footprints.pact_v3 import ProductFootprintV3

PactVersion = Literal["2.3", "3.0"]
ProductFootprint = ProductFootprintV2 | ProductFootprintV3

# Properties that exist in only one version; used when specVersion is unusable.
_V2_MARKERS = frozenset({"declaredUnit", "unitaryProductAmount", "pCfExcludingBiogenic", "characterizationFactors"})
_V3_MARKERS = frozenset(
    {"declaredUnitOfMeasurement", "declaredUnitAmount", "pcfExcludingBiogenicUptake", "ipccCharacterizationFactors"}
)


class FootprintError(ValueError):
    """A footprint failed validation; `reasons` names each failed rule."""

    def __init__(self, reasons: list[str], version: PactVersion | None = None) -> None:
        self.reasons = reasons
        self.version = version
        label = f"PACT {version} footprint" if version else "footprint"
        super().__init__(f"invalid {label}: " + "; ".join(reasons))


@dataclass(frozen=True)
class FootprintCheck:
    """Outcome of `validate_footprint`: warnings never make `ok` false."""

    version: PactVersion | None
    ok: bool
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def detect_version(doc: Any) -> PactVersion | None:
    """Which PACT major version a footprint claims to be.

    `specVersion` decides ("2.x.y" -> "2.3", "3.x.y" -> "3.0"); without a usable
    one, the carbon-footprint property names decide; otherwise None.
    """
    if not isinstance(doc, dict):
        return None
    spec = doc.get("specVersion")
    if isinstance(spec, str):
        if spec.startswith("2."):
            return "2.3"
        if spec.startswith("3."):
            return "3.0"
    pcf = doc.get("pcf")
    if isinstance(pcf, dict):
        keys = set(pcf)
        v2, v3 = bool(keys & _V2_MARKERS), bool(keys & _V3_MARKERS)
        if v2 and not v3:
            return "2.3"
        if v3 and not v2:
            return "3.0"
    return None


_UNION_TAGS = frozenset({"int", "float", "str", "bool", "none", "dict", "list"})


def _loc(parts: tuple[Any, ...]) -> str:
    """A property path; pydantic's union-branch and validator tags are dropped."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and (part in _UNION_TAGS or "[" in part or part.startswith("function-")):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def pydantic_reasons(exc: ValidationError) -> list[str]:
    """One human-readable line per failed property (union branches merged)."""
    by_place: dict[str, list[str]] = {}
    for err in exc.errors(include_url=False):
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "required property is missing"
        messages = by_place.setdefault(_loc(tuple(err["loc"])), [])
        if message not in messages:
            messages.append(message)
    reasons = []
    for where, msgs in by_place.items():
        # "Input should be a valid integer" + "... a valid number" -> one sentence.
        text = msgs[0] + "".join(" or " + m.removeprefix("Input should be ") for m in msgs[1:])
        reasons.append(f"{where}: {text}" if where else text)
    return reasons


def unknown_properties(model: BaseModel, raw: Any, path: str = "") -> list[str]:
    """Input properties the model does not define (extension `data` excluded)."""
    if not isinstance(raw, dict):
        return []
    found: list[str] = []
    known = type(model).model_fields
    for key, value in raw.items():
        where = f"{path}.{key}" if path else key
        if key not in known:
            found.append(where)
            continue
        if isinstance(model, DataModelExtension) and key == "data":
            continue
        attr = getattr(model, key)
        if isinstance(attr, BaseModel):
            found += unknown_properties(attr, value, where)
        elif isinstance(attr, list) and isinstance(value, list):
            for i, (item, raw_item) in enumerate(zip(attr, value)):
                if isinstance(item, BaseModel):
                    found += unknown_properties(item, raw_item, f"{where}[{i}]")
    return found


def extension_reasons(pf: ProductFootprint) -> list[str]:
    """GxD extensions validated against their schema; others are not inspected."""
    reasons: list[str] = []
    for i, ext in enumerate(pf.extensions or []):
        language = gxd_language(ext.dataSchema)
        if language is not None:
            reasons += validate_gxd_data(ext.data, language, where=f"extensions[{i}].data")
    return reasons


def _parse(doc: Any, version: PactVersion | None) -> tuple[ProductFootprint | None, list[str]]:
    if not isinstance(doc, dict):
        return None, [f"a footprint must be a JSON object, got {type(doc).__name__}"]
    version = version or detect_version(doc)
    if version is None:
        spec = doc.get("specVersion")
        return None, [
            f"specVersion: cannot tell the PACT version from {spec!r} "
            "(expected 2.x.y or 3.x.y) nor from the pcf property names"
        ]
    model = ProductFootprintV2 if version == "2.3" else ProductFootprintV3
    try:
        pf = model.model_validate(doc)
    except ValidationError as exc:
        return None, pydantic_reasons(exc)
    return pf, extension_reasons(pf)


def parse_footprint(doc: Any, version: PactVersion | None = None) -> ProductFootprint:
    """The typed footprint, or `FootprintError` with every reason it is invalid."""
    detected = version or detect_version(doc)
    pf, reasons = _parse(doc, detected)
    if reasons or pf is None:
        raise FootprintError(reasons, detected)
    return pf


def validate_footprint(doc: Any, version: PactVersion | None = None) -> FootprintCheck:
    """The auditor's `schema` check: detected version, verdict and reasons."""
    detected = version or detect_version(doc)
    pf, errors = _parse(doc, detected)
    warnings: list[str] = []
    if pf is not None:
        warnings = [f"{p}: not a PACT {detected} property; ignored" for p in unknown_properties(pf, doc)]
        warnings += pf.warnings()
    return FootprintCheck(version=detected, ok=not errors, errors=errors, warnings=warnings)


def serialise_footprint(pf: ProductFootprint) -> dict[str, Any]:
    """The strict wire form of a parsed footprint (spec property names only)."""
    return pf.to_json_dict()
