"""The Green x Digital Consortium (GxD) PACT data model extension.

A footprint carries it as an `extensions[]` entry whose `dataSchema` points at
the consortium's published schema (English or Japanese edition; both define the
same structure). We recognise it by that URL and validate `data` against the
schema shipped in `data/gxd/`; nothing is fetched. Text is never normalised, so
Japanese comments come back exactly as sent.

Leniency: the published schema lists `declaredUnit` and
`crossSectoralStandardsUsed` as required in `organization` although it removed
them from `properties` (upstream commit 6ac6cf8). We validate against a copy
whose `required` lists only properties the schema still defines, so an
organization object that follows the current definition is accepted.
"""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from jsonschema import Draft202012Validator

GXD_SPEC_VERSION = "2.0.0"
GXD_SCHEMA_URL_EN = (
    "https://github.com/Green-x-Digital-Consortium/data-model-extensions/blob/main/specs/GxD_schema_en.json"
)
GXD_SCHEMA_URL_JA = (
    "https://github.com/Green-x-Digital-Consortium/data-model-extensions/blob/main/specs/GxD_schema_jp.json"
)

_GXD_URL_RE = re.compile(
    r"https://(?:github\.com/Green-x-Digital-Consortium/data-model-extensions/(?:blob|raw)/[^/]+"
    r"|raw\.githubusercontent\.com/Green-x-Digital-Consortium/data-model-extensions/(?:refs/heads/)?[^/]+)"
    r"/specs/GxD_schema_(en|jp)\.json",
    re.IGNORECASE,
)


def gxd_language(data_schema: str) -> Literal["en", "jp"] | None:
    """Which GxD schema edition a `dataSchema` URL names, or None if not GxD."""
    match = _GXD_URL_RE.fullmatch(data_schema.strip())
    return match.group(1).lower() if match else None  # type: ignore[return-value]


def is_gxd_extension(extension: dict[str, Any]) -> bool:
    return isinstance(extension.get("dataSchema"), str) and gxd_language(extension["dataSchema"]) is not None


def _drop_undefined_required(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {key: _drop_undefined_required(value) for key, value in schema.items()}
        if isinstance(out.get("required"), list) and isinstance(out.get("properties"), dict):
            out["required"] = [name for name in out["required"] if name in out["properties"]]
        return out
    if isinstance(schema, list):
        return [_drop_undefined_required(item) for item in schema]
    return schema


@lru_cache(maxsize=2)
def _published_schema(language: Literal["en", "jp"]) -> dict[str, Any]:
    text = resources.files("connector.footprints").joinpath(f"data/gxd/GxD_schema_{language}.json").read_text(
        encoding="utf-8"
    )
    return json.loads(text)


def gxd_schema(language: Literal["en", "jp"] = "en", *, as_published: bool = False) -> dict[str, Any]:
    """The shipped GxD JSON Schema (a fresh copy), optionally without our fix."""
    schema = copy.deepcopy(_published_schema(language))
    return schema if as_published else _drop_undefined_required(schema)


@lru_cache(maxsize=2)
def _validator(language: Literal["en", "jp"]) -> Draft202012Validator:
    return Draft202012Validator(gxd_schema(language))


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def validate_gxd_data(data: Any, language: Literal["en", "jp"] = "en", *, where: str = "data") -> list[str]:
    """Reasons the extension `data` does not satisfy the GxD schema (empty if it does)."""
    errors = sorted(_validator(language).iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{where}{_path(e.absolute_path)}: GxD schema: {e.message}" for e in errors]


def make_gxd_extension(data: dict[str, Any], *, language: Literal["en", "jp"] = "en") -> dict[str, Any]:
    """Wrap GxD data as a PACT extension entry, refusing data the schema rejects."""
    reasons = validate_gxd_data(data, language)
    if reasons:
        raise ValueError("; ".join(reasons))
    return {
        "specVersion": GXD_SPEC_VERSION,
        "dataSchema": GXD_SCHEMA_URL_EN if language == "en" else GXD_SCHEMA_URL_JA,
        "data": data,
    }
