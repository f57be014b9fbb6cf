"""evaluate(policy, request, facts, scope) -> Decision.

A policy is compiled once per (registry, scope) into closures and cached on the policy object, so
a decision is a walk over precomputed checks. Semantics (see docs/policies.md):

* a permission grants when its action covers the requested one (``read`` is included in
  ``use``), its target and assignee match, every constraint and action refinement holds, and
  its duties allow it;
* a duty with a deadline (``elapsedTime`` / ``dateTime`` ``lt``/``lteq``/``eq``) is an
  obligation after use: it is returned in ``Decision.duties`` and only blocks when recorded as
  violated; any other duty is a precondition that must be recorded as fulfilled before a
  transfer-scope use (in catalog and negotiation scope it is listed, not enforced); a duty's
  other constraints decide whether it applies at all;
* an applicable prohibition whose constraints hold denies, unless the policy's ``conflict``
  strategy is ``perm`` (default ``invalid``: any conflict voids the policy);
* anything unknown fails closed with a reason.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Callable, NamedTuple, Sequence

from .errors import PolicyError, PolicySyntaxError
from .facts import SCOPES, Facts, Request, Scope
from .inheritance import resolve_inheritance
from .model import Constraint, ConstraintNode, Duty, Permission, Policy, Prohibition
from .operands import OperandDef, OperandRegistry, TimeSpan, default_registry
from .vocab import action_ancestors, compact_iri

_default = default_registry

__all__ = [
    "ApplicableDuty", "Check", "Decision", "Facts", "Request", "Scope", "compile_policy", "evaluate",
    "resolve_inheritance",
]


class Check(NamedTuple):
    """One rule or constraint that was looked at, with its outcome and a sentence saying why."""

    subject: str    # where in the policy, e.g. "permission[0].constraint[0].and[2]"
    label: str      # what, e.g. "odrl:spatial isAnyOf [JP, TW]"
    outcome: str    # satisfied | not-satisfied | active | inactive | not-applicable | fulfilled | pending | violated
    reason: str


@dataclass(frozen=True, slots=True)
class ApplicableDuty:
    """A duty that now applies to the counter-party."""

    action: str
    rule: str
    uid: str | None
    target: str | None
    precondition: bool
    within: timedelta | None = None
    due: datetime | None = None
    state: str | None = None

    @property
    def description(self) -> str:
        what = compact_iri(self.action)
        if self.target:
            what += f" {self.target}"
        if self.within is not None:
            span = f"{self.within.days} days" if not self.within.seconds else str(self.within)
            return f"{what} within {span}" + (f" (by {self.due.isoformat()})" if self.due else "")
        if self.due is not None:
            return f"{what} by {self.due.isoformat()}"
        return f"{what} before use" if self.precondition else what


class Decision:
    """permitted, every check made (rule and constraint, outcome, reason), the duties that now
    apply, and one human-readable reason per failure (empty when permitted)."""

    __slots__ = ("permitted", "scope", "reasons", "_trace", "_checks", "_duties", "_pending")

    def __init__(self, permitted: bool, scope: str, trace: list[tuple[str, str, str, str]],
                 duties: list[ApplicableDuty], reasons: list[str]) -> None:
        self.permitted = permitted
        self.scope = scope
        self.reasons = reasons
        self._trace = trace
        self._checks: list[Check] | None = None
        self._duties: list[ApplicableDuty] | None = duties
        self._pending: tuple[Facts, list[tuple[_CDuty, str | None]]] | None = None

    @classmethod
    def _lazy(cls, permitted: bool, scope: str, trace: Trace, facts: Facts,
              pending: list[tuple["_CDuty", str | None]], reasons: list[str]) -> "Decision":
        # The hot path: duties stay (compiled duty, state) pairs until someone reads them.
        d = cls.__new__(cls)
        d.permitted, d.scope, d.reasons, d._trace, d._checks = permitted, scope, reasons, trace, None
        d._duties, d._pending = (None, (facts, pending)) if pending else ([], None)
        return d

    @property
    def checks(self) -> list[Check]:
        # Built on first access: the hot path records plain tuples.
        if self._checks is None:
            self._checks = [Check(*t) for t in self._trace]
        return self._checks

    @property
    def duties(self) -> list[ApplicableDuty]:
        if self._duties is None:
            facts, pending = self._pending  # type: ignore[misc]
            self._duties = [_make_duty(d, facts, state) for d, state in pending]
            self._pending = None
        return self._duties

    def __bool__(self) -> bool:
        return self.permitted

    def __repr__(self) -> str:
        return f"Decision(permitted={self.permitted}, scope={self.scope!r}, reasons={self.reasons!r})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form for logs and the audit record."""
        return {
            "permitted": self.permitted, "scope": self.scope,
            "checks": [c._asdict() for c in self.checks],
            "duties": [{"action": d.action, "rule": d.rule, "uid": d.uid, "target": d.target,
                        "precondition": d.precondition, "description": d.description,
                        "due": d.due.isoformat() if d.due else None,
                        "within_seconds": d.within.total_seconds() if d.within else None,
                        "state": d.state} for d in self.duties],
            "reasons": list(self.reasons),
        }


# --------------------------------------------------------------------------------------------
# Compilation (scope-independent; the scope is checked per operand at evaluation time)

Trace = list[tuple[str, str, str, str]]
Runner = Callable[[Request, Facts, str, Trace], "str | None"]   # None = satisfied, else the reason
_MISSING = object()


def _fmt_one(v: Any) -> str:
    t = type(v)
    if t is str:
        return v
    if t is TimeSpan:
        return v.start.date().isoformat() if not v.is_point else v.start.isoformat()
    if isinstance(v, timedelta):
        return f"{v.days} days" if not v.seconds else str(v)
    return str(v)


def _fmt(values: Sequence[Any]) -> str:
    return _fmt_one(values[0]) if len(values) == 1 else "[" + ", ".join(map(_fmt_one, values)) + "]"


def _span_test(op: str, span: TimeSpan) -> Callable[[datetime], bool]:
    s, e, point = span.start, span.end, span.is_point
    if op == "lt":
        return lambda t: t < s
    if op == "lteq":
        return (lambda t: t <= s) if point else (lambda t: t < e)
    if op == "gt":
        return (lambda t: t > s) if point else (lambda t: t >= e)
    if op == "gteq":
        return lambda t: t >= s
    eq = (lambda t: t == s) if point else (lambda t: s <= t < e)
    return eq if op == "eq" else (lambda t: not eq(t))


def _predicate(defn: OperandDef, op: str, right: tuple[Any, ...]) -> Callable[[Any, Facts], bool]:
    """A test of the left value (scalar, or frozenset when the operand is multi-valued)."""
    r0 = right[0]
    if isinstance(r0, TimeSpan):
        test = _span_test(op, r0)
        return lambda v, f: test(v)
    rset = frozenset(right)
    if op == "isA":
        return lambda v, f: any(x == r0 or r0 in f.instance_of.get(x, ()) for x in (v if defn.multi else (v,)))
    if op == "isPartOf":
        return lambda v, f: any(x == r0 or r0 in f.part_of.get(x, ()) for x in (v if defn.multi else (v,)))
    if op == "hasPart":
        return lambda v, f: any(x == r0 or x in f.part_of.get(r0, ()) for x in (v if defn.multi else (v,)))
    if defn.multi:
        if op == "eq":
            return lambda s, f: r0 in s
        if op == "neq":
            return lambda s, f: r0 not in s
        if op == "isAnyOf":
            return lambda s, f: not s.isdisjoint(rset)
        if op == "isNoneOf":
            return lambda s, f: s.isdisjoint(rset)
        if op == "isAllOf":
            return lambda s, f: rset <= s
    else:
        if op == "eq":
            return lambda v, f: v == r0
        if op == "neq":
            return lambda v, f: v != r0
        if op == "lt":
            return lambda v, f: v < r0
        if op == "lteq":
            return lambda v, f: v <= r0
        if op == "gt":
            return lambda v, f: v > r0
        if op == "gteq":
            return lambda v, f: v >= r0
        if op == "isAnyOf":
            return lambda v, f: v in rset
        if op == "isNoneOf":
            return lambda v, f: v not in rset
        if op == "isAllOf":
            return lambda v, f: rset == {v}
    raise PolicySyntaxError(f"operator {op} is not supported for {defn.label}")


def _describe_left(defn: OperandDef, left: Any) -> str:
    if defn.multi:
        return f"{defn.label} is {{{', '.join(sorted(map(str, left)))}}}" if left else f"{defn.label}: {defn.missing}"
    if isinstance(left, datetime):
        return f"{defn.label} is {left.isoformat()}"
    if isinstance(left, timedelta):
        return f"{defn.label} is {_fmt([left])}"
    return f"{defn.label} is {left}"


_RESOLVERS: dict[int, tuple[OperandDef, Callable[[Request, Facts], Any]]] = {}


def _resolver(defn: OperandDef) -> Callable[[Request, Facts], Any]:
    """Multi-valued operands build sets from credentials: memoise them per Facts object.

    One wrapper per operand definition, shared by every compiled policy that uses it."""
    resolve = defn.resolve
    if not defn.multi:
        return resolve
    hit = _RESOLVERS.get(id(defn))
    if hit is None or hit[0] is not defn:
        if len(_RESOLVERS) > 4096:
            _RESOLVERS.clear()
        hit = _RESOLVERS[id(defn)] = (defn, _memoised(defn))
    return hit[1]


def _memoised(defn: OperandDef) -> Callable[[Request, Facts], Any]:
    resolve, iri_ = defn.resolve, defn.iri

    def memo(req: Request, facts: Facts) -> Any:
        cache = facts.memo
        v = cache.get(iri_, _MISSING)
        if v is _MISSING:
            v = cache[iri_] = resolve(req, facts)
        return v
    return memo


# Failure paths of an atomic constraint (kept out of the per-atom closures: compiling is cheaper).
_AtomInfo = tuple  # (subject, label, operand definition, trace entry when "no value" satisfies, or None)


def _out_of_scope(info: _AtomInfo, scopes: frozenset[str], scope: str, trace: Trace) -> str:
    subject, label, defn, _none = info
    bound = ", ".join(s for s in SCOPES if s in scopes)
    why = f"{label}: {defn.label} cannot be evaluated in {scope} scope (bound to {bound}); failing closed"
    trace.append((subject, label, "not-satisfied", why))
    return why


def _unknown(info: _AtomInfo, trace: Trace) -> str | None:
    subject, label, defn, none_entry = info
    if none_entry is not None:
        trace.append(none_entry)
        return None
    why = f"{label}: {defn.missing}"
    trace.append((subject, label, "not-satisfied", why))
    return why


def _failed(info: _AtomInfo, left: Any, trace: Trace) -> str:
    subject, label, defn, _none = info
    why = f"{label}: {_describe_left(defn, left)}"
    trace.append((subject, label, "not-satisfied", why))
    return why


class _Compiler:
    def __init__(self, registry: OperandRegistry) -> None:
        self.registry = registry

    def atom(self, c: Constraint, subject: str) -> Runner:
        defn, right = self.registry.checked(c, subject)
        ref = c.right_operand_reference
        label = f"{defn.label} {c.operator} {_fmt(right) if right else '@' + str(ref)}"
        scopes = defn.scopes
        resolve, op, multi = _resolver(defn), c.operator, defn.multi
        none_ok = op == "isNoneOf"
        ok_entry = (subject, label, "satisfied", "satisfied")
        info = (subject, label, defn,
                (subject, label, "satisfied", "satisfied (no value, so none of them)") if none_ok else None)

        if ref:
            def by_reference(req: Request, facts: Facts, scope: str, trace: Trace) -> str | None:
                if scope not in scopes:
                    return _out_of_scope(info, scopes, scope, trace)
                raw = facts.values.get(ref)
                if raw is None:
                    why = f"{label}: rightOperandReference {ref} was not resolved (no value in Facts.values)"
                    trace.append((subject, label, "not-satisfied", why))
                    return why
                try:
                    vals = tuple(defn.kind.parse(str(v)) for v in (raw if isinstance(raw, (list, tuple)) else [raw]))
                    if not vals:
                        raise ValueError("no value")
                except ValueError as exc:
                    why = f"{label}: referenced value is invalid: {exc}"
                    trace.append((subject, label, "not-satisfied", why))
                    return why
                pred = _predicate(defn, op, vals)
                left = resolve(req, facts)
                if left is None and not multi:
                    return _unknown(info, trace)
                try:
                    ok = pred(left, facts)
                except TypeError:
                    ok = False
                if ok:
                    trace.append(ok_entry)
                    return None
                return _failed(info, left, trace)
            return by_reference

        pred = _predicate(defn, op, right)
        if multi:
            # A multi-valued operand always resolves to a (possibly empty) set.
            def run_multi(req: Request, facts: Facts, scope: str, trace: Trace) -> str | None:
                if scope not in scopes:
                    return _out_of_scope(info, scopes, scope, trace)
                left = resolve(req, facts)
                try:
                    ok = pred(left, facts)
                except TypeError:
                    ok = False
                if ok:
                    trace.append(ok_entry)
                    return None
                return _failed(info, left, trace)
            return run_multi

        def run(req: Request, facts: Facts, scope: str, trace: Trace) -> str | None:
            if scope not in scopes:
                return _out_of_scope(info, scopes, scope, trace)
            left = resolve(req, facts)
            if left is None:
                return _unknown(info, trace)
            try:
                ok = pred(left, facts)
            except TypeError:
                ok = False
            if ok:
                trace.append(ok_entry)
                return None
            return _failed(info, left, trace)
        return run

    def node(self, n: ConstraintNode, subject: str) -> Runner:
        if isinstance(n, Constraint):
            return self.atom(n, subject)
        members = [self.node(m, f"{subject}.{n.operator}[{i}]") for i, m in enumerate(n.constraints)]
        op, label = n.operator, f"{n.operator} of {len(members)}"
        ok_entry = (subject, label, "satisfied", "satisfied")

        if op == "and":
            def run_and(req: Request, facts: Facts, scope: str, trace: Trace) -> str | None:
                fails: list[str] | None = None
                for m in members:
                    why = m(req, facts, scope, trace)
                    if why is not None:
                        if fails is None:
                            fails = [why]
                        else:
                            fails.append(why)
                if fails is None:
                    trace.append(ok_entry)
                    return None
                why = "; ".join(fails)
                trace.append((subject, label, "not-satisfied", why))
                return why
            return run_and

        def run(req: Request, facts: Facts, scope: str, trace: Trace) -> str | None:
            fails: list[str] = []
            for m in members:
                why = m(req, facts, scope, trace)
                if why is not None:
                    fails.append(why)
                    if op == "andSequence":
                        break
            passed = len(members) - len(fails) if op != "andSequence" or not fails else 0
            if op == "andSequence":
                why = None if not fails else "; ".join(fails)
            elif op == "or":
                why = None if passed else "none of the alternatives holds: " + "; ".join(fails)
            else:
                why = None if passed == 1 else (
                    f"exactly one alternative must hold, {passed} do" if passed else
                    "exactly one alternative must hold, none does: " + "; ".join(fails))
            trace.append(ok_entry if why is None else (subject, label, "not-satisfied", why))
            return why
        return run

    def nodes(self, ns: Sequence[ConstraintNode], subject: str) -> list[Runner]:
        return [self.node(n, f"{subject}[{i}]") for i, n in enumerate(ns)]

    def duty(self, d: Duty, subject: str, policy: Policy, parent: Any) -> "_CDuty":
        actions = d.actions or policy.actions
        if len(actions) != 1:
            raise PolicySyntaxError(f"a duty names exactly one action, got {len(actions)}", path=subject)
        conditions: list[Runner] = []
        within: timedelta | None = None
        by: datetime | None = None
        for i, c in enumerate(d.constraints):
            sub = f"{subject}.constraint[{i}]"
            if isinstance(c, Constraint):
                defn, right = self.registry.checked(c, sub)
                if defn.timing and c.operator in ("lt", "lteq", "eq") and right:
                    v = right[0]
                    if isinstance(v, timedelta):
                        within = v if within is None else min(within, v)
                    elif isinstance(v, TimeSpan):
                        end = v.start if (c.operator == "lt" or v.is_point) else v.end
                        by = end if by is None else min(by, end)
                    continue
            conditions.append(self.node(c, sub))
        act = actions[0]
        for j, c in enumerate(d.consequences):
            self.duty(c, f"{subject}.consequence[{j}]", policy, d)   # validated; listed, not enforced
        return _CDuty(subject=subject, uid=d.uid, action=act.iri, label=_short(act.iri),
                      target=d.target or (parent.target if parent is not None else None) or policy.target,
                      conditions=conditions, within=within, by=by,
                      refinements=self.nodes(act.refinements, f"{subject}.action.refinement"),
                      precondition=within is None and by is None)

    def rule(self, kind: str, i: int, r: Any, policy: Policy) -> "_CRule":
        subject = f"{kind}[{i}]"
        actions = r.actions or policy.actions
        if not actions:
            raise PolicySyntaxError("rule names no action", path=subject)
        target = r.target or policy.target
        assignee = r.assignee or policy.assignee
        names = ", ".join(_short(a.iri) for a in actions)
        label = f"{kind} {names}" + (f" on {target}" if target else "")
        refinements = {a.iri: self.nodes(a.refinements, f"{subject}.action[{j}].refinement")
                       for j, a in enumerate(actions) if a.refinements}
        duties = [self.duty(d, f"{subject}.duty[{j}]", policy, r)
                  for j, d in enumerate(r.duties if isinstance(r, Permission) else ())]
        for j, d in enumerate(r.remedies if isinstance(r, Prohibition) else ()):
            self.duty(d, f"{subject}.remedy[{j}]", policy, r)   # validated; remedies are not enforced
        return _CRule(kind, subject, label, r.uid, frozenset(a.iri for a in actions), target, assignee,
                      self.nodes(r.constraints, f"{subject}.constraint"), refinements, duties)


@dataclass(slots=True)
class _CDuty:
    subject: str
    uid: str | None
    action: str
    label: str
    target: str | None
    conditions: list[Runner]
    within: timedelta | None
    by: datetime | None
    refinements: list[Runner]
    precondition: bool = False   # no deadline: must be fulfilled before a transfer-scope use


@dataclass(slots=True)
class _CRule:
    kind: str
    subject: str
    label: str
    uid: str | None
    actions: frozenset[str]
    target: str | None
    assignee: str | None
    constraints: list[Runner]
    refinements: dict[str, list[Runner]]
    duties: list[_CDuty]


@dataclass(slots=True)
class CompiledPolicy:
    # A weak reference: the compiled form is cached on the policy, and a strong one would make
    # every parsed policy a reference cycle that only the cyclic garbage collector can free.
    policy_ref: Callable[[], Policy | None]
    conflict: str
    permissions: list[_CRule]
    prohibitions: list[_CRule]
    obligations: list[_CDuty]
    registry: OperandRegistry | None = None

    @property
    def policy(self) -> Policy | None:
        return self.policy_ref()


def _cache_of(policy: Policy) -> dict[Any, Any]:
    """The compiled-form cache on ``policy`` (read from the private slot: attribute access on a
    pydantic private attribute goes through ``BaseModel.__getattr__``, which costs a microsecond)."""
    try:
        return policy.__pydantic_private__["_compiled"]  # type: ignore[index]
    except (TypeError, KeyError):
        return policy._compiled


def compile_policy(policy: Policy, *, registry: OperandRegistry | None = None,
                   scope: Scope | None = None) -> CompiledPolicy:
    """Validate and compile ``policy`` once (cached on the object); raises PolicyError with a reason.

    ``scope`` is accepted for symmetry with evaluate; compiled policies serve every scope.
    """
    registry = registry or _default()
    key = (id(registry), registry.generation)
    cache = _cache_of(policy)
    cached = cache.get(key)
    if cached is not None and cached.registry is registry:
        return cached
    comp = _Compiler(registry)
    for j, a in enumerate(policy.actions):
        comp.nodes(a.refinements, f"policy.action[{j}].refinement")
    compiled = CompiledPolicy(
        weakref.ref(policy), policy.conflict or "invalid",
        [comp.rule("permission", i, r, policy) for i, r in enumerate(policy.permissions)],
        [comp.rule("prohibition", i, r, policy) for i, r in enumerate(policy.prohibitions)],
        [comp.duty(d, f"obligation[{i}]", policy, None) for i, d in enumerate(policy.obligations)],
    )
    compiled.registry = registry
    cache[key] = compiled
    return compiled


# --------------------------------------------------------------------------------------------
# Evaluation


@lru_cache(maxsize=1024)
def _ancestors(action: str) -> frozenset[str]:
    return frozenset(action_ancestors(action))


@lru_cache(maxsize=1024)
def _short(iri_: str) -> str:
    return compact_iri(iri_)


def _matches(rule_value: str | None, asked: str | None, facts: Facts) -> bool:
    if rule_value is None or asked is None or rule_value == asked:
        return True
    return rule_value in facts.part_of.get(asked, ())


def _duty_state(d: _CDuty, states: Any) -> str | None:
    return states.get(d.uid or "") or states.get(d.action) or states.get(d.label.removeprefix("odrl:"))


def _run_all(runners: list[Runner], req: Request, facts: Facts, scope: str, trace: Trace,
             reasons: list[str]) -> bool:
    ok = True
    for r in runners:
        why = r(req, facts, scope, trace)
        if why is not None:
            ok = False
            reasons.append(why)
    return ok


def _duty_applies(d: _CDuty, req: Request, facts: Facts, scope: str, trace: Trace) -> bool:
    return _run_all(d.conditions, req, facts, scope, trace, [])


def _make_duty(d: _CDuty, facts: Facts, state: str | None) -> ApplicableDuty:
    due = d.by
    if d.within is not None:
        start = facts.agreement_start or facts.now
        due = start + d.within if due is None else min(due, start + d.within)
    return ApplicableDuty(d.action, d.subject, d.uid, d.target, d.precondition, d.within, due, state)


def evaluate(policy: Policy, request: Request, facts: Facts, *, scope: Scope,
             registry: OperandRegistry | None = None) -> Decision:
    """Decide whether ``request`` is permitted under ``policy`` given ``facts`` in ``scope``."""
    if scope not in SCOPES:
        raise PolicyError(f"unknown scope {scope!r}; expected one of {', '.join(SCOPES)}")
    reg = registry or _default()
    cp = _cache_of(policy).get((id(reg), reg.generation))
    if cp is None or cp.registry is not reg:
        cp = compile_policy(policy, registry=reg)
    trace: Trace = []
    pending: list[tuple[_CDuty, str | None]] = []
    reasons: list[str] = []
    asked = _ancestors(request.action)
    asked_target = request.target
    party = request.party or facts.party_id
    enforce_pre = scope == "transfer"
    part_of = facts.part_of
    states = facts.duty_states

    granted = False
    applicable = 0
    for rule in cp.permissions:
        if rule.actions.isdisjoint(asked):
            trace.append((rule.subject, rule.label, "not-applicable", f"does not cover {_short(request.action)}"))
            continue
        t = rule.target
        if t is not None and asked_target is not None and t != asked_target \
                and t not in part_of.get(asked_target, ()):
            trace.append((rule.subject, rule.label, "not-applicable", f"target is not {request.target}"))
            continue
        if rule.assignee is not None and (party is None or not _matches(rule.assignee, party, facts)):
            trace.append((rule.subject, rule.label, "not-applicable",
                          f"granted to {rule.assignee}, not to {party or 'an unidentified party'}"))
            continue
        applicable += 1
        local: list[str] = []
        ok = True
        for r in rule.constraints:
            why = r(request, facts, scope, trace)
            if why is not None:
                ok = False
                local.append(why)
        if rule.refinements:
            for a in rule.actions & asked:
                if a in rule.refinements:
                    ok = _run_all(rule.refinements[a], request, facts, scope, trace, local) and ok
        rule_duties: list[tuple[_CDuty, str | None]] = []
        for d in rule.duties:
            if d.conditions and not _duty_applies(d, request, facts, scope, trace):
                trace.append((d.subject, d.label, "inactive", "its conditions do not hold"))
                continue
            state = _duty_state(d, states) if states else None
            if state == "violated":
                ok = False
                local.append(f"duty {d.label} ({d.subject}) was violated")
                trace.append((d.subject, d.label, "violated", local[-1]))
                continue
            if d.precondition and enforce_pre and state != "fulfilled":
                ok = False
                local.append(f"duty {d.label} ({d.subject}) must be fulfilled before "
                             f"{_short(request.action)}; its state is {state or 'not set'}")
                trace.append((d.subject, d.label, "pending", local[-1]))
                continue
            if state is None:
                trace.append((d.subject, d.label, "active", "applies"))
                rule_duties.append((d, None))
            else:
                trace.append((d.subject, d.label, state, "fulfilled" if state == "fulfilled" else "applies"))
                if state != "fulfilled":
                    rule_duties.append((d, state))
        if ok:
            granted = True
            pending.extend(rule_duties)
            trace.append((rule.subject, rule.label, "active", "all constraints and duties allow it"))
        else:
            reasons.extend(f"{rule.subject} ({rule.label}): {r}" for r in local)
            trace.append((rule.subject, rule.label, "inactive", "; ".join(local)))

    prohibited = False
    for rule in cp.prohibitions:
        # A prohibition applies when the requested action is (included in) the prohibited one.
        if rule.actions.isdisjoint(asked) or not _matches(rule.target, asked_target, facts):
            trace.append((rule.subject, rule.label, "not-applicable", f"does not cover {_short(request.action)}"))
            continue
        if rule.assignee is not None and party is not None and not _matches(rule.assignee, party, facts):
            trace.append((rule.subject, rule.label, "not-applicable", f"applies to {rule.assignee} only"))
            continue
        local = []
        holds = _run_all(rule.constraints, request, facts, scope, trace, local)
        if rule.refinements:
            for a in rule.actions & asked:
                if a in rule.refinements:
                    holds = _run_all(rule.refinements[a], request, facts, scope, trace, local) and holds
        if holds:
            prohibited = True
            trace.append((rule.subject, rule.label, "active", f"{_short(request.action)} is prohibited"))
        else:
            trace.append((rule.subject, rule.label, "inactive", "; ".join(local)))

    obligation_violated = False
    for d in cp.obligations:
        if d.conditions and not _duty_applies(d, request, facts, scope, trace):
            trace.append((d.subject, d.label, "inactive", "its conditions do not hold"))
            continue
        state = _duty_state(d, states) if states else None
        if state == "violated":
            obligation_violated = True
            reasons.append(f"obligation {d.label} ({d.subject}) was violated")
            trace.append((d.subject, d.label, "violated", reasons[-1]))
        else:
            trace.append((d.subject, d.label, state or "active", "applies"))
            if state != "fulfilled":
                pending.append((d, state))

    permitted = granted and not obligation_violated
    if prohibited:
        if granted and cp.conflict == "perm":
            trace.append(("policy", "conflict perm", "active", "the permission overrides the prohibition"))
        elif granted and cp.conflict == "invalid":
            permitted = False
            reasons.append("a permission and a prohibition both apply and the conflict strategy is "
                           "'invalid': the policy is void")
        else:
            permitted = False
            reasons.append(f"{_short(request.action)} is prohibited")
    if not applicable:
        reasons.append(f"no permission covers {_short(request.action)}"
                       + (f" on {request.target}" if request.target else "")
                       + (f" for {party}" if party else ""))
    if permitted:
        return Decision._lazy(True, scope, trace, facts, pending, [])
    return Decision._lazy(False, scope, trace, facts, [], reasons)
