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

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Callable, NamedTuple, Sequence

from .errors import PolicyError
from .facts import SCOPES, DutyState, Facts, Request, Scope
from .inheritance import resolve_inheritance
from .model import Action, Constraint, ConstraintNode, Duty, LogicalConstraint, Policy
from .operands import ORDER_OPS, OperandDef, OperandRegistry, TimeSpan, default_registry
from .vocab import ODRL, action_ancestors, compact_iri

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


@dataclass(slots=True)
class Decision:
    permitted: bool
    scope: str
    checks: list[Check] = field(default_factory=list)
    duties: list[ApplicableDuty] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.permitted

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
# Compilation

Outcome = tuple[bool, str]
Runner = Callable[[Request, Facts, list[Check]], Outcome]


def _fmt(values: Sequence[Any]) -> str:
    def one(v: Any) -> str:
        if isinstance(v, TimeSpan):
            return v.start.date().isoformat() if not v.is_point else v.start.isoformat()
        return str(v)
    return one(values[0]) if len(values) == 1 else "[" + ", ".join(one(v) for v in values) + "]"


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
    rset = frozenset(right) if not isinstance(right[0], TimeSpan) else frozenset()
    r0 = right[0]
    if defn.multi:
        table: dict[str, Callable[[Any, Facts], bool]] = {
            "eq": lambda s, f: r0 in s,
            "neq": lambda s, f: r0 not in s,
            "isAnyOf": lambda s, f: not s.isdisjoint(rset),
            "isNoneOf": lambda s, f: s.isdisjoint(rset),
            "isAllOf": lambda s, f: rset <= s,
            "isA": lambda s, f: any(v == r0 or r0 in f.instance_of.get(v, ()) for v in s),
            "isPartOf": lambda s, f: any(v == r0 or r0 in f.part_of.get(v, ()) for v in s),
            "hasPart": lambda s, f: any(v == r0 or v in f.part_of.get(r0, ()) for v in s),
        }
        return table[op]
    if isinstance(r0, TimeSpan):
        test = _span_test(op, r0)
        return lambda v, f: test(v)
    table = {
        "eq": lambda v, f: v == r0,
        "neq": lambda v, f: v != r0,
        "lt": lambda v, f: v < r0,
        "lteq": lambda v, f: v <= r0,
        "gt": lambda v, f: v > r0,
        "gteq": lambda v, f: v >= r0,
        "isAnyOf": lambda v, f: v in rset,
        "isNoneOf": lambda v, f: v not in rset,
        "isAllOf": lambda v, f: rset == {v},
        "isA": lambda v, f: v == r0 or r0 in f.instance_of.get(v, ()),
        "isPartOf": lambda v, f: v == r0 or r0 in f.part_of.get(v, ()),
        "hasPart": lambda v, f: v == r0 or v in f.part_of.get(r0, ()),
    }
    return table[op]


def _describe_left(defn: OperandDef, left: Any) -> str:
    if defn.multi:
        return f"{defn.label} is {{{', '.join(sorted(map(str, left)))}}}" if left else f"{defn.label} has no values"
    if isinstance(left, datetime):
        return f"{defn.label} is {left.isoformat()}"
    return f"{defn.label} is {left}"


class _Compiler:
    def __init__(self, registry: OperandRegistry, scope: Scope) -> None:
        self.registry = registry
        self.scope = scope

    def atom(self, c: Constraint, subject: str) -> Runner:
        defn = self.registry.check_constraint(c, subject)
        ref = c.right_operand_reference
        right = () if ref else self.registry.right_values(defn, c, subject)
        label = f"{defn.label} {c.operator} {_fmt(right) if right else '@' + ref}"  # type: ignore[operator]
        if self.scope not in defn.scopes:
            why = (f"{label}: {defn.label} cannot be evaluated in {self.scope} scope "
                   f"(bound to {', '.join(s for s in SCOPES if s in defn.scopes)}); failing closed")

            def out_of_scope(req: Request, facts: Facts, checks: list[Check]) -> Outcome:
                checks.append(Check(subject, label, "not-satisfied", why))
                return False, why
            return out_of_scope
        resolve, op, missing, multi = defn.resolve, c.operator, defn.missing, defn.multi
        if ref:
            registry = self.registry

            def by_reference(req: Request, facts: Facts, checks: list[Check]) -> Outcome:
                raw = facts.values.get(ref)
                if raw is None:
                    why = f"{label}: rightOperandReference {ref} was not resolved (no value in Facts.values)"
                    checks.append(Check(subject, label, "not-satisfied", why))
                    return False, why
                try:
                    vals = tuple(defn.kind.parse(str(v)) for v in (raw if isinstance(raw, (list, tuple)) else [raw]))
                except ValueError as exc:
                    why = f"{label}: referenced value is invalid: {exc}"
                    checks.append(Check(subject, label, "not-satisfied", why))
                    return False, why
                pred = _predicate(defn, op, vals)
                return _apply(pred, req, facts, checks)

            def _apply(pred: Callable[[Any, Facts], bool], req: Request, facts: Facts, checks: list[Check]) -> Outcome:
                left = resolve(req, facts)
                ok = (op == "isNoneOf") if left is None else pred(left, facts)
                why = "satisfied" if ok else f"{label}: " + (missing if left is None else _describe_left(defn, left))
                checks.append(Check(subject, label, "satisfied" if ok else "not-satisfied", why))
                return ok, why
            del registry
            return by_reference
        pred = _predicate(defn, op, right)
        none_ok = op == "isNoneOf"
        missing_why = f"{label}: {missing}"

        def run(req: Request, facts: Facts, checks: list[Check]) -> Outcome:
            left = resolve(req, facts)
            if left is None and not multi:
                if none_ok:
                    checks.append(Check(subject, label, "satisfied", "satisfied (no value, so none of them)"))
                    return True, "satisfied"
                checks.append(Check(subject, label, "not-satisfied", missing_why))
                return False, missing_why
            try:
                ok = pred(left, facts)
            except TypeError:
                ok = False
            if ok:
                checks.append(Check(subject, label, "satisfied", "satisfied"))
                return True, "satisfied"
            why = f"{label}: {_describe_left(defn, left)}"
            checks.append(Check(subject, label, "not-satisfied", why))
            return False, why
        return run

    def node(self, n: ConstraintNode, subject: str) -> Runner:
        if isinstance(n, Constraint):
            return self.atom(n, subject)
        members = [self.node(m, f"{subject}.{n.operator}[{i}]") for i, m in enumerate(n.constraints)]
        op, label = n.operator, f"{n.operator} of {len(members)}"

        def run(req: Request, facts: Facts, checks: list[Check]) -> Outcome:
            fails: list[str] = []
            passed = 0
            for m in members:
                ok, why = m(req, facts, checks)
                if ok:
                    passed += 1
                else:
                    fails.append(why)
                    if op == "andSequence":
                        break
            if op in ("and", "andSequence"):
                ok = not fails
                why = "satisfied" if ok else "; ".join(fails)
            elif op == "or":
                ok = passed > 0
                why = "satisfied" if ok else "none of the alternatives holds: " + "; ".join(fails)
            else:
                ok = passed == 1
                why = "satisfied" if ok else (
                    f"exactly one alternative must hold, {passed} do" if passed else
                    "exactly one alternative must hold, none does: " + "; ".join(fails))
            checks.append(Check(subject, label, "satisfied" if ok else "not-satisfied", why))
            return ok, why
        return run

    def nodes(self, ns: Sequence[ConstraintNode], subject: str) -> list[Runner]:
        return [self.node(n, f"{subject}[{i}]") for i, n in enumerate(ns)]

    def duty(self, d: Duty, subject: str, policy: Policy, parent: Any) -> "_CDuty":
        actions = d.actions or policy.actions
        if len(actions) != 1:
            raise PolicyError(f"a duty names exactly one action, got {len(actions)}", path=subject)
        conditions: list[Runner] = []
        within: timedelta | None = None
        by: datetime | None = None
        for i, c in enumerate(d.constraints):
            sub = f"{subject}.constraint[{i}]"
            if isinstance(c, Constraint):
                defn = self.registry.check_constraint(c, sub)
                if defn.timing and c.operator in ("lt", "lteq", "eq") and c.right_operand:
                    v = self.registry.right_values(defn, c, sub)[0]
                    if isinstance(v, timedelta):
                        within = v if within is None else min(within, v)
                    elif isinstance(v, TimeSpan):
                        end = v.start if (c.operator == "lt" or v.is_point) else v.end
                        by = end if by is None else min(by, end)
                    continue
            conditions.append(self.node(c, sub))
        act = actions[0]
        return _CDuty(subject=subject, uid=d.uid, action=act.iri,
                      target=d.target or getattr(parent, "target", None) or policy.target,
                      conditions=conditions, within=within, by=by,
                      refinements=self.nodes(act.refinements, f"{subject}.action.refinement"))

    def rule(self, kind: str, i: int, r: Any, policy: Policy) -> "_CRule":
        subject = f"{kind}[{i}]"
        actions = r.actions or policy.actions
        target = r.target or policy.target
        assignee = r.assignee or policy.assignee
        names = ", ".join(compact_iri(a.iri) for a in actions)
        label = f"{kind} {names}" + (f" on {target}" if target else "")
        refinements = {a.iri: self.nodes(a.refinements, f"{subject}.action[{j}].refinement")
                       for j, a in enumerate(actions) if a.refinements}
        duties = [self.duty(d, f"{subject}.duty[{j}]", policy, r) for j, d in enumerate(getattr(r, "duties", ()))]
        return _CRule(kind, subject, label, r.uid, frozenset(a.iri for a in actions), target, assignee,
                      self.nodes(r.constraints, f"{subject}.constraint"), refinements, duties)


@dataclass(slots=True)
class _CDuty:
    subject: str
    uid: str | None
    action: str
    target: str | None
    conditions: list[Runner]
    within: timedelta | None
    by: datetime | None
    refinements: list[Runner]

    @property
    def precondition(self) -> bool:
        return self.within is None and self.by is None


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
    policy: Policy
    scope: Scope
    conflict: str
    permissions: list[_CRule]
    prohibitions: list[_CRule]
    obligations: list[_CDuty]


def compile_policy(policy: Policy, *, scope: Scope, registry: OperandRegistry | None = None) -> CompiledPolicy:
    """Compile (and cache on the policy) for one scope; raises PolicyError for invalid policies."""
    if scope not in SCOPES:
        raise PolicyError(f"unknown scope {scope!r}; expected one of {', '.join(SCOPES)}")
    registry = registry or default_registry()
    key = (id(registry), getattr(registry, "generation", 0), scope)
    cached = policy._compiled.get(key)
    if cached is not None:
        return cached
    comp = _Compiler(registry, scope)
    compiled = CompiledPolicy(
        policy, scope, policy.conflict or "invalid",
        [comp.rule("permission", i, r, policy) for i, r in enumerate(policy.permissions)],
        [comp.rule("prohibition", i, r, policy) for i, r in enumerate(policy.prohibitions)],
        [comp.duty(d, f"obligation[{i}]", policy, None) for i, d in enumerate(policy.obligations)],
    )
    policy._compiled[key] = compiled
    return compiled


# --------------------------------------------------------------------------------------------
# Evaluation


@lru_cache(maxsize=1024)
def _ancestors(action: str) -> frozenset[str]:
    return frozenset(action_ancestors(action))


def _matches(rule_value: str | None, asked: str | None, facts: Facts) -> bool:
    if rule_value is None or asked is None:
        return True
    return rule_value == asked or rule_value in facts.part_of.get(asked, ())


def _duty_state(d: _CDuty, facts: Facts) -> DutyState | None:
    states = facts.duty_states
    if not states:
        return None
    return states.get(d.uid or "") or states.get(d.action) or states.get(compact_iri(d.action).removeprefix("odrl:"))


def _run_all(runners: list[Runner], req: Request, facts: Facts, checks: list[Check], reasons: list[str]) -> bool:
    ok = True
    for r in runners:
        good, why = r(req, facts, checks)
        if not good:
            ok = False
            reasons.append(why)
    return ok


def _duty_applies(d: _CDuty, req: Request, facts: Facts, checks: list[Check]) -> bool:
    if not d.conditions:
        return True
    scratch: list[str] = []
    return _run_all(d.conditions, req, facts, checks, scratch)


def _make_duty(d: _CDuty, facts: Facts, state: str | None) -> ApplicableDuty:
    due = d.by
    if d.within is not None:
        start = facts.agreement_start or facts.now
        due = start + d.within if due is None else min(due, start + d.within)
    return ApplicableDuty(d.action, d.subject, d.uid, d.target, d.precondition, d.within, due, state)


def evaluate(policy: Policy, request: Request, facts: Facts, *, scope: Scope,
             registry: OperandRegistry | None = None) -> Decision:
    """Decide whether ``request`` is permitted under ``policy`` given ``facts`` in ``scope``."""
    cp = compile_policy(policy, scope=scope, registry=registry)
    checks: list[Check] = []
    duties: list[ApplicableDuty] = []
    reasons: list[str] = []
    asked = _ancestors(request.action)
    party = request.party or facts.party_id
    enforce_pre = scope == "transfer"

    granted = False
    applicable = 0
    for rule in cp.permissions:
        if rule.actions.isdisjoint(asked):
            checks.append(Check(rule.subject, rule.label, "not-applicable",
                                f"does not cover {compact_iri(request.action)}"))
            continue
        if not _matches(rule.target, request.target, facts):
            checks.append(Check(rule.subject, rule.label, "not-applicable", f"target is not {request.target}"))
            continue
        if rule.assignee is not None and (party is None or not _matches(rule.assignee, party, facts)):
            checks.append(Check(rule.subject, rule.label, "not-applicable",
                                f"granted to {rule.assignee}, not to {party or 'an unidentified party'}"))
            continue
        applicable += 1
        local: list[str] = []
        ok = _run_all(rule.constraints, request, facts, checks, local)
        for a in rule.actions & asked:
            if a in rule.refinements:
                ok = _run_all(rule.refinements[a], request, facts, checks, local) and ok
        rule_duties: list[ApplicableDuty] = []
        for d in rule.duties:
            if not _duty_applies(d, request, facts, checks):
                checks.append(Check(d.subject, compact_iri(d.action), "inactive", "its conditions do not hold"))
                continue
            state = _duty_state(d, facts)
            if state == "violated":
                ok = False
                local.append(f"duty {compact_iri(d.action)} ({d.subject}) was violated")
                checks.append(Check(d.subject, compact_iri(d.action), "violated", local[-1]))
                continue
            if d.precondition and enforce_pre and state != "fulfilled":
                ok = False
                local.append(f"duty {compact_iri(d.action)} ({d.subject}) must be fulfilled before "
                             f"{compact_iri(request.action)}; its state is {state or 'not set'}")
                checks.append(Check(d.subject, compact_iri(d.action), "pending", local[-1]))
                continue
            checks.append(Check(d.subject, compact_iri(d.action), state or "active",
                                "fulfilled" if state == "fulfilled" else "applies"))
            if state != "fulfilled":
                rule_duties.append(_make_duty(d, facts, state))
        if ok:
            granted = True
            duties.extend(rule_duties)
            checks.append(Check(rule.subject, rule.label, "active", "all constraints and duties allow it"))
        else:
            reasons.extend(f"{rule.subject} ({rule.label}): {r}" for r in local)
            checks.append(Check(rule.subject, rule.label, "inactive", "; ".join(local)))

    prohibited = False
    for rule in cp.prohibitions:
        # A prohibition applies when the requested action is (included in) the prohibited one.
        if rule.actions.isdisjoint(asked) or not _matches(rule.target, request.target, facts):
            checks.append(Check(rule.subject, rule.label, "not-applicable",
                                f"does not cover {compact_iri(request.action)}"))
            continue
        if rule.assignee is not None and party is not None and not _matches(rule.assignee, party, facts):
            checks.append(Check(rule.subject, rule.label, "not-applicable", f"applies to {rule.assignee} only"))
            continue
        local = []
        holds = _run_all(rule.constraints, request, facts, checks, local)
        for a in rule.actions & asked:
            if a in rule.refinements:
                holds = _run_all(rule.refinements[a], request, facts, checks, local) and holds
        if holds:
            prohibited = True
            checks.append(Check(rule.subject, rule.label, "active", f"{compact_iri(request.action)} is prohibited"))
        else:
            checks.append(Check(rule.subject, rule.label, "inactive", "; ".join(local)))

    obligation_violated = False
    for d in cp.obligations:
        if not _duty_applies(d, request, facts, checks):
            checks.append(Check(d.subject, compact_iri(d.action), "inactive", "its conditions do not hold"))
            continue
        state = _duty_state(d, facts)
        if state == "violated":
            obligation_violated = True
            reasons.append(f"obligation {compact_iri(d.action)} ({d.subject}) was violated")
            checks.append(Check(d.subject, compact_iri(d.action), "violated", reasons[-1]))
        else:
            checks.append(Check(d.subject, compact_iri(d.action), state or "active", "applies"))
            if state != "fulfilled":
                duties.append(_make_duty(d, facts, state))

    permitted = granted and not obligation_violated
    if prohibited:
        if granted and cp.conflict == "perm":
            checks.append(Check("policy", "conflict perm", "active", "permission overrides prohibition"))
        elif granted and cp.conflict == "invalid":
            permitted = False
            reasons.append("a permission and a prohibition both apply and the conflict strategy is "
                           "'invalid': the policy is void")
        else:
            permitted = False
            reasons.append(f"{compact_iri(request.action)} is prohibited")
    if not applicable:
        reasons.append(f"no permission covers {compact_iri(request.action)}"
                       + (f" on {request.target}" if request.target else "")
                       + (f" for {party}" if party else ""))
    if not permitted:
        duties = []
    else:
        reasons = []
    return Decision(permitted, scope, checks, duties, reasons)
