"""EDC JSON-LD shapes for the Management API resources (assets, policy and contract definitions).

EDC clients send the same body three ways: compact with ``@vocab`` = the EDC namespace,
``edc:``-prefixed, or expanded (full IRIs, every value wrapped in an array of ``@value`` /
``@id`` objects). We store one compact shape — bare EDC keys, plain values — so the catalog,
queries and responses see the same thing whatever the client sent, and answer compact with
an ``@context`` that defines every prefix the stored body still uses.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from . import EDC_CONTEXT, EDC_NS, ManagementError, unprefix

#: Operators the provider's catalog evaluates in an ``assetsSelector`` (connector/protocol/catalog.py).
SELECTOR_OPERATORS = ("=", "eq", "in")


def is_expanded(body: Mapping[str, Any]) -> bool:
    """Expanded JSON-LD: top-level terms are full EDC IRIs and there is no ``@context``."""
    return "@context" not in body and any(isinstance(k, str) and k.startswith(EDC_NS) for k in body)


def compact(value: Any, *, expanded: bool) -> Any:
    """A JSON-LD value as EDC compacts it: EDC keys bare, ``@value`` objects unwrapped and, for
    expanded input, one-element arrays unwrapped (compaction does that; compact input keeps them)."""
    if isinstance(value, list):
        items = [compact(v, expanded=expanded) for v in value]
        return items[0] if expanded and len(items) == 1 else items
    if not isinstance(value, dict):
        return value
    if "@value" in value and set(value) <= {"@value", "@type", "@language"}:
        return value["@value"] if "@language" not in value else value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "@context":
            continue
        if key == "@type" and isinstance(item, list) and len(item) == 1:
            item = item[0]
        if key == "@type" and isinstance(item, str):
            item = unprefix(item)
        out[unprefix(key)] = compact(item, expanded=expanded)
    return out


def request_body(raw: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """(compact body without ``@context``, the prefixes the client's ``@context`` defined)."""
    if not isinstance(raw, dict):
        raise ManagementError(400, f"request body must be a JSON object, got {type(raw).__name__}")
    body = compact(raw, expanded=is_expanded(raw))
    return body, prefixes_of(raw.get("@context"))


def prefixes_of(context: Any) -> dict[str, str]:
    """Prefix definitions (``"dct": "http://purl.org/dc/terms/"``) from a request's ``@context``;
    remote context URLs and ``@vocab`` are not ours to repeat, so they are left out."""
    entries = context if isinstance(context, list) else [context]
    out: dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, dict):
            for key, iri in entry.items():
                if not key.startswith("@") and isinstance(iri, str) and iri.endswith(("/", "#", ":")):
                    out[key] = iri
    return out


def response_context(prefixes: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**(prefixes or {}), **EDC_CONTEXT}


def identifier(body: Mapping[str, Any]) -> str:
    """The resource id; EDC generates a UUID when the client gives none."""
    value = body.get("@id", body.get("id"))
    if value is None:
        return str(uuid.uuid4())
    if not isinstance(value, str) or not value.strip():
        raise ManagementError(400, "@id must be a non-empty string", path="@id")
    return value


def check_type(body: Mapping[str, Any], expected: str) -> None:
    kind = body.get("@type")
    if kind is not None and kind != expected:
        raise ManagementError(400, f"@type must be {expected!r}, got {kind!r}", path="@type")


def optional_object(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ManagementError(400, f"{name} must be a JSON object, got {type(value).__name__}", path=name)
    return value


def required_id(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if isinstance(value, dict) and set(value) == {"@id"}:
        value = value["@id"]
    if not isinstance(value, str) or not value:
        raise ManagementError(400, f"{name} is required and must be a non-empty string", path=name)
    return value


def path_id_matches(body_id: str | None, path_id: str) -> None:
    if body_id is not None and body_id != path_id:
        raise ManagementError(400, f"@id {body_id!r} in the body differs from {path_id!r} in the path", path="@id")


def data_address(body: Mapping[str, Any]) -> dict[str, Any]:
    """An asset's ``dataAddress``: optional here (our data plane serves footprints from the
    store), but when given it must say its ``type`` (``HttpData``, ...), as EDC requires."""
    address = optional_object(body, "dataAddress")
    if address:
        kind = address.get("type")
        if not isinstance(kind, str) or not kind:
            raise ManagementError(400, "dataAddress.type is required (e.g. HttpData)", path="dataAddress.type")
        address.setdefault("@type", "DataAddress")
    return address


def selector(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``assetsSelector`` criteria the catalog can evaluate; anything else is refused with why."""
    raw = body.get("assetsSelector")
    if raw is None:
        return []
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise ManagementError(400, "assetsSelector must be a list of criteria", path="assetsSelector")
    out = []
    for i, item in enumerate(items):
        where = f"assetsSelector[{i}]"
        if not isinstance(item, dict):
            raise ManagementError(400, f"{where} must be an object", path=where)
        left, op = item.get("operandLeft"), item.get("operator", "=")
        if not isinstance(left, str) or not left:
            raise ManagementError(400, f"{where}.operandLeft must be a property name", path=where + ".operandLeft")
        if op not in SELECTOR_OPERATORS:
            raise ManagementError(400, f"{where}.operator {op!r} is not supported; use one of "
                                  f"{', '.join(SELECTOR_OPERATORS)}", path=where + ".operator")
        if "operandRight" not in item:
            raise ManagementError(400, f"{where}.operandRight is required", path=where + ".operandRight")
        right = item["operandRight"]
        if op == "in" and not isinstance(right, list):
            right = [right]
        out.append({"@type": "Criterion", "operandLeft": left, "operator": op, "operandRight": right})
    return out
