"""Read and write ODRL policies as JSON-LD, offline, with pinned contexts only.

Three input forms are accepted (``form="auto"`` tells them apart):

* ``dsp``: DSP 2025-1 compact JSON (unprefixed terms, the DSP ODRL profile context is implied
  when the document has no ``@context``);
* ``edc``: EDC Management API shapes (``odrl:``-prefixed keys, ``@vocab`` = EDC namespace, a
  ``PolicyDefinition`` wrapper is unwrapped);
* ``expanded``: expanded or flattened JSON-LD (full IRIs; node references are followed).

Reading is a small JSON-LD expansion restricted to what policies use, so a 10-constraint policy
parses in well under a millisecond; ``pinned_document_loader`` lets pyld process the same
documents with the same pinned files (the tests cross-check both). Anything the reader cannot
interpret with certainty (unknown property, unknown context URL, unknown term) is rejected with
a reason rather than dropped, because a dropped prohibition or constraint would widen a policy.
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Callable, Iterable, Literal as TLiteral, Mapping

from pydantic import ValidationError

from .errors import PolicyError, PolicyLimitError, PolicySyntaxError, UnknownOperandError
from .limits import DEFAULT_LIMITS, Limits
from .model import (
    construct_trusted, Action, Constraint, ConstraintNode, Duty, IRIValue, LiteralValue, LogicalConstraint, Permission,
    Policy, Prohibition, Value,
)
from .vocab import (
    CX_POLICY, DCT, EDC, KAKEHASHI, LOGICAL_OPERATORS, ODRL, ODRL_TERMS, PREFIXES, RDF, XSD,
)

Form = TLiteral["auto", "dsp", "edc", "expanded"]

DSP_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"
DSP_ODRL_PROFILE = "https://w3id.org/dspace/2025/1/odrl-profile.jsonld"
ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"
CX_POLICY_CONTEXT = "https://w3id.org/catenax/2025/9/policy/context.jsonld"
KAKEHASHI_CONTEXT = "https://w3id.org/kakehashi/2025/policy/context.jsonld"

#: Every context URL a policy may name, and the packaged file that stands for it.
PINNED_CONTEXTS: Mapping[str, str] = {
    DSP_CONTEXT: "dspace-2025-1-context.jsonld",
    DSP_ODRL_PROFILE: "dspace-2025-1-odrl-profile.jsonld",
    ODRL_CONTEXT: "odrl-core.jsonld",
    "https://www.w3.org/ns/odrl.jsonld": "odrl-core.jsonld",
    "https://w3id.org/catenax/2025/9/policy/odrl.jsonld": "odrl-core.jsonld",
    CX_POLICY_CONTEXT: "catenax-2025-9-policy.jsonld",
    KAKEHASHI_CONTEXT: "kakehashi-2025-policy.jsonld",
}

_ANNOTATION_NS = (
    DCT, "http://purl.org/dc/elements/1.1/", "http://www.w3.org/2000/01/rdf-schema#",
    "http://www.w3.org/2004/02/skos/core#", "https://w3id.org/dspace/2025/1/", "http://schema.org/",
    "https://schema.org/",
)


@lru_cache(maxsize=None)
def load_pinned_context(url: str) -> dict[str, Any]:
    """The packaged context document for ``url``; a URL we do not pin is an error, never a fetch."""
    name = PINNED_CONTEXTS.get(url)
    if name is None:
        raise PolicySyntaxError(
            f"JSON-LD context {url!r} is not pinned; policies may only use "
            + ", ".join(sorted(PINNED_CONTEXTS))
        )
    text = resources.files("policies.contexts").joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)


def pinned_document_loader(url: str, options: Any = None) -> dict[str, Any]:
    """A pyld document loader serving only the pinned contexts (no network).

    Returns a copy: the cached document is shared with the fast reader and must not be mutated.
    """
    return {"contextUrl": None, "documentUrl": url, "document": copy.deepcopy(load_pinned_context(url))}


# --------------------------------------------------------------------------------------------
# Active context (the subset of JSON-LD 1.1 context processing policies need)


@dataclass(frozen=True, slots=True)
class _Context:
    terms: Mapping[str, str]          # term or prefix -> IRI
    vocab: str | None
    key: str                          # identity for caching derived contexts


_EMPTY = _Context({}, None, "")
_CTX_CACHE: dict[tuple[str, str], _Context] = {}
_CTX_IDS = itertools.count(1)   # unique identity of every processed context (keys the IRI cache)


def _context_entries(local: Any) -> list[Any]:
    if local is None:
        return [None]
    return list(local) if isinstance(local, list) else [local]


def _resolve_term_iri(value: str, defs: Mapping[str, Any], terms: Mapping[str, str], seen: set[str]) -> str:
    if value.startswith("@"):
        return value
    if value in defs and value not in seen:
        seen.add(value)
        d = defs[value]
        raw = d if isinstance(d, str) else (d.get("@id") if isinstance(d, dict) else None)
        if isinstance(raw, str):
            return _resolve_term_iri(raw, defs, terms, seen)
    if ":" in value:
        prefix, _, suffix = value.partition(":")
        if not suffix.startswith("//"):
            if prefix in defs and prefix not in seen:
                seen.add(prefix)
                d = defs[prefix]
                raw = d if isinstance(d, str) else (d.get("@id") if isinstance(d, dict) else None)
                if isinstance(raw, str):
                    return _resolve_term_iri(raw, defs, terms, seen) + suffix
            if prefix in terms:
                return terms[prefix] + suffix
    return terms.get(value, value)


def _process_context(active: _Context, local: Any, depth: int = 0) -> _Context:
    cache_key = (active.key, json.dumps(local, sort_keys=True, ensure_ascii=False))
    hit = _CTX_CACHE.get(cache_key)
    if hit is not None:
        return hit
    if depth > 8:
        raise PolicyLimitError("JSON-LD @import / context nesting is deeper than 8")
    terms = dict(active.terms)
    vocab = active.vocab
    for entry in _context_entries(local):
        if entry is None:
            terms, vocab = {}, None
            continue
        if isinstance(entry, str):
            doc = load_pinned_context(entry)
            sub = _process_context(_Context(terms, vocab, "~"), doc.get("@context"), depth + 1)
            terms, vocab = dict(sub.terms), sub.vocab
            if entry == DSP_CONTEXT:
                # Policies sit inside DSP messages whose scoped contexts @import the ODRL profile.
                sub = _process_context(_Context(terms, vocab, "~"), DSP_ODRL_PROFILE, depth + 1)
                terms, vocab = dict(sub.terms), sub.vocab
            continue
        if not isinstance(entry, dict):
            raise PolicySyntaxError(f"@context entries must be URLs or objects, got {type(entry).__name__}")
        if "@import" in entry:
            sub = _process_context(_Context(terms, vocab, "~"), entry["@import"], depth + 1)
            terms, vocab = dict(sub.terms), sub.vocab
        defs = {k: v for k, v in entry.items() if not k.startswith("@")}
        if "@vocab" in entry:
            v = entry["@vocab"]
            if v is not None and not isinstance(v, str):
                raise PolicySyntaxError("@vocab must be a string or null")
            vocab = _resolve_term_iri(v, defs, terms, set()) if v else None
        for term, d in defs.items():
            if d is None:
                terms.pop(term, None)
                continue
            if isinstance(d, dict):
                if "@reverse" in d:
                    raise PolicySyntaxError(f"context term {term!r} uses @reverse, which policies do not use")
                raw = d.get("@id")
                if raw is None:
                    iri_ = _resolve_term_iri(term, {}, terms, set()) if ":" in term else (vocab or "") + term
                elif isinstance(raw, str):
                    iri_ = _resolve_term_iri(raw, defs, terms, {term})
                else:
                    raise PolicySyntaxError(f"context term {term!r} has a non-string @id")
            elif isinstance(d, str):
                iri_ = _resolve_term_iri(d, defs, terms, {term})
            else:
                raise PolicySyntaxError(f"context term {term!r} has an invalid definition")
            terms[term] = iri_
    result = _Context(terms, vocab, f"ctx{next(_CTX_IDS)}")
    if len(_CTX_CACHE) > 512:
        _CTX_CACHE.clear()
    _CTX_CACHE[cache_key] = result
    return result


_IRI_CACHE: dict[tuple[str, str, bool], str] = {}


def _expand_iri(ctx: _Context, s: str, *, vocab: bool) -> str:
    """IRI expansion: terms (vocab only), compact IRIs, absolute IRIs, then @vocab (memoised)."""
    key = (ctx.key, s, vocab)
    hit = _IRI_CACHE.get(key)
    if hit is not None:
        return hit
    out = _expand_iri_uncached(ctx, s, vocab=vocab)
    if len(_IRI_CACHE) > 16384:
        _IRI_CACHE.clear()
    if len(s) <= 512:
        _IRI_CACHE[key] = out
    return out


def _expand_iri_uncached(ctx: _Context, s: str, *, vocab: bool) -> str:
    if vocab:
        t = ctx.terms.get(s)
        if t is not None:
            return t
    if ":" in s:
        prefix, _, suffix = s.partition(":")
        if suffix.startswith("//") or prefix in ("urn", "did", "http", "https", "mailto", "tag"):
            return s
        ns = ctx.terms.get(prefix) or PREFIXES.get(prefix)
        if ns is not None:
            return ns + suffix
        return s
    if vocab:
        if s in ODRL_TERMS:
            # DSP compact documents use bare ODRL names the profile context does not define.
            return ODRL + s
        if ctx.vocab:
            return ctx.vocab + s
    return s


# --------------------------------------------------------------------------------------------
# Reading

_NODE_LISTS = {ODRL + p for p in ("permission", "prohibition", "obligation", "duty", "remedy",
                                   "consequence", "constraint", "refinement", *LOGICAL_OPERATORS)}
_IRI_PROPS = {ODRL + p for p in ("target", "assigner", "assignee", "profile", "inheritFrom", "unit",
                                  "dataType", "rightOperandReference", "uid")}
_VOCAB_PROPS = {ODRL + p for p in ("action", "leftOperand", "operator", "conflict")}
_VALUE_PROPS = {ODRL + "rightOperand"}
_ODRL_KEYS = frozenset(("permission", "prohibition", "obligation", "duty", "remedy", "consequence",
                        "constraint", "refinement", *LOGICAL_OPERATORS, "target", "assigner", "assignee",
                        "profile", "inheritFrom", "unit", "dataType", "rightOperandReference", "uid",
                        "action", "leftOperand", "operator", "conflict", "rightOperand", "status"))
_KNOWN_ODRL = _NODE_LISTS | _IRI_PROPS | _VOCAB_PROPS | _VALUE_PROPS | {ODRL + "status"}


def _expand_key(ctx: _Context, key: str) -> str:
    """A node key as a property IRI (or keyword alias)."""
    iri_ = _expand_iri(ctx, key, vocab=True)
    if ":" not in iri_ and iri_ in _ODRL_KEYS:
        # DSP compact documents may use ODRL property names the DSP context lacks.
        iri_ = ODRL + iri_
    return iri_


_POLICY_TYPES = {ODRL + "Set": "Set", ODRL + "Offer": "Offer", ODRL + "Agreement": "Agreement",
                 ODRL + "Policy": "Set"}


class _Reader:
    """One pass over a document; counts against ``limits`` as it goes."""

    def __init__(self, limits: Limits, index: Mapping[str, dict[str, Any]]) -> None:
        self.limits = limits
        self.index = index          # @id -> node, for flattened documents
        self.rules = 0
        self.constraints = 0
        self.following: set[str] = set()

    # -- generic helpers ---------------------------------------------------------------------
    def node(self, raw: Any, ctx: _Context, path: str, depth: int) -> tuple[_Context, dict[str, Any], list[str]]:
        """Expand a node's keys. Returns (context, {iri: raw value}, types)."""
        if depth > self.limits.max_depth:
            raise PolicyLimitError(f"nesting deeper than {self.limits.max_depth}", path=path)
        if isinstance(raw, str):
            ref = _expand_iri(ctx, raw, vocab=False)
            raw = {"@id": raw} if ref not in self.index else {"@id": ref}
        if not isinstance(raw, dict):
            raise PolicySyntaxError(f"expected a JSON object, got {type(raw).__name__}", path=path)
        if "@context" in raw:
            ctx = _process_context(ctx, raw["@context"])
        if set(raw) <= {"@id", "@context"} and isinstance(raw.get("@id"), str):
            ref = _expand_iri(ctx, raw["@id"], vocab=False)
            target = self.index.get(ref)
            if target is not None and target is not raw:
                if ref in self.following:
                    raise PolicySyntaxError(f"node {ref!r} refers to itself (cycle)", path=path)
                self.following.add(ref)
                try:
                    return self.node(target, ctx, path, depth + 1)
                finally:
                    self.following.discard(ref)
        props: dict[str, Any] = {}
        types: list[str] = []
        for key, value in raw.items():
            if key == "@context":
                continue
            if key.startswith("@"):
                if key == "@type":
                    types = [_expand_iri(ctx, t, vocab=True) for t in _as_list(value) if isinstance(t, str)]
                elif key == "@id":
                    if not isinstance(value, str):
                        raise PolicySyntaxError("@id must be a string", path=path)
                    props["@id"] = _expand_iri(ctx, value, vocab=False)
                elif key in ("@list", "@set", "@value", "@language", "@graph", "@reverse", "@nest", "@included"):
                    raise PolicySyntaxError(f"unexpected {key} on a policy node", path=path)
                continue
            iri_ = _expand_key(ctx, key)
            if iri_ in ("@type",):
                types = [_expand_iri(ctx, t, vocab=True) for t in _as_list(value) if isinstance(t, str)]
                continue
            if iri_ == "@id":
                props["@id"] = _expand_iri(ctx, value, vocab=False) if isinstance(value, str) else value
                continue
            if iri_ in props:
                raise PolicySyntaxError(f"property {key!r} given twice (as different aliases)", path=path)
            props[iri_] = value
        return ctx, props, types

    def check_props(self, props: Mapping[str, Any], allowed: set[str], what: str, path: str,
                    extra_ok: Callable[[str], bool] | None = None) -> None:
        for k in props:
            if k == "@id" or k in allowed:
                continue
            if k.startswith(_ANNOTATION_NS) or (extra_ok and extra_ok(k)):
                continue
            if k.startswith(ODRL) and k in _KNOWN_ODRL:
                raise PolicySyntaxError(f"{k[len(ODRL):]!r} is not allowed on a {what}", path=path)
            raise PolicySyntaxError(
                f"unknown property {k!r} on a {what}; refusing to ignore it (it may restrict the policy)",
                path=path,
            )

    def string(self, value: Any, path: str) -> str:
        if isinstance(value, dict):
            if "@id" in value:
                value = value["@id"]
            elif "@value" in value:
                value = value["@value"]
        if not isinstance(value, str):
            raise PolicySyntaxError(f"expected a string or IRI, got {json.dumps(value, ensure_ascii=False)[:80]}", path=path)
        if len(value) > self.limits.max_string:
            raise PolicyLimitError(f"string longer than {self.limits.max_string} characters", path=path)
        return value

    def single(self, value: Any, path: str) -> Any:
        items = _as_list(value)
        if len(items) != 1:
            raise PolicySyntaxError(f"expected exactly one value, got {len(items)}", path=path)
        return items[0]

    def iri_value(self, ctx: _Context, value: Any, path: str) -> str:
        return _expand_iri(ctx, self.string(self.single(value, path), path), vocab=False)

    def vocab_value(self, ctx: _Context, value: Any, path: str) -> str:
        v = self.single(value, path)
        if isinstance(v, dict) and "@id" in v:
            s = self.string(v["@id"], path)
            iri_ = _expand_iri(ctx, s, vocab=False)
            if ":" not in iri_ and iri_ in ODRL_TERMS:
                iri_ = ODRL + iri_
            return iri_
        return _expand_iri(ctx, self.string(v, path), vocab=True)

    # -- policy parts ------------------------------------------------------------------------
    def policy(self, raw: Any, ctx: _Context, path: str = "policy") -> Policy:
        ctx, props, types = self.node(raw, ctx, path, 0)
        if EDC + "PolicyDefinition" in types or (EDC + "policy" in props and not any(t in _POLICY_TYPES for t in types)):
            self.check_props(props, {EDC + "policy"}, "PolicyDefinition", path,
                             lambda k: k.startswith(EDC))
            if EDC + "policy" not in props:
                raise PolicySyntaxError("PolicyDefinition has no policy", path=path)
            inner = self.single(props[EDC + "policy"], path)
            return self.policy(inner, ctx, path + ".policy")
        ptype = "Set"
        for t in types:
            if t in _POLICY_TYPES:
                ptype = _POLICY_TYPES[t]
            elif t.startswith(ODRL):
                raise PolicySyntaxError(f"policy type {t[len(ODRL):]!r} is not supported (Set, Offer, Agreement)", path=path)
        allowed = {ODRL + p for p in ("uid", "profile", "inheritFrom", "conflict", "target", "assigner",
                                      "assignee", "action", "permission", "prohibition", "obligation")}
        self.check_props(props, allowed, "policy", path)
        uid = props.get("@id")
        if ODRL + "uid" in props:
            uid = self.iri_value(ctx, props[ODRL + "uid"], path + ".uid")
        conflict = None
        if ODRL + "conflict" in props:
            c = self.vocab_value(ctx, props[ODRL + "conflict"], path + ".conflict")
            conflict = c[len(ODRL):] if c.startswith(ODRL) else c
            if conflict not in ("perm", "prohibit", "invalid"):
                raise PolicySyntaxError(f"unknown conflict strategy {conflict!r}; expected perm, prohibit or invalid",
                                        path=path + ".conflict")
        kw: dict[str, Any] = dict(
            uid=uid, type=ptype, conflict=conflict,
            profiles=tuple(self.iri_value(ctx, p, path + ".profile") for p in _as_list(props.get(ODRL + "profile"))),
            inherit_from=tuple(self.iri_value(ctx, p, path + ".inheritFrom") for p in _as_list(props.get(ODRL + "inheritFrom"))),
            target=self._opt_iri(ctx, props, "target", path),
            assigner=self._opt_iri(ctx, props, "assigner", path),
            assignee=self._opt_iri(ctx, props, "assignee", path),
            actions=self.actions(ctx, props.get(ODRL + "action"), path + ".action", 1, required=False),
            permissions=tuple(self.rule(Permission, r, ctx, f"{path}.permission[{i}]", 1)
                              for i, r in enumerate(_as_list(props.get(ODRL + "permission")))),
            prohibitions=tuple(self.rule(Prohibition, r, ctx, f"{path}.prohibition[{i}]", 1)
                               for i, r in enumerate(_as_list(props.get(ODRL + "prohibition")))),
            obligations=tuple(self.rule(Duty, r, ctx, f"{path}.obligation[{i}]", 1)
                              for i, r in enumerate(_as_list(props.get(ODRL + "obligation")))),
        )
        return _build(Policy, kw, path)

    def _opt_iri(self, ctx: _Context, props: Mapping[str, Any], name: str, path: str) -> str | None:
        v = props.get(ODRL + name)
        if v is None or v == []:
            return None
        items = _as_list(v)
        if len(items) != 1:
            raise PolicySyntaxError(f"{name} must have exactly one value (collections are not supported)", path=f"{path}.{name}")
        item = items[0]
        if isinstance(item, dict) and set(item) - {"@id", "@type"}:
            raise PolicySyntaxError(f"{name} with refinements or nested properties is not supported", path=f"{path}.{name}")
        return self.iri_value(ctx, item, f"{path}.{name}")

    def rule(self, cls: type, raw: Any, ctx: _Context, path: str, depth: int) -> Any:
        self.rules += 1
        if self.rules > self.limits.max_rules:
            raise PolicyLimitError(f"more than {self.limits.max_rules} rules", path=path)
        ctx, props, _types = self.node(raw, ctx, path, depth)
        allowed = {ODRL + p for p in ("uid", "action", "target", "assigner", "assignee", "constraint")}
        nested = {Permission: "duty", Prohibition: "remedy", Duty: "consequence"}[cls]
        allowed.add(ODRL + nested)
        what = cls.__name__.lower()
        self.check_props(props, allowed, what, path)
        uid = props.get("@id")
        if ODRL + "uid" in props:
            uid = self.iri_value(ctx, props[ODRL + "uid"], path + ".uid")
        kw: dict[str, Any] = dict(
            uid=uid,
            actions=self.actions(ctx, props.get(ODRL + "action"), path + ".action", depth + 1,
                                 required=False),
            target=self._opt_iri(ctx, props, "target", path),
            assigner=self._opt_iri(ctx, props, "assigner", path),
            assignee=self._opt_iri(ctx, props, "assignee", path),
            constraints=self.constraints_of(ctx, props.get(ODRL + "constraint"), path + ".constraint", depth + 1, 0),
        )
        children = tuple(self.rule(Duty, r, ctx, f"{path}.{nested}[{i}]", depth + 1)
                         for i, r in enumerate(_as_list(props.get(ODRL + nested))))
        kw[{"duty": "duties", "remedy": "remedies", "consequence": "consequences"}[nested]] = children
        return _build(cls, kw, path)

    def actions(self, ctx: _Context, value: Any, path: str, depth: int, *, required: bool) -> tuple[Action, ...]:
        out = []
        for i, item in enumerate(_as_list(value)):
            p = f"{path}[{i}]"
            if isinstance(item, str):
                out.append(construct_trusted(Action, iri=_expand_iri(ctx, self.string(item, p), vocab=True)))
                continue
            c2, props, _types = self.node(item, ctx, p, depth)
            target = props.get(RDF + "value") or props.get(EDC + "type") or props.get(ODRL + "action")
            uid = props.get("@id")
            if target is None:
                if uid is None:
                    raise PolicySyntaxError("action object names no action (rdf:value or @id)", path=p)
                target, uid = {"@id": item.get("@id") if isinstance(item, dict) else uid}, None
            self.check_props(props, {RDF + "value", EDC + "type", ODRL + "action", ODRL + "refinement"}, "action", p)
            iri_ = self.vocab_value(c2, target, p)
            refinements = self.constraints_of(c2, props.get(ODRL + "refinement"), p + ".refinement", depth + 1, 0)
            out.append(construct_trusted(Action, iri=iri_, uid=uid if isinstance(uid, str) else None,
                                              refinements=refinements))
        if required and not out:
            raise PolicySyntaxError("a rule must name an action", path=path)
        return tuple(out)

    def constraints_of(self, ctx: _Context, value: Any, path: str, depth: int, logical_depth: int) -> tuple[ConstraintNode, ...]:
        return tuple(self.constraint(ctx, c, f"{path}[{i}]", depth, logical_depth)
                     for i, c in enumerate(_as_list(value)))

    def constraint(self, ctx: _Context, raw: Any, path: str, depth: int, logical_depth: int) -> ConstraintNode:
        self.constraints += 1
        if self.constraints > self.limits.max_constraints:
            raise PolicyLimitError(f"more than {self.limits.max_constraints} constraints", path=path)
        ctx, props, _types = self.node(raw, ctx, path, depth)
        logical = [op for op in LOGICAL_OPERATORS if ODRL + op in props]
        uid = props.get("@id")
        if ODRL + "uid" in props:
            uid = self.iri_value(ctx, props[ODRL + "uid"], path + ".uid")
        if logical:
            if len(logical) > 1:
                raise PolicySyntaxError(f"a logical constraint has one operator, got {', '.join(logical)}", path=path)
            if logical_depth >= self.limits.max_logical_depth:
                raise PolicyLimitError(f"logical constraints nested deeper than {self.limits.max_logical_depth}", path=path)
            op = logical[0]
            self.check_props(props, {ODRL + op, ODRL + "uid"}, "logical constraint", path)
            members = self.constraints_of(ctx, props[ODRL + op], f"{path}.{op}", depth + 1, logical_depth + 1)
            if not members:
                raise PolicySyntaxError(f"logical constraint {op} has no operands", path=path)
            return construct_trusted(LogicalConstraint, uid=uid if isinstance(uid, str) else None, operator=op,
                                                     constraints=members)
        allowed = {ODRL + p for p in ("uid", "leftOperand", "operator", "rightOperand", "rightOperandReference",
                                      "unit", "dataType", "status")}
        self.check_props(props, allowed, "constraint", path)
        for need in ("leftOperand", "operator"):
            if ODRL + need not in props:
                raise PolicySyntaxError(f"constraint has no {need}", path=path)
        if ODRL + "rightOperand" not in props and ODRL + "rightOperandReference" not in props:
            raise PolicySyntaxError("constraint has neither rightOperand nor rightOperandReference", path=path)
        left = self.vocab_value(ctx, props[ODRL + "leftOperand"], path + ".leftOperand")
        op_iri = self.vocab_value(ctx, props[ODRL + "operator"], path + ".operator")
        if not op_iri.startswith(ODRL):
            raise PolicySyntaxError(f"unknown operator {op_iri!r} (ODRL operators only)", path=path + ".operator")
        right = tuple(self.value(ctx, v, path + ".rightOperand") for v in _as_list(props.get(ODRL + "rightOperand")))
        if len(right) > self.limits.max_list_items:
            raise PolicyLimitError(f"rightOperand has more than {self.limits.max_list_items} values", path=path)
        kw = dict(
            uid=uid if isinstance(uid, str) else None, left_operand=left, operator=op_iri[len(ODRL):],
            right_operand=right,
            right_operand_reference=self._opt_iri(ctx, props, "rightOperandReference", path),
            unit=self._opt_iri(ctx, props, "unit", path),
            data_type=self._opt_iri(ctx, props, "dataType", path),
        )
        return _build(Constraint, kw, path)

    def value(self, ctx: _Context, raw: Any, path: str) -> Value:
        if isinstance(raw, bool):
            return construct_trusted(LiteralValue, value="true" if raw else "false", datatype=XSD + "boolean")
        if isinstance(raw, int):
            return construct_trusted(LiteralValue, value=str(raw), datatype=XSD + "integer")
        if isinstance(raw, float):
            return construct_trusted(LiteralValue, value=repr(raw), datatype=XSD + "double")
        if isinstance(raw, str):
            return construct_trusted(LiteralValue, value=self.string(raw, path))
        if isinstance(raw, dict):
            if "@value" in raw:
                v = raw["@value"]
                if set(raw) - {"@value", "@type", "@language", "@direction"}:
                    raise PolicySyntaxError("value object with unexpected keys", path=path)
                dt = raw.get("@type")
                if isinstance(v, (bool, int, float)) and dt is None:
                    return self.value(ctx, v, path)
                if isinstance(v, bool):
                    v = "true" if v else "false"
                elif isinstance(v, (int, float)):
                    v = str(v)
                return construct_trusted(
                    LiteralValue, value=self.string(v, path),
                    datatype=_expand_iri(ctx, dt, vocab=True) if isinstance(dt, str) else None,
                    language=raw.get("@language") if isinstance(raw.get("@language"), str) else None,
                )
            if set(raw) - {"@id", "@type"} == set() and "@id" in raw:
                return construct_trusted(IRIValue, id=_expand_iri(ctx, self.string(raw["@id"], path), vocab=False))
        raise PolicySyntaxError(f"rightOperand value {json.dumps(raw, ensure_ascii=False)[:80]} is not a literal or IRI", path=path)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, dict) and ("@list" in value or "@set" in value):
        inner = value.get("@list", value.get("@set"))
        return list(inner) if isinstance(inner, list) else [inner]
    if isinstance(value, list):
        out: list[Any] = []
        for v in value:
            out.extend(_as_list(v) if isinstance(v, dict) and ("@list" in v or "@set" in v) else [v])
        return out
    return [value]


def _build(cls: type, kw: dict[str, Any], path: str) -> Any:
    # The reader has already checked every field, so skip pydantic's second validation pass.
    try:
        return construct_trusted(cls, **kw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PolicySyntaxError(first.get("msg", str(exc)).removeprefix("Value error, "), path=path) from None


def _detect_form(doc: Any) -> Form:
    if isinstance(doc, list) or (isinstance(doc, dict) and "@graph" in doc):
        return "expanded"
    if isinstance(doc, dict):
        if any(isinstance(k, str) and k.startswith(ODRL) for k in doc):
            return "expanded"
        if any(isinstance(k, str) and k.startswith("odrl:") for k in doc) or "policy" in doc:
            return "edc"
    return "dsp"


def parse_policy(doc: dict[str, Any] | list[Any] | str | bytes, *, form: Form = "auto",
                 registry: Any = None, limits: Limits = DEFAULT_LIMITS, fast: bool = True) -> Policy:
    """Read a policy in any accepted form and validate it against the operand registry.

    Raises a PolicyError subclass whose ``reason`` names the offending part; an unknown
    leftOperand, operator or malformed value is an error, never silently satisfied.

    DSP and EDC documents go through ``policies.fastpath`` first, which reads the everyday shapes
    directly and hands anything else to the general reader; ``fast=False`` skips it (the tests
    compare both).
    """
    policy = _read_policy(doc, form, limits, fast)
    # Compiling validates every operand, operator and value (and caches the result for evaluate).
    from .engine import compile_policy
    compile_policy(policy, registry=registry)
    return policy


def _read_policy(doc: Any, form: str, limits: Limits, fast: bool) -> Policy:
    """The policy model in ``doc`` (not yet checked against an operand registry)."""
    if isinstance(doc, (str, bytes)):
        size = len(doc.encode("utf-8") if isinstance(doc, str) else doc)
        if size > limits.max_bytes:
            raise PolicyLimitError(f"policy document is {size} bytes, more than {limits.max_bytes}")
        try:
            doc = json.loads(doc)
        except (ValueError, RecursionError) as exc:
            raise PolicySyntaxError(f"not valid JSON: {exc}") from None
    if form == "auto":
        form = _detect_form(doc)
    if form not in ("dsp", "edc", "expanded"):
        raise PolicySyntaxError(f"unknown form {form!r}")
    index: dict[str, dict[str, Any]] = {}
    root: Any = doc
    if form == "expanded":
        nodes = doc.get("@graph") if isinstance(doc, dict) and "@graph" in doc else doc
        nodes = nodes if isinstance(nodes, list) else [nodes]
        for n in nodes:
            if isinstance(n, dict) and isinstance(n.get("@id"), str):
                index[n["@id"]] = n
        policies = [n for n in nodes if isinstance(n, dict) and any(
            t in _POLICY_TYPES for t in _as_list(n.get("@type")))]
        if len(policies) != 1:
            if len(nodes) == 1:
                policies = nodes
            else:
                raise PolicySyntaxError(f"expected exactly one policy node, found {len(policies)}")
        root = policies[0]
        ctx = _EMPTY
        if isinstance(doc, dict) and "@context" in doc:
            ctx = _process_context(_EMPTY, doc["@context"])
    else:
        ctx = _fastpath.base_context(form)
    if not isinstance(root, dict):
        raise PolicySyntaxError(f"a policy must be a JSON object, got {type(root).__name__}")
    policy = _fastpath.read_fast(root, form, limits) if fast and form != "expanded" else None
    if policy is None:
        try:
            policy = _Reader(limits, index).policy(root, ctx)
        except RecursionError:
            raise PolicyLimitError("policy nested too deeply") from None
    return policy


# --------------------------------------------------------------------------------------------
# Writing


@lru_cache(maxsize=1)
def _dsp_terms() -> dict[str, str]:
    """IRI -> term for the names the DSP ODRL profile context defines."""
    ctx = load_pinned_context(DSP_ODRL_PROFILE)["@context"]
    out = {}
    for term, d in ctx.items():
        if term.startswith("@") or term == "odrl":
            continue
        raw = d if isinstance(d, str) else d["@id"]
        out[ODRL + raw.split(":", 1)[1]] = term
    return out


class _Writer:
    def __init__(self, style: str) -> None:
        self.style = style  # "dsp" | "edc" | "expanded"

    def key(self, name: str) -> str:
        if self.style == "dsp":
            return name if _dsp_terms().get(ODRL + name) == name else "odrl:" + name
        return "odrl:" + name if self.style == "edc" else ODRL + name

    def vocab(self, iri_: str) -> Any:
        if self.style == "dsp":
            if iri_ in _dsp_terms():
                return _dsp_terms()[iri_]
            return "odrl:" + iri_[len(ODRL):] if iri_.startswith(ODRL) else iri_
        if self.style == "edc":
            return {"@id": _compact_edc(iri_)}
        return [{"@id": iri_}]

    def ref(self, iri_: str, *, coerced: bool = False) -> Any:
        """An IRI value; plain strings only under DSP terms the context types as @id."""
        if self.style == "expanded":
            return [{"@id": iri_}]
        if self.style == "dsp" and coerced:
            return iri_
        return {"@id": iri_}

    def put(self, out: dict[str, Any], name: str, value: Any) -> None:
        if self.style == "expanded":
            out[ODRL + name] = value if isinstance(value, list) else [value]
        else:
            out[self.key(name)] = value

    def value(self, v: Value) -> Any:
        if isinstance(v, IRIValue):
            return {"@id": v.id}
        if self.style != "expanded" and v.datatype is None and v.language is None:
            return v.value
        if self.style != "expanded" and v.datatype == XSD + "integer" and v.value.lstrip("-").isdigit() \
                and str(int(v.value)) == v.value:
            return int(v.value)
        out: dict[str, Any] = {"@value": v.value}
        if v.datatype:
            out["@type"] = v.datatype
        if v.language:
            out["@language"] = v.language
        return out

    def constraint(self, c: ConstraintNode) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if c.uid:
            out["@id"] = c.uid
        if isinstance(c, LogicalConstraint):
            members = [self.constraint(m) for m in c.constraints]
            if c.operator == "andSequence":
                self.put(out, "andSequence", [{"@list": members}] if self.style == "expanded" else {"@list": members})
            else:
                self.put(out, c.operator, members)
            return out
        self.put(out, "leftOperand", self.vocab(c.left_operand))
        self.put(out, "operator", self.vocab(ODRL + c.operator))
        if c.right_operand:
            vals = [self.value(v) for v in c.right_operand]
            self.put(out, "rightOperand", vals if (len(vals) > 1 or self.style == "expanded") else vals[0])
        if c.right_operand_reference:
            self.put(out, "rightOperandReference", self.ref(c.right_operand_reference))
        if c.unit:
            self.put(out, "unit", self.ref(c.unit))
        if c.data_type:
            self.put(out, "dataType", self.ref(c.data_type))
        return out

    def action(self, a: Action) -> Any:
        if not a.refinements and not a.uid:
            return self.vocab(a.iri)
        out: dict[str, Any] = {}
        if a.uid:
            out["@id"] = a.uid
        if self.style == "expanded":
            out[RDF + "value"] = [{"@id": a.iri}]
        else:
            out["rdf:value" if self.style == "edc" else RDF + "value"] = {"@id": a.iri if self.style != "edc" else _compact_edc(a.iri)}
        if a.refinements:
            self.put(out, "refinement", [self.constraint(r) for r in a.refinements])
        return out

    def rule(self, r: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if r.uid:
            out["@id"] = r.uid
        self.common(out, r)
        if r.constraints:
            self.put(out, "constraint", [self.constraint(c) for c in r.constraints])
        for attr, name in (("duties", "duty"), ("remedies", "remedy"), ("consequences", "consequence")):
            children = getattr(r, attr, ())
            if children:
                self.put(out, name, [self.rule(d) for d in children])
        return out

    def common(self, out: dict[str, Any], r: Any) -> None:
        if r.actions:
            acts = [self.action(a) for a in r.actions]
            if self.style == "expanded":
                self.put(out, "action", [x for a in acts for x in (a if isinstance(a, list) else [a])])
            else:
                self.put(out, "action", acts[0] if len(acts) == 1 else acts)
        for name in ("target", "assigner", "assignee"):
            v = getattr(r, name)
            if v:
                self.put(out, name, self.ref(v, coerced=True))

    def policy(self, p: Policy) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if p.uid:
            out["@id"] = p.uid
        out["@type"] = {"dsp": p.type, "edc": "odrl:" + p.type, "expanded": [ODRL + p.type]}[self.style]
        if p.profiles:
            self.put(out, "profile", [self.ref(x, coerced=True) for x in p.profiles] if self.style != "expanded" else [{"@id": x} for x in p.profiles])
        if p.inherit_from:
            self.put(out, "inheritFrom", [self.ref(x) for x in p.inherit_from] if self.style != "expanded" else [{"@id": x} for x in p.inherit_from])
        if p.conflict:
            self.put(out, "conflict", self.vocab(ODRL + p.conflict) if self.style != "dsp"
                     else {"@id": "odrl:" + p.conflict})
        self.common(out, p)
        for attr, name in (("permissions", "permission"), ("prohibitions", "prohibition"), ("obligations", "obligation")):
            rules = getattr(p, attr)
            if rules:
                self.put(out, name, [self.rule(r) for r in rules])
        return out


def _compact_edc(iri_: str) -> str:
    for prefix, ns in (("odrl", ODRL), ("cx-policy", CX_POLICY), ("kk", KAKEHASHI), ("xsd", XSD)):
        if iri_.startswith(ns):
            return f"{prefix}:{iri_[len(ns):]}"
    return iri_


EDC_CONTEXT: dict[str, str] = {"@vocab": EDC, "edc": EDC, "odrl": ODRL, "cx-policy": CX_POLICY,
                               "kk": KAKEHASHI, "xsd": XSD, "rdf": RDF}


def to_dsp(policy: Policy, *, with_context: bool = False) -> dict[str, Any]:
    """DSP 2025-1 compact form (as embedded in catalog / negotiation messages)."""
    out = _Writer("dsp").policy(policy)
    if with_context:
        out = {"@context": [DSP_ODRL_PROFILE], **out}
    return out


def to_edc(policy: Policy, *, definition_id: str | None = None) -> dict[str, Any]:
    """EDC Management API form: ``odrl:`` prefixed; wrapped as a PolicyDefinition if an id is given."""
    body = _Writer("edc").policy(policy)
    if definition_id is None:
        return {"@context": dict(EDC_CONTEXT), **body}
    return {"@context": dict(EDC_CONTEXT), "@type": "PolicyDefinition", "@id": definition_id, "policy": body}


def to_expanded(policy: Policy) -> list[dict[str, Any]]:
    """Expanded JSON-LD (full IRIs, arrays everywhere), as a JSON-LD processor's expand() returns."""
    return [_Writer("expanded").policy(policy)]


def iter_operands(nodes: Iterable[ConstraintNode]) -> Iterable[Constraint]:
    """Every atomic constraint below ``nodes`` (depth first)."""
    for n in nodes:
        if isinstance(n, LogicalConstraint):
            yield from iter_operands(n.constraints)
        else:
            yield n


__all__ = [
    "Form", "PINNED_CONTEXTS", "load_pinned_context", "parse_policy", "pinned_document_loader",
    "to_dsp", "to_edc", "to_expanded", "iter_operands", "PolicyError", "UnknownOperandError",
]


from . import fastpath as _fastpath  # noqa: E402  (it builds on this module)
