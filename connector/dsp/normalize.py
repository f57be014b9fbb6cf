"""Bring what real peers send into the strict compact form of DSP 2025-1 (pure, no I/O).

Eclipse EDC / Tractus-X EDC and older DSP implementations send messages that mean the same
thing as the 2025-1 examples but look different: extra contexts
(``https://w3id.org/edc/dspace/v0.0.1``), prefixed terms (``dspace:consumerPid``,
``odrl:permission``, ``dct:format``), full IRIs of older namespaces
(``https://w3id.org/dspace/v0.8/providerPid``), ``{"@id": ...}`` wrappers around IRI
values, ``{"@value": ...}`` literals, single objects where the schema wants an array,
``reason`` as a bare string, and an ``@id`` on messages that have none. :func:`normalize`
maps all of these onto the compact 2025-1 terms and returns a fresh dict carrying exactly
``"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"]``, so the result can be
checked with :func:`connector.dsp.schemas.validate` and read by the wire models.

This is a term-mapping step, not JSON-LD processing: only prefixes declared inline in the
message's ``@context`` and the well-known DSP / DCAT / DCT / ODRL namespaces are resolved.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

from .errors import DSP_CONTEXT, MalformedMessage

# Namespaces the 2025-1 context knows, with the prefix it declares for each (older DSP
# namespaces map onto the 2025-1 one: same terms, same meaning).
KNOWN_NAMESPACES: dict[str, str] = {
    "https://w3id.org/dspace/2025/1/": "dspace",
    "https://w3id.org/dspace/2024/1/": "dspace",
    "https://w3id.org/dspace/v0.8/": "dspace",
    "http://www.w3.org/ns/dcat#": "dcat",
    "http://purl.org/dc/terms/": "dct",
    "http://www.w3.org/ns/odrl/2/": "odrl",
}

DEFAULT_PREFIXES: dict[str, str] = {
    "dspace": "https://w3id.org/dspace/2025/1/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "odrl": "http://www.w3.org/ns/odrl/2/",
}

# Terms whose value is an IRI or vocabulary term: {"@id": x} collapses to x, and a prefixed
# or full-IRI value in a known namespace becomes the bare term.
IRI_VALUED: frozenset[str] = frozenset({
    "providerPid", "consumerPid", "agreementId", "participantId", "target", "assigner",
    "assignee", "action", "operator", "leftOperand", "eventType", "state", "profile",
    "endpointType", "accessService", "format", "dataset",
})
# Of those, the ones whose values are terms of the DSP / ODRL vocabularies (safe to compact).
VOCAB_VALUED: frozenset[str] = frozenset({"action", "operator", "eventType", "state", "leftOperand"})

# Terms with "@container": "@set" in the 2025-1 contexts: a single value means a one-item array.
SET_VALUED: frozenset[str] = frozenset({
    "permission", "prohibition", "obligation", "constraint", "duty", "hasPolicy", "dataset",
    "catalog", "service", "distribution", "endpointProperties", "reason", "and", "or", "xone",
    "andSequence", "filter", "servesDataset",
})
# Arrays the schemas require to be non-empty when present: an empty one means "absent".
NON_EMPTY_SETS: frozenset[str] = SET_VALUED - {"filter"}

# Top-level types that carry no @id in 2025-1 (EDC adds one to its messages).
_TYPES_WITHOUT_ID: frozenset[str] = frozenset({
    "CatalogRequestMessage", "DatasetRequestMessage", "CatalogError",
    "ContractRequestMessage", "ContractOfferMessage", "ContractAgreementMessage",
    "ContractAgreementVerificationMessage", "ContractNegotiationEventMessage",
    "ContractNegotiationTerminationMessage", "ContractNegotiation", "ContractNegotiationError",
    "TransferRequestMessage", "TransferStartMessage", "TransferSuspensionMessage",
    "TransferCompletionMessage", "TransferTerminationMessage", "TransferProcess", "TransferError",
})

_MAX_DEPTH = 64


def _prefixes_from_context(context: Any) -> dict[str, str]:
    prefixes = dict(DEFAULT_PREFIXES)
    entries = context if isinstance(context, list) else [context]
    for entry in entries:
        if isinstance(entry, Mapping):
            for name, value in entry.items():
                iri = value.get("@id") if isinstance(value, Mapping) else value
                if isinstance(name, str) and not name.startswith("@") and isinstance(iri, str) and ":" in iri:
                    prefixes[name] = iri
    return prefixes


def _context_terms(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "@context" or not key.startswith("@"):
                if not key.startswith("@"):
                    yield key
                yield from _context_terms(value)


@cache
def defined_terms() -> frozenset[str]:
    """Every term the packaged 2025-1 contexts define (``consumerPid``, ``permission``, ...)."""
    folder = resources.files(__package__).joinpath("spec", "context")
    terms: set[str] = set()
    for name in ("dspace.jsonld", "odrl.jsonld"):
        terms.update(_context_terms(json.loads(folder.joinpath(name).read_text(encoding="utf-8"))))
    return frozenset(terms - set(DEFAULT_PREFIXES) - {"xsd"})


def compact_term(term: str, prefixes: Mapping[str, str] = DEFAULT_PREFIXES, *, vocab: bool = False) -> str:
    """``dspace:consumerPid`` / ``https://w3id.org/dspace/v0.8/consumerPid`` -> ``consumerPid``.

    A term of a known namespace that the 2025-1 context does not define keeps a prefix
    (``http://purl.org/dc/terms/title`` -> ``dct:title``) so it still means the same IRI.
    ``vocab`` is for values of ``@vocab``-typed properties (``action``, ``leftOperand``), which
    the spec's examples write bare. Terms outside the known namespaces are unchanged.
    """
    if term.startswith("@"):
        return term
    iri = term
    prefix, sep, local = term.partition(":")
    if sep and not local.startswith("//") and prefix in prefixes:
        iri = prefixes[prefix] + local
    for namespace, short in KNOWN_NAMESPACES.items():
        if iri.startswith(namespace) and len(iri) > len(namespace):
            local = iri[len(namespace):]
            if vocab and short in ("odrl", "dspace"):
                return local
            return local if local in defined_terms() else f"{short}:{local}"
    return term


def _unwrap_literal(value: Any) -> Any:
    if isinstance(value, Mapping) and "@value" in value and set(value) <= {"@value", "@type", "@language"}:
        return value["@value"]
    return value


def _type_value(value: Any, prefixes: Mapping[str, str]) -> Any:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return compact_term(value, prefixes) if isinstance(value, str) else value


class _Normalizer:
    def __init__(self, prefixes: Mapping[str, str]) -> None:
        self.prefixes = prefixes

    def node(self, obj: Mapping[str, Any], depth: int, parent_key: str | None) -> dict[str, Any]:
        if depth > _MAX_DEPTH:
            raise MalformedMessage(f"message nests deeper than {_MAX_DEPTH} levels")
        out: dict[str, Any] = {}
        for raw_key, raw_value in obj.items():
            if raw_key == "@context":
                continue  # only the top level keeps a (canonical) context
            if not isinstance(raw_key, str):
                raise MalformedMessage(f"property name {raw_key!r} is not a string")
            key = compact_term(raw_key, self.prefixes)
            if key in out:
                raise MalformedMessage(f"property {key!r} appears twice (as {raw_key!r} and another spelling)")
            out[key] = self.value(key, raw_value, depth + 1)
        if parent_key == "hasPolicy" and isinstance(out, dict):
            # Catalog offers take their target from the enclosing dataset (2025-1 Offer schema).
            out.pop("target", None)
        return out

    def value(self, key: str, value: Any, depth: int) -> Any:
        value = _unwrap_literal(value)
        if key == "@type":
            return _type_value(value, self.prefixes)
        if key in IRI_VALUED:
            if isinstance(value, list) and key not in SET_VALUED and len(value) == 1:
                value = value[0]
            if isinstance(value, Mapping) and set(value) == {"@id"}:
                value = value["@id"]
            if key in VOCAB_VALUED and isinstance(value, str):
                value = compact_term(value, self.prefixes, vocab=True)
        if key in SET_VALUED and value is not None and not isinstance(value, list):
            # DatasetRequestMessage.dataset is a single IRI; a catalog's dataset is a set.
            if not (key == "dataset" and isinstance(value, str)):
                value = [value]
        if isinstance(value, list):
            return [self.item(key, item, depth) for item in value]
        if isinstance(value, Mapping):
            return self.node(value, depth, key)
        return value

    def item(self, key: str, item: Any, depth: int) -> Any:
        item = _unwrap_literal(item)
        if isinstance(item, Mapping):
            return self.node(item, depth, key)
        if isinstance(item, list):
            return [self.item(key, sub, depth + 1) for sub in item]
        return item


def _drop_empty_sets(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {
            k: _drop_empty_sets(v)
            for k, v in obj.items()
            if not (k in NON_EMPTY_SETS and isinstance(v, list) and not v)
        }
    if isinstance(obj, list):
        return [_drop_empty_sets(v) for v in obj]
    return obj


def normalize(message: Any) -> dict[str, Any]:
    """The strict 2025-1 compact form of a message a peer sent (see module docstring).

    Raises :class:`MalformedMessage` when the input is not a JSON object or is ambiguous
    (the same property under two spellings).
    """
    if not isinstance(message, Mapping):
        raise MalformedMessage(f"a DSP message must be a JSON object, got {type(message).__name__}")
    prefixes = _prefixes_from_context(message.get("@context"))
    body = _drop_empty_sets(_Normalizer(prefixes).node(message, 0, None))
    if body.get("@type") in _TYPES_WITHOUT_ID:
        body.pop("@id", None)
    return {"@context": [DSP_CONTEXT], **body}
