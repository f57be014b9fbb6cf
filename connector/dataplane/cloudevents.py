"""PACT events as CloudEvents 1.0 in structured JSON mode: parse, check, build.

Event type names differ per API version (v2 ``org.wbcsd.pathfinder.*.v1``, v3
``org.wbcsd.pact.ProductFootprint.*Event.3``); the kinds below are version-neutral.
Pure functions: no I/O here.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from .errors import ApiVersion, bad_request
from .filters_v3 import V3Criteria
from .timeutil import parse_instant

CONTENT_TYPE = "application/cloudevents+json"
MAX_EVENT_BYTES = 8 * 1024 * 1024


class EventKind(Enum):
    REQUEST_CREATED = "RequestCreated"
    REQUEST_FULFILLED = "RequestFulfilled"
    REQUEST_REJECTED = "RequestRejected"
    PUBLISHED = "Published"


EVENT_TYPES: dict[ApiVersion, dict[EventKind, str]] = {
    "2": {
        EventKind.REQUEST_CREATED: "org.wbcsd.pathfinder.ProductFootprintRequest.Created.v1",
        EventKind.REQUEST_FULFILLED: "org.wbcsd.pathfinder.ProductFootprintRequest.Fulfilled.v1",
        EventKind.REQUEST_REJECTED: "org.wbcsd.pathfinder.ProductFootprintRequest.Rejected.v1",
        EventKind.PUBLISHED: "org.wbcsd.pathfinder.ProductFootprint.Published.v1",
    },
    "3": {
        EventKind.REQUEST_CREATED: "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3",
        EventKind.REQUEST_FULFILLED: "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3",
        EventKind.REQUEST_REJECTED: "org.wbcsd.pact.ProductFootprint.RequestRejectedEvent.3",
        EventKind.PUBLISHED: "org.wbcsd.pact.ProductFootprint.PublishedEvent.3",
    },
}
_KIND_BY_TYPE = {version: {t: k for k, t in types.items()} for version, types in EVENT_TYPES.items()}


@dataclass(frozen=True)
class PactEvent:
    """A checked inbound event."""

    version: ApiVersion
    kind: EventKind
    id: str
    source: str
    time: str
    data: dict[str, Any]
    raw: dict[str, Any]


def check_content_type(content_type: str) -> None:
    """Structured mode requires ``application/cloudevents+json`` (charset allowed)."""
    if content_type.lower() != CONTENT_TYPE:
        raise bad_request(f"events must be sent as {CONTENT_TYPE} (CloudEvents structured mode), got {content_type or 'none'!r}")


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _str(event: dict[str, Any], name: str) -> str:
    value = event.get(name)
    if not isinstance(value, str) or not value:
        raise bad_request(f"event attribute {name!r} must be a non-empty string")
    return value


def parse_event(body: bytes, version: ApiVersion) -> PactEvent:
    """Check a structured-mode CloudEvent against the PACT event schemas for ``version``."""
    if len(body) > MAX_EVENT_BYTES:
        raise bad_request(f"event larger than {MAX_EVENT_BYTES} bytes")
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("event body is not JSON") from None
    if not isinstance(event, dict):
        raise bad_request("event must be a JSON object")
    if event.get("specversion") != "1.0":
        raise bad_request(f"unsupported CloudEvents specversion {event.get('specversion')!r} (need '1.0')")
    event_type = _str(event, "type")
    kind = _KIND_BY_TYPE[version].get(event_type)
    if kind is None:
        known = ", ".join(EVENT_TYPES[version].values())
        raise bad_request(f"unknown event type {event_type!r} for the v{version} API (known: {known})")
    event_id, source, time = _str(event, "id"), _str(event, "source"), _str(event, "time")
    if parse_instant(time) is None:
        raise bad_request(f"event time is not an RFC 3339 date-time: {time!r}")
    data = event.get("data")
    if not isinstance(data, dict):
        raise bad_request("event 'data' must be a JSON object")
    _CHECKS[kind](version, data)
    return PactEvent(version, kind, event_id, source, time, data, event)


def _check_published(version: ApiVersion, data: dict[str, Any]) -> None:
    pf_ids = data.get("pfIds")
    if not isinstance(pf_ids, list) or not pf_ids:
        raise bad_request("Published event needs data.pfIds, a non-empty array of footprint ids")
    bad = [p for p in pf_ids if not _is_uuid(p)]
    if bad:
        raise bad_request(f"data.pfIds must be footprint ids (UUIDs); not UUIDs: {bad[:5]}")


def _check_created(version: ApiVersion, data: dict[str, Any]) -> None:
    if "comment" in data and not isinstance(data["comment"], str):
        raise bad_request("data.comment must be a string")
    if version == "2" or "pf" in data:
        if not isinstance(data.get("pf"), dict):
            raise bad_request("RequestCreated event needs data.pf, a ProductFootprint fragment object")
        if version == "2":
            return
    for name in ("productId", "companyId", "geography", "classification"):
        if name in data and (not isinstance(data[name], list) or not all(isinstance(v, str) for v in data[name])):
            raise bad_request(f"data.{name} must be an array of strings")
    V3Criteria.from_event_data({k: v for k, v in data.items() if k != "pf"})  # dates, status


def _check_fulfilled(version: ApiVersion, data: dict[str, Any]) -> None:
    if not isinstance(data.get("requestEventId"), str):
        raise bad_request("RequestFulfilled event needs data.requestEventId (string)")
    pfs = data.get("pfs")
    if not isinstance(pfs, list) or not pfs or not all(isinstance(p, dict) for p in pfs):
        raise bad_request("RequestFulfilled event needs data.pfs, a non-empty array of footprints")


def _check_rejected(version: ApiVersion, data: dict[str, Any]) -> None:
    if not isinstance(data.get("requestEventId"), str):
        raise bad_request("RequestRejected event needs data.requestEventId (string)")
    error = data.get("error")
    if not isinstance(error, dict) or not isinstance(error.get("code"), str) or not isinstance(error.get("message"), str):
        raise bad_request("RequestRejected event needs data.error with string code and message")


_CHECKS = {
    EventKind.PUBLISHED: _check_published,
    EventKind.REQUEST_CREATED: _check_created,
    EventKind.REQUEST_FULFILLED: _check_fulfilled,
    EventKind.REQUEST_REJECTED: _check_rejected,
}


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_event(version: ApiVersion, kind: EventKind, source: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": EVENT_TYPES[version][kind],
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": source,
        "time": now_rfc3339(),
        "data": data,
    }


def fragment_matches(fragment: Any, footprint: Any) -> bool:
    """Does a v2 RequestCreated ``pf`` fragment describe this footprint?

    Every property in the fragment must match: arrays overlap (case-insensitively for
    strings), objects match recursively, scalars are equal.
    """
    if isinstance(fragment, dict):
        if not isinstance(footprint, dict):
            return False
        return all(fragment_matches(v, footprint.get(k)) for k, v in fragment.items())
    if isinstance(fragment, list):
        if not isinstance(footprint, list):
            return False
        have = {v.lower() if isinstance(v, str) else json.dumps(v, sort_keys=True) for v in footprint}
        return any((v.lower() if isinstance(v, str) else json.dumps(v, sort_keys=True)) in have for v in fragment)
    return fragment == footprint
