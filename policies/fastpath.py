"""A direct reader for the everyday compact forms (DSP 2025-1 and EDC), used before the general one.

Policies arrive almost always as DSP compact JSON (no ``@context``, bare ODRL names) or in EDC's
``odrl:``-prefixed shape with one ``@context`` at the top. For those, this module walks the parsed
JSON dicts directly: every key and vocabulary value is looked up in a per-context table filled by
the *same* expansion functions the general reader uses (``jsonld._expand_key`` and
``jsonld._expand_iri_uncached``), and every check the general reader makes is made here too.

Whenever a document uses something this reader does not handle -- a ``@context`` below the
root, a keyword other than ``@id`` / ``@type``, an alias, a key outside the ODRL / annotation
terms, a node reference, a value shape it does not know, a limit exceeded, an error of any kind --
it gives up (returns ``None``) and ``parse_policy`` runs the general reader, which either reads the
document or raises the error with its reason. So this reader never produces an error message of
its own, and a policy it returns is the one the general reader returns (same models, same field
values, same ``model_fields_set``); ``tests/unit/policies/test_fastpath.py`` checks that on every
fixture and on generated policies.

Nothing is cached per document: only vocabulary expansion (keys, actions, operands, operators,
types, datatypes) is memoised per active context; identifiers and values are expanded and parsed
every time.
"""

from __future__ import annotations

from typing import Any

from .jsonld import (
    _ANNOTATION_NS, _EMPTY, _POLICY_TYPES, _Context, _as_list, _expand_iri_uncached, _expand_key,
    _process_context, DSP_ODRL_PROFILE, ODRL_CONTEXT,
)
from .limits import Limits
from .model import (
    Action, Constraint, Duty, IRIValue, LiteralValue, LogicalConstraint, Permission, Policy, Prohibition,
    build_trusted as _build,
)
from .vocab import EDC, LOGICAL_OPERATORS, ODRL, ODRL_TERMS, RDF, XSD


class _Bail(Exception):
    """The document needs the general reader."""


def _o(name: str) -> str:
    return ODRL + name


P_UID, P_PROFILE, P_INHERIT, P_CONFLICT = _o("uid"), _o("profile"), _o("inheritFrom"), _o("conflict")
P_TARGET, P_ASSIGNER, P_ASSIGNEE, P_ACTION = _o("target"), _o("assigner"), _o("assignee"), _o("action")
P_PERMISSION, P_PROHIBITION, P_OBLIGATION = _o("permission"), _o("prohibition"), _o("obligation")
P_DUTY, P_REMEDY, P_CONSEQUENCE = _o("duty"), _o("remedy"), _o("consequence")
P_CONSTRAINT, P_REFINEMENT = _o("constraint"), _o("refinement")
P_LEFT, P_OPERATOR, P_RIGHT, P_RIGHT_REF = _o("leftOperand"), _o("operator"), _o("rightOperand"), _o("rightOperandReference")
P_UNIT, P_DATATYPE, P_STATUS = _o("unit"), _o("dataType"), _o("status")
RDF_VALUE, EDC_TYPE, EDC_POLICY, EDC_DEFINITION = RDF + "value", EDC + "type", EDC + "policy", EDC + "PolicyDefinition"
_LOGICAL = tuple((op, ODRL + op) for op in LOGICAL_OPERATORS)

#: Every property IRI this reader understands; any other key sends the document to the general reader.
_KNOWN = frozenset({
    P_UID, P_PROFILE, P_INHERIT, P_CONFLICT, P_TARGET, P_ASSIGNER, P_ASSIGNEE, P_ACTION, P_PERMISSION,
    P_PROHIBITION, P_OBLIGATION, P_DUTY, P_REMEDY, P_CONSEQUENCE, P_CONSTRAINT, P_REFINEMENT, P_LEFT,
    P_OPERATOR, P_RIGHT, P_RIGHT_REF, P_UNIT, P_DATATYPE, P_STATUS, RDF_VALUE, EDC_TYPE, EDC_POLICY,
    *(iri for _op, iri in _LOGICAL),
})
# What each kind of node may carry (as in jsonld._Reader; "@id" and annotations are always allowed).
_ID = "@id"
_POLICY_PROPS = frozenset({_ID, P_UID, P_PROFILE, P_INHERIT, P_CONFLICT, P_TARGET, P_ASSIGNER, P_ASSIGNEE,
                           P_ACTION, P_PERMISSION, P_PROHIBITION, P_OBLIGATION})
_RULE_BASE = {_ID, P_UID, P_ACTION, P_TARGET, P_ASSIGNER, P_ASSIGNEE, P_CONSTRAINT}
_RULE_PROPS = {cls: (frozenset(_RULE_BASE | {nested}), nested, field)
               for cls, nested, field in ((Permission, P_DUTY, "duties"), (Prohibition, P_REMEDY, "remedies"),
                                          (Duty, P_CONSEQUENCE, "consequences"))}
_ACTION_PROPS = frozenset({_ID, RDF_VALUE, EDC_TYPE, P_ACTION, P_REFINEMENT})
_ATOM_PROPS = frozenset({_ID, P_UID, P_LEFT, P_OPERATOR, P_RIGHT, P_RIGHT_REF, P_UNIT, P_DATATYPE, P_STATUS})
_DEFINITION_PROPS = frozenset({_ID, EDC_POLICY})
_LOGICAL_PROPS = {op: frozenset({_ID, iri_, P_UID}) for op, iri_ in _LOGICAL}
_CONFLICTS = frozenset({"perm", "prohibit", "invalid"})
_XSD_BOOLEAN, _XSD_INTEGER, _XSD_DOUBLE = XSD + "boolean", XSD + "integer", XSD + "double"
_VALUE_KEYS = frozenset({"@value", "@type", "@language", "@direction"})
_REF_KEYS = frozenset({"@id", "@type"})
_NO_TYPE = object()
_ODRL_LEN = len(ODRL)


class _Terms:
    """Vocabulary expansion memoised for one active context (vocabulary only: terms recur)."""

    __slots__ = ("ctx", "keys", "vocab")
    MAX = 4096

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.keys: dict[str, str] = {}
        self.vocab: dict[str, str] = {}

    def key(self, k: str) -> str:
        iri_ = self.keys.get(k)
        if iri_ is None:
            iri_ = _expand_key(self.ctx, k)
            if len(self.keys) < self.MAX and len(k) <= 512:
                self.keys[k] = iri_
        return iri_

    def term(self, s: str) -> str:
        iri_ = self.vocab.get(s)
        if iri_ is None:
            iri_ = _expand_iri_uncached(self.ctx, s, vocab=True)
            if len(self.vocab) < self.MAX and len(s) <= 512:
                self.vocab[s] = iri_
        return iri_


_TERMS: dict[str, _Terms] = {}
_BASE: dict[str, _Context] = {}


def _terms(ctx: _Context) -> _Terms:
    t = _TERMS.get(ctx.key)
    if t is None or t.ctx is not ctx:
        if len(_TERMS) > 64:
            _TERMS.clear()
        t = _TERMS[ctx.key] = _Terms(ctx)
    return t


def base_context(form: str) -> _Context:
    ctx = _BASE.get(form)
    if ctx is None:
        local: Any = DSP_ODRL_PROFILE if form == "dsp" else [ODRL_CONTEXT, {"@vocab": EDC}]
        ctx = _BASE[form] = _process_context(_EMPTY, local)
    return ctx


class _Fast:
    __slots__ = ("t", "keys", "vocab", "ctx", "limits", "max_string", "rules", "constraints")

    def __init__(self, terms: _Terms, limits: Limits) -> None:
        self.t = terms
        self.keys = terms.keys
        self.vocab = terms.vocab
        self.ctx = terms.ctx
        self.limits = limits
        self.max_string = limits.max_string
        self.rules = 0
        self.constraints = 0

    # -- nodes and plain values ---------------------------------------------------------------
    def node(self, raw: Any, depth: int, root: bool = False) -> tuple[dict[str, Any], Any]:
        """{property IRI: raw value} and the raw @type of a node (only the root may carry a context)."""
        if type(raw) is not dict or depth > self.limits.max_depth:
            raise _Bail
        props: dict[str, Any] = {}
        type_raw: Any = _NO_TYPE
        keys = self.keys
        for k, v in raw.items():
            iri_ = keys.get(k)
            if iri_ is None:
                if k[:1] == "@":
                    iri_ = k
                    if k == "@context" and root:
                        continue         # already applied by read_fast
                else:
                    iri_ = self.t.key(k)
            if iri_[:1] == "@":          # a keyword, or a term the context aliases to one ("uid": "@id")
                if iri_ == "@id" and type(v) is str and _ID not in props:
                    props[_ID] = _expand_iri_uncached(self.ctx, v, vocab=False)
                elif iri_ == "@type" and type_raw is _NO_TYPE:
                    type_raw = v
                else:
                    raise _Bail          # @context below the root, @list, unknown keywords, repeats ...
                continue
            if iri_ in props or (iri_ not in _KNOWN and not iri_.startswith(_ANNOTATION_NS)):
                raise _Bail              # a property given twice (by aliases), an unknown property
            props[iri_] = v
        return props, type_raw

    @staticmethod
    def allowed(props: dict[str, Any], allowed: frozenset[str]) -> None:
        if props.keys() <= allowed:
            return
        for k in props:
            if k not in allowed and not k.startswith(_ANNOTATION_NS):
                raise _Bail

    def string(self, value: Any) -> str:
        if type(value) is dict:
            if "@id" in value:
                value = value["@id"]
            elif "@value" in value:
                value = value["@value"]
        if type(value) is not str or len(value) > self.max_string:
            raise _Bail
        return value

    @staticmethod
    def single(value: Any) -> Any:
        if type(value) is list:
            if len(value) != 1:
                raise _Bail
            value = value[0]
            if type(value) is dict and ("@list" in value or "@set" in value):
                raise _Bail
        elif value is None or (type(value) is dict and ("@list" in value or "@set" in value)):
            raise _Bail
        return value

    def iri_value(self, value: Any) -> str:
        if type(value) is not str:
            value = self.string(self.single(value))
        elif len(value) > self.max_string:
            raise _Bail
        return _expand_iri_uncached(self.ctx, value, vocab=False)

    def vocab_value(self, value: Any) -> str:
        if type(value) is str:
            if len(value) > self.max_string:
                raise _Bail
            iri_ = self.vocab.get(value)
            return iri_ if iri_ is not None else self.t.term(value)
        v = self.single(value)
        if type(v) is dict and "@id" in v:
            iri_ = _expand_iri_uncached(self.ctx, self.string(v["@id"]), vocab=False)
            if ":" not in iri_ and iri_ in ODRL_TERMS:
                iri_ = ODRL + iri_
            return iri_
        return self.t.term(self.string(v))

    def opt_iri(self, v: Any) -> str | None:
        """An optional single IRI (target, assignee, unit ...); ``v`` is the raw value or None."""
        if v is None or v == []:
            return None
        if type(v) is str:
            return self.iri_value(v)
        items = _as_list(v)
        if len(items) != 1:
            raise _Bail
        item = items[0]
        if type(item) is dict and not item.keys() <= _REF_KEYS:
            raise _Bail
        return self.iri_value(item)

    def types(self, type_raw: Any) -> list[str]:
        if type_raw is _NO_TYPE:
            return []
        if type(type_raw) is str:
            return [self.t.term(type_raw)]
        if type(type_raw) is list and all(type(x) is str for x in type_raw):
            return [self.t.term(x) for x in type_raw]
        raise _Bail

    # -- policy parts ----------------------------------------------------------------------------
    def policy(self, raw: Any, root: bool = False) -> Policy:
        props, type_raw = self.node(raw, 0, root)
        types = self.types(type_raw)
        if EDC_DEFINITION in types or (EDC_POLICY in props and not any(t in _POLICY_TYPES for t in types)):
            self.allowed(props, _DEFINITION_PROPS)
            if EDC_POLICY not in props:
                raise _Bail
            return self.policy(self.single(props[EDC_POLICY]))
        ptype = "Set"
        for t in types:
            if t in _POLICY_TYPES:
                ptype = _POLICY_TYPES[t]
            elif t.startswith(ODRL):
                raise _Bail
        self.allowed(props, _POLICY_PROPS)
        get = props.get
        uid = get(_ID)
        if P_UID in props:
            uid = self.iri_value(props[P_UID])
        conflict = None
        if P_CONFLICT in props:
            c = self.vocab_value(props[P_CONFLICT])
            conflict = c[len(ODRL):] if c.startswith(ODRL) else c
            if conflict not in _CONFLICTS:
                raise _Bail
        values: dict[str, Any] = {
            "uid": uid, "type": ptype, "profiles": tuple(self.iri_value(p) for p in _as_list(get(P_PROFILE))),
            "inherit_from": tuple(self.iri_value(p) for p in _as_list(get(P_INHERIT))), "conflict": conflict,
            "target": self.opt_iri(get(P_TARGET)), "assigner": self.opt_iri(get(P_ASSIGNER)),
            "assignee": self.opt_iri(get(P_ASSIGNEE)), "actions": self.actions(get(P_ACTION), 1),
            "permissions": tuple(self.rule(Permission, r, 1) for r in _as_list(get(P_PERMISSION))),
            "prohibitions": tuple(self.rule(Prohibition, r, 1) for r in _as_list(get(P_PROHIBITION))),
            "obligations": tuple(self.rule(Duty, r, 1) for r in _as_list(get(P_OBLIGATION))),
        }
        return _build(Policy, values, set(values))

    def rule(self, cls: type, raw: Any, depth: int) -> Any:
        self.rules += 1
        if self.rules > self.limits.max_rules:
            raise _Bail
        props, _type = self.node(raw, depth)
        allowed, nested, field = _RULE_PROPS[cls]
        self.allowed(props, allowed)
        get = props.get
        uid = get(_ID)
        if P_UID in props:
            uid = self.iri_value(props[P_UID])
        values: dict[str, Any] = {
            "uid": uid, "actions": self.actions(get(P_ACTION), depth + 1),
            "target": self.opt_iri(get(P_TARGET)), "assigner": self.opt_iri(get(P_ASSIGNER)),
            "assignee": self.opt_iri(get(P_ASSIGNEE)),
            "constraints": self.constraints_of(get(P_CONSTRAINT), depth + 1, 0),
        }
        children = get(nested)
        values[field] = () if children is None else tuple(self.rule(Duty, r, depth + 1) for r in _as_list(children))
        return _build(cls, values, set(values))

    def actions(self, value: Any, depth: int) -> tuple[Action, ...]:
        if value is None:
            return ()
        out = []
        for item in ([value] if type(value) is str else _as_list(value)):
            if type(item) is str:
                out.append(_build(Action, {"iri": self.vocab_value(item), "uid": None, "refinements": ()}, {"iri"}))
                continue
            props, _type = self.node(item, depth)
            target = props.get(RDF_VALUE) or props.get(EDC_TYPE) or props.get(P_ACTION)
            uid = props.get(_ID)
            if target is None:
                if uid is None:
                    raise _Bail
                target, uid = {"@id": item.get("@id")}, None
            self.allowed(props, _ACTION_PROPS)
            values = {"iri": self.vocab_value(target), "uid": uid,
                      "refinements": self.constraints_of(props.get(P_REFINEMENT), depth + 1, 0)}
            out.append(_build(Action, values, set(values)))
        return tuple(out)

    def constraints_of(self, value: Any, depth: int, logical_depth: int) -> tuple[Any, ...]:
        if value is None:
            return ()
        return tuple([self.constraint(c, depth, logical_depth) for c in _as_list(value)])

    def constraint(self, raw: Any, depth: int, logical_depth: int) -> Any:
        self.constraints += 1
        if self.constraints > self.limits.max_constraints:
            raise _Bail
        props, _type = self.node(raw, depth)
        get = props.get
        uid = get(_ID)
        if P_UID in props:
            uid = self.iri_value(props[P_UID])
        if P_LEFT not in props:
            logical = [(op, iri_) for op, iri_ in _LOGICAL if iri_ in props]
            if len(logical) != 1 or logical_depth >= self.limits.max_logical_depth:
                raise _Bail
            op, iri_ = logical[0]
            self.allowed(props, _LOGICAL_PROPS[op])
            members = self.constraints_of(props[iri_], depth + 1, logical_depth + 1)
            if not members:
                raise _Bail
            values: dict[str, Any] = {"uid": uid, "operator": op, "constraints": members}
            return _build(LogicalConstraint, values, set(values))
        self.allowed(props, _ATOM_PROPS)       # (a logical operator next to leftOperand fails here)
        if P_OPERATOR not in props or (P_RIGHT not in props and P_RIGHT_REF not in props):
            raise _Bail
        op_iri = self.vocab_value(props[P_OPERATOR])
        if not op_iri.startswith(ODRL):
            raise _Bail
        rv = get(P_RIGHT)
        if rv is None:
            right: tuple[Any, ...] = ()
        elif type(rv) is str:
            right = (self.value(rv),)
        else:
            right = tuple([self.value(v) for v in _as_list(rv)])
            if len(right) > self.limits.max_list_items:
                raise _Bail
        ref, unit, dtype = get(P_RIGHT_REF), get(P_UNIT), get(P_DATATYPE)
        values = {
            "uid": uid, "left_operand": self.vocab_value(props[P_LEFT]), "operator": op_iri[_ODRL_LEN:],
            "right_operand": right, "right_operand_reference": None if ref is None else self.opt_iri(ref),
            "unit": None if unit is None else self.opt_iri(unit),
            "data_type": None if dtype is None else self.opt_iri(dtype),
        }
        return _build(Constraint, values, set(values))

    def value(self, raw: Any) -> Any:
        tr = type(raw)
        if tr is str:
            if len(raw) > self.max_string:
                raise _Bail
            return _build(LiteralValue, {"value": raw, "datatype": None, "language": None}, {"value"})
        if tr is bool:
            return _build(LiteralValue, {"value": "true" if raw else "false", "datatype": _XSD_BOOLEAN,
                                         "language": None}, {"value", "datatype"})
        if tr is int:
            return _build(LiteralValue, {"value": str(raw), "datatype": _XSD_INTEGER, "language": None},
                          {"value", "datatype"})
        if tr is float:
            return _build(LiteralValue, {"value": repr(raw), "datatype": _XSD_DOUBLE, "language": None},
                          {"value", "datatype"})
        if tr is dict:
            if "@value" in raw:
                if not raw.keys() <= _VALUE_KEYS:
                    raise _Bail
                v = raw["@value"]
                dt = raw.get("@type")
                if type(v) in (bool, int, float) and dt is None:
                    return self.value(v)
                if type(v) is bool:
                    v = "true" if v else "false"
                elif type(v) in (int, float):
                    v = str(v)
                lang = raw.get("@language")
                return _build(LiteralValue, {
                    "value": self.string(v), "datatype": self.vocab_value(dt) if type(dt) is str else None,
                    "language": lang if type(lang) is str else None}, {"value", "datatype", "language"})
            if "@id" in raw and raw.keys() <= _REF_KEYS:
                iri_ = _expand_iri_uncached(self.ctx, self.string(raw["@id"]), vocab=False)
                return _build(IRIValue, {"id": iri_}, {"id"})
        raise _Bail


def read_fast(root: dict[str, Any], form: str, limits: Limits) -> Policy | None:
    """The policy in a DSP / EDC compact document, or None when the general reader must decide."""
    try:
        ctx = base_context(form)
        if "@context" in root:
            ctx = _process_context(ctx, root["@context"])
        return _Fast(_terms(ctx), limits).policy(root, root=True)
    except (_Bail, RecursionError):
        return None
    except Exception:   # noqa: BLE001 - anything unexpected: the general reader gives the reason
        return None
