"""Namespaces and the ODRL 2.2 core vocabulary we recognise (W3C ODRL Vocabulary & Expression 2.2)."""

from __future__ import annotations

from typing import Final

ODRL: Final = "http://www.w3.org/ns/odrl/2/"
EDC: Final = "https://w3id.org/edc/v0.0.1/ns/"
XSD: Final = "http://www.w3.org/2001/XMLSchema#"
RDF: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DCT: Final = "http://purl.org/dc/terms/"
CX_POLICY: Final = "https://w3id.org/catenax/2025/9/policy/"
CX_POLICY_LEGACY: Final = "https://w3id.org/catenax/policy/"
#: Namespace of Kakehashi's own operands (JP, TW and cross-border profiles).
KAKEHASHI: Final = "https://w3id.org/kakehashi/2025/policy/"

#: Prefixes written by ``to_edc`` and recognised in compact IRIs everywhere.
PREFIXES: Final[dict[str, str]] = {
    "odrl": ODRL,
    "edc": EDC,
    "xsd": XSD,
    "rdf": RDF,
    "dct": DCT,
    "cx-policy": CX_POLICY,
    "kk": KAKEHASHI,
}

# Action -> the action it is included in (odrl:includedIn). ``use`` and ``transfer`` are roots.
# ``write`` is deprecated in 2.2 but still used by test suites; it sits under ``use``.
ACTION_PARENT: Final[dict[str, str | None]] = {
    "use": None,
    "transfer": None,
    "give": "transfer",
    "sell": "transfer",
    "acceptTracking": "use",
    "aggregate": "use",
    "annotate": "use",
    "anonymize": "use",
    "archive": "use",
    "attribute": "use",
    "compensate": "use",
    "concurrentUse": "use",
    "delete": "use",
    "derive": "use",
    "digitize": "use",
    "distribute": "use",
    "ensureExclusivity": "use",
    "execute": "use",
    "grantUse": "use",
    "include": "use",
    "index": "use",
    "inform": "use",
    "install": "use",
    "modify": "use",
    "move": "use",
    "nextPolicy": "use",
    "obtainConsent": "use",
    "play": "use",
    "display": "play",
    "stream": "play",
    "present": "use",
    "print": "use",
    "read": "use",
    "reproduce": "use",
    "extract": "reproduce",
    "reviewPolicy": "use",
    "synchronize": "use",
    "textToSpeech": "use",
    "transform": "use",
    "translate": "use",
    "uninstall": "use",
    "watermark": "use",
    "write": "use",
}
ACTIONS: Final = frozenset(ODRL + a for a in ACTION_PARENT)

OPERATORS: Final = (
    "eq", "neq", "lt", "lteq", "gt", "gteq",
    "isA", "isPartOf", "hasPart", "isAnyOf", "isAllOf", "isNoneOf",
)
LOGICAL_OPERATORS: Final = ("and", "or", "xone", "andSequence")
CONFLICT_STRATEGIES: Final = ("perm", "prohibit", "invalid")
POLICY_TYPES: Final = ("Set", "Offer", "Agreement")

# ODRL 2.2 core left operands (all names, whether or not a profile evaluates them).
CORE_LEFT_OPERANDS: Final = (
    "absolutePosition", "absoluteSpatialPosition", "absoluteTemporalPosition", "absoluteSize",
    "count", "dateTime", "delayPeriod", "deliveryChannel", "elapsedTime", "event", "fileFormat",
    "industry", "language", "media", "meteredTime", "payAmount", "percentage", "product",
    "purpose", "recipient", "relativePosition", "relativeSpatialPosition",
    "relativeTemporalPosition", "relativeSize", "resolution", "spatial", "spatialCoordinates",
    "systemDevice", "timeInterval", "unitOfCount", "version", "virtualLocation",
)

# Every ODRL term a bare (unprefixed) name may stand for in a compact document.
ODRL_TERMS: Final = frozenset(
    list(ACTION_PARENT) + list(OPERATORS) + list(LOGICAL_OPERATORS) + list(CONFLICT_STRATEGIES)
    + list(POLICY_TYPES) + list(CORE_LEFT_OPERANDS)
    + ["Policy", "Permission", "Prohibition", "Duty", "Constraint", "LogicalConstraint", "Action",
       "Asset", "Party", "Privacy", "Ticket", "Request", "Assertion"]
)


def action_ancestors(iri: str) -> tuple[str, ...]:
    """The action itself followed by every action it is (transitively) included in."""
    out = [iri]
    if iri.startswith(ODRL):
        name = iri[len(ODRL):]
        seen = {name}
        while (parent := ACTION_PARENT.get(name)) is not None and parent not in seen:
            out.append(ODRL + parent)
            seen.add(parent)
            name = parent
    return tuple(out)


def compact_iri(iri: str, prefixes: dict[str, str] | None = None) -> str:
    """Shortest prefixed form of ``iri`` for humans and for EDC output."""
    for prefix, ns in (prefixes or PREFIXES).items():
        if iri.startswith(ns) and len(iri) > len(ns):
            return f"{prefix}:{iri[len(ns):]}"
    return iri
