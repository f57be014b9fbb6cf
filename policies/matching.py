"""Is the policy in a contract request the offered one?

Both policies are reduced to a canonical meaning: policy-level target/assigner/assignee/action are
pushed into the rules, nested ``and`` (and a rule's implicit conjunction) are flattened, ``and`` /
``or`` / ``xone`` members are order-free while ``andSequence`` keeps its order, rightOperand
values are read as the operand's type (``"P365D"`` and ``{"@value": "P365D", "@type":
"xsd:duration"}`` are the same; country codes and data-space names ignore case), and uids of
rules and constraints are ignored. Anything else that differs is a mismatch, so a consumer cannot
drop or weaken a constraint, duty or prohibition on the way into an agreement.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .errors import PolicyError
from .model import Action, Constraint, ConstraintNode, LogicalConstraint, Policy
from .operands import OperandRegistry, default_registry
from .vocab import compact_iri


class MatchResult(NamedTuple):
    ok: bool
    reason: str

    def __bool__(self) -> bool:
        return self.ok


class _Canon:
    def __init__(self, registry: OperandRegistry, ignore_assignee: bool) -> None:
        self.registry = registry
        self.ignore_assignee = ignore_assignee

    def value_set(self, c: Constraint) -> Any:
        defn = self.registry.get(c.left_operand)
        if defn is not None and not c.right_operand_reference:
            try:
                vals = self.registry.right_values(defn, c, "")
            except PolicyError:
                vals = tuple(str(v) for v in c.right_operand)
        else:
            vals = tuple(str(v) for v in c.right_operand)
        return frozenset(vals)

    def atom(self, c: Constraint) -> tuple[Any, ...]:
        op = c.operator
        if op == "isAnyOf" and len(c.right_operand) == 1:
            op = "eq"  # "isAnyOf [x]" and "eq x" mean the same
        return ("c", c.left_operand, op, self.value_set(c), c.right_operand_reference, c.unit, c.data_type)

    def node(self, n: ConstraintNode) -> tuple[Any, ...]:
        if isinstance(n, Constraint):
            return self.atom(n)
        if n.operator == "andSequence":
            return ("andSequence", tuple(self.node(m) for m in n.constraints))
        if n.operator == "and":
            members = self.conj(n.constraints)
        else:
            members = frozenset(self.node(m) for m in n.constraints)
        if len(members) == 1 and n.operator != "xone":
            return next(iter(members))
        return (n.operator, members)

    def conj(self, nodes: tuple[ConstraintNode, ...]) -> frozenset[Any]:
        out: set[Any] = set()
        for n in nodes:
            c = self.node(n)
            if c[0] == "and":
                out |= c[1]
            else:
                out.add(c)
        return frozenset(out)

    def action(self, a: Action) -> tuple[Any, ...]:
        return (a.iri, self.conj(a.refinements))

    def rule(self, kind: str, r: Any, p: Policy) -> tuple[Any, ...]:
        assignee = None if self.ignore_assignee else (r.assignee or p.assignee)
        duties = frozenset(self.rule("duty", d, p) for d in (*getattr(r, "duties", ()), *getattr(r, "remedies", ()),
                                                             *getattr(r, "consequences", ())))
        return (kind, frozenset(self.action(a) for a in (r.actions or p.actions)), r.target or p.target,
                r.assigner or p.assigner, assignee, self.conj(r.constraints), duties)

    def policy(self, p: Policy) -> dict[tuple[Any, ...], str]:
        out: dict[tuple[Any, ...], str] = {}
        for kind, rules in (("permission", p.permissions), ("prohibition", p.prohibitions),
                            ("obligation", p.obligations)):
            for i, r in enumerate(rules):
                out.setdefault(self.rule(kind, r, p), _describe(kind, i, r, p))
        return out


def _describe(kind: str, i: int, r: Any, p: Policy) -> str:
    acts = ", ".join(compact_iri(a.iri) for a in (r.actions or p.actions))
    cons = "; ".join(_describe_node(c) for c in r.constraints)
    duties = [compact_iri(d.actions[0].iri) + (f"({'; '.join(_describe_node(c) for c in d.constraints)})"
                                               if d.constraints else "")
              for d in getattr(r, "duties", ()) if d.actions]
    text = f"{kind}[{i}] {acts}"
    if cons:
        text += f" when {cons}"
    if duties:
        text += f" with duties {', '.join(duties)}"
    return text


def _describe_node(n: ConstraintNode) -> str:
    if isinstance(n, LogicalConstraint):
        return f"{n.operator}(" + ", ".join(_describe_node(m) for m in n.constraints) + ")"
    right = ", ".join(str(v) for v in n.right_operand) or f"@{n.right_operand_reference}"
    return f"{compact_iri(n.left_operand)} {n.operator} {right}"


def offers_match(offered: Policy, requested: Policy, *, registry: OperandRegistry | None = None,
                 require_same_uid: bool = False) -> MatchResult:
    """ok when ``requested`` means exactly what ``offered`` means (assignee may be filled in)."""
    if require_same_uid and offered.uid != requested.uid:
        return MatchResult(False, f"requested offer {requested.uid!r} is not the offered {offered.uid!r}")
    for name in ("target", "assigner"):
        a, b = getattr(offered, name), getattr(requested, name)
        if a != b:
            return MatchResult(False, f"{name} differs: offered {a!r}, requested {b!r}")
    if offered.assignee is not None and requested.assignee != offered.assignee:
        return MatchResult(False, f"assignee differs: offered {offered.assignee!r}, requested {requested.assignee!r}")
    if (offered.conflict or "invalid") != (requested.conflict or "invalid"):
        return MatchResult(False, f"conflict strategy differs: offered {offered.conflict}, requested {requested.conflict}")
    if set(offered.profiles) != set(requested.profiles):
        return MatchResult(False, "ODRL profiles differ")
    canon = _Canon(registry or default_registry(), ignore_assignee=offered.assignee is None)
    want, got = canon.policy(offered), canon.policy(requested)
    missing = [desc for key, desc in want.items() if key not in got]
    extra = [desc for key, desc in got.items() if key not in want]
    if missing or extra:
        parts = []
        if missing:
            parts.append("the request lacks or changes offered " + " | ".join(missing))
        if extra:
            parts.append("the request has rules the offer does not: " + " | ".join(extra))
        return MatchResult(False, "; ".join(parts))
    return MatchResult(True, "the requested policy is the offered one")
