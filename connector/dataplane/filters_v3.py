"""PACT v3 ListFootprints filters (productId, companyId, geography, classification,
validOn, validAfter, validBefore, status): parsed from query parameters or from a
RequestCreatedEvent's data, and matched against v2.3 footprints (the stored form).

Values within one criterion are ORed, criteria are ANDed. Names are matched
case-insensitively (the spec's own example writes ``productid`` and ``validon``).
Identifiers and status values that match nothing give an empty list rather than an
error (the conformance tool sends random strings and expects 200 with no data);
a date that is not a date is a BadRequest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import bad_request
from .source import Footprint
from .timeutil import add_years, parse_instant

LIST_CRITERIA = ("productId", "companyId", "geography", "classification")
DATE_CRITERIA = ("validOn", "validAfter", "validBefore")
ALL_CRITERIA = (*LIST_CRITERIA, *DATE_CRITERIA, "status")
_CANONICAL = {name.lower(): name for name in ALL_CRITERIA}
MAX_VALUES = 100
MAX_VALUE_LENGTH = 1000


@dataclass(frozen=True)
class V3Criteria:
    """Normalised v3 filter criteria; an empty criteria object matches everything."""

    values: tuple[tuple[str, tuple[str, ...]], ...] = ()
    _dates: dict[str, datetime] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, Any]]) -> V3Criteria:
        """Build from (name, value) pairs; unknown names (``x-...`` extensions, paging
        parameters, anything else) are ignored."""
        collected: dict[str, list[str]] = {}
        for raw_name, raw_value in pairs:
            name = _CANONICAL.get(str(raw_name).lower())
            if name is None:
                continue
            values = raw_value if isinstance(raw_value, list) else [raw_value]
            for value in values:
                if not isinstance(value, str):
                    raise bad_request(f"filter {name!r} takes strings, got {type(value).__name__}")
                if len(value) > MAX_VALUE_LENGTH:
                    raise bad_request(f"filter {name!r} value longer than {MAX_VALUE_LENGTH} characters")
                collected.setdefault(name, []).append(value)
        dates: dict[str, datetime] = {}
        for name in (*DATE_CRITERIA, "status"):
            if len(collected.get(name, ())) > 1:
                raise bad_request(f"filter {name!r} takes a single value, got {len(collected[name])}")
        for name in DATE_CRITERIA:
            if name in collected:
                moment = parse_instant(collected[name][0])
                if moment is None:
                    raise bad_request(f"filter {name!r} is not an RFC 3339 date-time: {collected[name][0]!r}")
                dates[name] = moment
        for name, vals in collected.items():
            if len(vals) > MAX_VALUES:
                raise bad_request(f"filter {name!r} has more than {MAX_VALUES} values")
        ordered = tuple((name, tuple(collected[name])) for name in ALL_CRITERIA if name in collected)
        return cls(ordered, dates)

    @classmethod
    def from_query(cls, query: Mapping[str, str] | Any) -> V3Criteria:
        """From an aiohttp/multidict query (repeated parameters keep every value)."""
        items = query.items() if hasattr(query, "items") else query
        return cls.from_pairs(items)

    @classmethod
    def from_event_data(cls, data: Mapping[str, Any]) -> V3Criteria:
        """From a v3 RequestCreatedEvent ``data`` object (list criteria are arrays)."""
        return cls.from_pairs((k, v) for k, v in data.items() if k != "comment")

    def to_pairs(self) -> list[tuple[str, str]]:
        return [(name, value) for name, vals in self.values for value in vals]

    def __bool__(self) -> bool:
        return bool(self.values)

    def matches(self, fp: Footprint) -> bool:
        return all(_MATCHERS[name](fp, vals, self._dates.get(name)) for name, vals in self.values)


def _lower_set(values: Any) -> set[str]:
    if not isinstance(values, list):
        return set()
    return {v.lower() for v in values if isinstance(v, str)}


def _any_of(field_name: str):
    def match(fp: Footprint, wanted: tuple[str, ...], _: datetime | None) -> bool:
        have = _lower_set(fp.get(field_name))
        return any(w.lower() in have for w in wanted)

    return match


def _geography(fp: Footprint, wanted: tuple[str, ...], _: datetime | None) -> bool:
    pcf = fp.get("pcf") or {}
    have = {
        str(pcf.get(k)).lower()
        for k in ("geographyCountry", "geographyRegionOrSubregion", "geographyCountrySubdivision")
        if pcf.get(k)
    }
    return any(w.lower() in have for w in wanted)


def _status(fp: Footprint, wanted: tuple[str, ...], _: datetime | None) -> bool:
    return str(fp.get("status", "")).lower() in {w.lower() for w in wanted}


def validity_period(fp: Footprint) -> tuple[datetime | None, datetime | None]:
    """The footprint's validity period: its own, or 3 years from referencePeriodEnd."""
    start = parse_instant(fp["validityPeriodStart"]) if isinstance(fp.get("validityPeriodStart"), str) else None
    end = parse_instant(fp["validityPeriodEnd"]) if isinstance(fp.get("validityPeriodEnd"), str) else None
    ref_end_raw = (fp.get("pcf") or {}).get("referencePeriodEnd")
    ref_end = parse_instant(ref_end_raw) if isinstance(ref_end_raw, str) else None
    if start is None:
        start = ref_end
    if end is None:
        base = ref_end or start
        end = add_years(base, 3) if base is not None else None
    return start, end


def _valid_on(fp: Footprint, _: tuple[str, ...], moment: datetime | None) -> bool:
    start, end = validity_period(fp)
    return start is not None and end is not None and moment is not None and start <= moment <= end


def _valid_after(fp: Footprint, _: tuple[str, ...], moment: datetime | None) -> bool:
    start, _end = validity_period(fp)
    return start is not None and moment is not None and start > moment


def _valid_before(fp: Footprint, _: tuple[str, ...], moment: datetime | None) -> bool:
    _start, end = validity_period(fp)
    return end is not None and moment is not None and end < moment


CPC_URN_PREFIX = "urn:pact:productclassification:un-cpc:"


def _classification(fp: Footprint, wanted: tuple[str, ...], _: datetime | None) -> bool:
    # v3 lists the v2 productCategoryCpc as an un-cpc classification URN (see mapping.to_v3)
    have = _lower_set(fp.get("productClassifications"))
    if isinstance(fp.get("productCategoryCpc"), str):
        have.add((CPC_URN_PREFIX + fp["productCategoryCpc"]).lower())
    return any(w.lower() in have for w in wanted)


_MATCHERS = {
    "productId": _any_of("productIds"),
    "companyId": _any_of("companyIds"),
    "classification": _classification,
    "geography": _geography,
    "status": _status,
    "validOn": _valid_on,
    "validAfter": _valid_after,
    "validBefore": _valid_before,
}
