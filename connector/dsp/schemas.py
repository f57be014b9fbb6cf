"""Validation against the official DSP 2025-1 JSON Schemas, fully offline.

The schemas (package data under ``spec/``) reference each other by absolute ``$id`` URLs
under ``https://w3id.org/dspace/2025/1/``; they are served from a ``referencing`` registry
built from the packaged files, so no lookup ever leaves the process.

The published 2025-1 schemas write three references as ``...transfer-schema.json#definitions/X``
(no slash after ``#``), which is neither a JSON Pointer nor a valid anchor. We repair those
fragments in memory while loading (``#definitions/X`` -> ``#/definitions/X``, the evident
intent); the files themselves stay byte-identical to the spec.

Valid messages are recognised by a compiled check (:mod:`connector.dsp.fastcheck`, tens of
microseconds); ``jsonschema`` runs only on a message that check rejects, to list the problems.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT201909

from .errors import SchemaViolation
from .fastcheck import Check, Compiler

SCHEMA_BASE = "https://w3id.org/dspace/2025/1/"

# kind (the message's @type, or a resource name) -> schema path relative to SCHEMA_BASE
SCHEMA_FILES: dict[str, str] = {
    "CatalogRequestMessage": "catalog/catalog-request-message-schema.json",
    "DatasetRequestMessage": "catalog/dataset-request-message-schema.json",
    "Catalog": "catalog/catalog-schema.json",
    "Dataset": "catalog/dataset-schema.json",
    "CatalogError": "catalog/catalog-error-schema.json",
    "ContractRequestMessage": "negotiation/contract-request-message-schema.json",
    "ContractOfferMessage": "negotiation/contract-offer-message-schema.json",
    "ContractAgreementMessage": "negotiation/contract-agreement-message-schema.json",
    "ContractAgreementVerificationMessage": "negotiation/contract-agreement-verification-message-schema.json",
    "ContractNegotiationEventMessage": "negotiation/contract-negotiation-event-message-schema.json",
    "ContractNegotiationTerminationMessage": "negotiation/contract-negotiation-termination-message-schema.json",
    "ContractNegotiation": "negotiation/contract-negotiation-schema.json",
    "ContractNegotiationError": "negotiation/contract-negotiation-error-schema.json",
    "Policy": "negotiation/contract-schema.json",
    "TransferRequestMessage": "transfer/transfer-request-message-schema.json",
    "TransferStartMessage": "transfer/transfer-start-message-schema.json",
    "TransferSuspensionMessage": "transfer/transfer-suspension-message-schema.json",
    "TransferCompletionMessage": "transfer/transfer-completion-message-schema.json",
    "TransferTerminationMessage": "transfer/transfer-termination-message-schema.json",
    "TransferProcess": "transfer/transfer-process-schema.json",
    "TransferError": "transfer/transfer-error-schema.json",
    "DataAddress": "transfer/data-address-schema.json",
    "VersionResponse": "common/protocol-version-schema.json",
    "DidService": "common/did-service-schema.json",
}

KINDS: frozenset[str] = frozenset(SCHEMA_FILES)

_MAX_ERRORS = 20


def _repair_refs(node: Any) -> Any:
    """Turn ``#definitions/X`` fragments into JSON Pointers (see module docstring)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and "#" in value:
                base, _, fragment = value.partition("#")
                if fragment and not fragment.startswith("/"):
                    value = f"{base}#/{fragment}"
            out[key] = _repair_refs(value)
        return out
    if isinstance(node, list):
        return [_repair_refs(item) for item in node]
    return node


def _schema_documents() -> Iterator[dict[str, Any]]:
    spec = resources.files(__package__).joinpath("spec")
    for folder in ("catalog", "negotiation", "transfer", "common"):
        for entry in spec.joinpath(folder).iterdir():
            if entry.name.endswith("-schema.json"):
                yield json.loads(entry.read_text(encoding="utf-8"))


@cache
def registry() -> Registry:
    """The offline registry of every packaged 2025-1 schema, keyed by ``$id``."""
    docs = [_repair_refs(doc) for doc in _schema_documents()]
    return Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc, default_specification=DRAFT201909)) for doc in docs
    )


@cache
def _validator(kind: str) -> jsonschema.Draft201909Validator:
    try:
        path = SCHEMA_FILES[kind]
    except KeyError:
        raise ValueError(f"no DSP 2025-1 schema for kind {kind!r}; known kinds: {sorted(KINDS)}") from None
    reg = registry()
    schema = reg.contents(SCHEMA_BASE + path)
    return jsonschema.Draft201909Validator(schema, registry=reg)


@cache
def _compiler() -> Compiler:
    return Compiler(registry())


@cache
def _fast(kind: str) -> Check:
    _validator(kind)  # same unknown-kind error as the slow path
    return _compiler().compile_url(SCHEMA_BASE + SCHEMA_FILES[kind])


def _describe(error: jsonschema.ValidationError) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path) or "(root)"
    if error.validator in ("oneOf", "anyOf") and error.context:
        # Say which alternatives failed rather than the unreadable "is not valid under any".
        inner = sorted({e.message for e in error.context})[:3]
        return f"{where}: {error.message[:120]} ({'; '.join(inner)})"
    return f"{where}: {error.message[:200]}"


def errors(message: Any, kind: str) -> list[str]:
    """Every schema problem of ``message`` as ``path: problem`` lines (empty when valid)."""
    found = sorted(_validator(kind).iter_errors(message), key=lambda e: list(map(str, e.absolute_path)))
    return [_describe(e) for e in found[:_MAX_ERRORS]]


def validate(message: Mapping[str, Any] | Any, kind: str | None = None) -> None:
    """Raise :class:`SchemaViolation` unless ``message`` conforms to the schema of ``kind``.

    ``kind`` defaults to the message's ``@type``; pass it explicitly for documents without
    one (``VersionResponse``, ``DidService``) or to check a message is of an expected kind.
    """
    if kind is None:
        kind = message.get("@type") if isinstance(message, Mapping) else None
        if not isinstance(kind, str) or kind not in KINDS:
            raise SchemaViolation(str(kind), [f"(root): @type {kind!r} is not a DSP 2025-1 message type"])
    if _fast(kind)(message):
        return
    # Only now pay for jsonschema: it is the reference, and it says what is wrong.
    problems = errors(message, kind)
    if problems:
        raise SchemaViolation(kind, problems)


def is_valid(message: Any, kind: str) -> bool:
    """Whether ``message`` conforms to the schema of ``kind`` (compiled check, see fastcheck)."""
    return _fast(kind)(message)
