"""The registry of leftOperand functions: how each operand reads the facts, which operators and
value types it accepts, and in which scopes (catalog, negotiation, transfer) it may be evaluated.

Profiles (``policies.profiles.*``) add operands with ``OperandRegistry.register``. An operand
missing from the registry is rejected when a policy is read; one registered but not bound to the
current scope compiles to a check that always fails, naming the scope.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable

from .errors import InvalidOperandValueError, UnknownOperandError, UnsupportedOperatorError, PolicySyntaxError
from .facts import SCOPES, Facts, Request, Scope
from .model import Constraint, ConstraintNode, IRIValue, LogicalConstraint, Policy, Value
from .vocab import ODRL, compact_iri

ALL_SCOPES: frozenset[str] = frozenset(SCOPES)
USAGE_SCOPES: frozenset[str] = frozenset({"negotiation", "transfer"})
TRANSFER_SCOPE: frozenset[str] = frozenset({"transfer"})

EQUALITY_OPS = frozenset({"eq", "neq", "isAnyOf", "isNoneOf"})
SET_OPS = EQUALITY_OPS | {"isAllOf"}
ORDER_OPS = frozenset({"eq", "neq", "lt", "lteq", "gt", "gteq"})
STRUCTURE_OPS = frozenset({"isA", "isPartOf", "hasPart"})
_SINGLE_OPS = ORDER_OPS | STRUCTURE_OPS


@lru_cache(maxsize=4096)
def _label(iri_: str) -> str:
    return compact_iri(iri_)


# --------------------------------------------------------------------------------------------
# Value kinds: how a rightOperand is read and compared


@dataclass(frozen=True, slots=True)
class TimeSpan:
    """A right-hand dateTime (a point) or xsd:date (the whole day)."""

    start: datetime
    end: datetime  # exclusive for days; == start for points

    @property
    def is_point(self) -> bool:
        return self.start == self.end


_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(Z|[+-]\d{2}:\d{2})?$")
_DURATION_RE = re.compile(
    r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


def _lexical(v: Value) -> str:
    return v.id if isinstance(v, IRIValue) else v.value


def parse_datetime(text: str) -> TimeSpan:
    """xsd:dateTime or xsd:date; a value without a zone is read as UTC (documented)."""
    text = text.strip()
    m = _DATE_RE.match(text)
    if m:
        tz = timezone.utc
        if m.group(4) and m.group(4) != "Z":
            sign = 1 if m.group(4)[0] == "+" else -1
            hh, mm = int(m.group(4)[1:3]), int(m.group(4)[4:6])
            tz = timezone(sign * timedelta(hours=hh, minutes=mm))
        start = datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), tzinfo=tz)
        return TimeSpan(start, start + timedelta(days=1))
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an xsd:dateTime or xsd:date") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return TimeSpan(t, t)


def parse_duration(text: str) -> timedelta:
    """xsd:duration; years count 365 days and months 30 days (documented approximation)."""
    m = _DURATION_RE.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not an xsd:duration such as P365D or PT12H")
    y, mo, w, d, h, mi, s = m.groups()
    return timedelta(days=int(y or 0) * 365 + int(mo or 0) * 30 + int(w or 0) * 7 + int(d or 0),
                     hours=int(h or 0), minutes=int(mi or 0), seconds=float(s or 0))


def _nfc(s: str) -> str:
    # ASCII text is already in NFC; skipping the normaliser keeps the per-decision resolvers cheap.
    return s.strip() if s.isascii() else unicodedata.normalize("NFC", s).strip()


def _country(s: str) -> str:
    s = _nfc(s)
    return s.upper() if len(s) == 2 and s.isascii() and s.isalpha() else s


@dataclass(frozen=True, slots=True)
class Kind:
    """How to read a rightOperand lexical value and which operators make sense."""

    name: str
    parse: Callable[[str], Any]
    operators: frozenset[str]


def _decimal(text: str) -> Decimal:
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not d.is_finite():
        raise ValueError(f"{text!r} is not a finite number")
    return d


def _integer(text: str) -> int:
    t = text.strip()
    if not re.fullmatch(r"[+-]?\d{1,18}", t):
        raise ValueError(f"{text!r} is not an integer")
    return int(t)


STRING = Kind("string", _nfc, SET_OPS | STRUCTURE_OPS)
NAME = Kind("name", lambda s: _nfc(s).casefold(), SET_OPS | STRUCTURE_OPS)
COUNTRY = Kind("country", _country, SET_OPS | STRUCTURE_OPS)
DATETIME = Kind("dateTime", parse_datetime, ORDER_OPS)
DURATION = Kind("duration", parse_duration, ORDER_OPS)
DECIMAL = Kind("decimal", _decimal, ORDER_OPS | {"isAnyOf", "isNoneOf"})
INTEGER = Kind("integer", _integer, ORDER_OPS | {"isAnyOf", "isNoneOf"})


# --------------------------------------------------------------------------------------------
# Operand definitions and the registry

Resolver = Callable[[Request, Facts], Any]


@dataclass(frozen=True, slots=True)
class OperandDef:
    """One leftOperand.

    ``resolve`` returns the counter-party's value (``None`` if unknown) or, when ``multi``, a
    frozenset of values (e.g. every data space it is a member of). ``validate`` checks each
    rightOperand value beyond its kind (check digits, BPN syntax) and returns it normalised.
    """

    iri: str
    kind: Kind
    resolve: Resolver
    scopes: frozenset[str]
    profile: str
    description: str
    multi: bool = False
    operators: frozenset[str] | None = None
    validate: Callable[[Any], Any] | None = None
    missing: str = "no value is known"
    timing: bool = False  # on a duty, this operand sets a deadline instead of a condition

    @property
    def label(self) -> str:
        return _label(self.iri)

    @property
    def allowed_operators(self) -> frozenset[str]:
        ops = self.operators if self.operators is not None else self.kind.operators
        if self.multi:
            ops = ops & (SET_OPS | STRUCTURE_OPS)
        return ops


_ALLOWED: dict[int, tuple["OperandDef", frozenset[str]]] = {}   # operand definition -> its operators


@dataclass
class OperandRegistry:
    """leftOperand IRI -> definition. ``copy()`` before extending a shared registry."""

    operands: dict[str, OperandDef] = field(default_factory=dict)
    generation: int = 0   # bumped on every change, so compiled policies are recompiled

    def register(self, defn: OperandDef, *, replace: bool = False) -> OperandDef:
        if defn.iri in self.operands and not replace:
            raise ValueError(f"leftOperand {defn.iri} is already registered")
        self.operands[defn.iri] = defn
        self.generation += 1
        return defn

    def copy(self) -> "OperandRegistry":
        return OperandRegistry(dict(self.operands))

    def get(self, iri: str) -> OperandDef | None:
        return self.operands.get(iri)

    def in_scope(self, scope: Scope) -> list[OperandDef]:
        return [d for d in self.operands.values() if scope in d.scopes]

    def right_values(self, defn: OperandDef, c: Constraint, path: str) -> tuple[Any, ...]:
        """The constraint's rightOperand read as the operand's kind (and validated)."""
        out = []
        parse, validate = defn.kind.parse, defn.validate
        for v in c.right_operand:
            try:
                parsed = parse(v.id if type(v) is IRIValue else v.value)
                if validate is not None:
                    parsed = validate(parsed)
            except ValueError as exc:
                raise InvalidOperandValueError(
                    f"rightOperand of {defn.label}: {exc}", path=path) from None
            out.append(parsed)
        return tuple(out)

    def check_constraint(self, c: Constraint, path: str) -> OperandDef:
        return self.checked(c, path)[0]

    def checked(self, c: Constraint, path: str) -> tuple[OperandDef, tuple[Any, ...]]:
        """The operand definition and the parsed rightOperand values, or a PolicyError."""
        defn = self.operands.get(c.left_operand)
        if defn is None:
            raise UnknownOperandError(
                f"leftOperand {compact_iri(c.left_operand)} is not defined by any loaded profile; "
                "refusing to treat it as satisfied", path=path)
        allowed = _ALLOWED.get(id(defn))
        if allowed is None or allowed[0] is not defn:
            if len(_ALLOWED) > 4096:
                _ALLOWED.clear()
            allowed = _ALLOWED[id(defn)] = (defn, defn.allowed_operators)
        if c.operator not in allowed[1]:
            raise UnsupportedOperatorError(
                f"operator {c.operator} cannot be used with {defn.label} (allowed: "
                f"{', '.join(sorted(defn.allowed_operators))})", path=path)
        values: tuple[Any, ...] = ()
        if c.right_operand_reference is None:
            values = self.right_values(defn, c, path)
            if not values:
                raise InvalidOperandValueError(f"{defn.label} {c.operator} has no rightOperand value", path=path)
            if c.operator in _SINGLE_OPS and len(values) != 1:
                raise InvalidOperandValueError(
                    f"operator {c.operator} needs exactly one rightOperand value, got {len(values)}", path=path)
        elif c.right_operand:
            raise PolicySyntaxError("constraint has both rightOperand and rightOperandReference", path=path)
        return defn, values

    def check_nodes(self, nodes: Iterable[ConstraintNode], path: str) -> None:
        for i, n in enumerate(nodes):
            p = f"{path}[{i}]"
            if isinstance(n, LogicalConstraint):
                self.check_nodes(n.constraints, f"{p}.{n.operator}")
            else:
                self.check_constraint(n, p)

    def validate_policy(self, policy: Policy) -> None:
        """Raise if any constraint or refinement uses an unknown operand, operator or value."""
        def rule(r: Any, path: str) -> None:
            if not r.actions and not policy.actions:
                raise PolicySyntaxError("rule names no action", path=path)
            self.check_nodes(r.constraints, path + ".constraint")
            for j, a in enumerate(r.actions):
                self.check_nodes(a.refinements, f"{path}.action[{j}].refinement")
            for attr in ("duties", "remedies", "consequences"):
                for k, d in enumerate(getattr(r, attr, ())):
                    rule(d, f"{path}.{attr[:-1] if attr != 'duties' else 'duty'}[{k}]")
        for j, a in enumerate(policy.actions):
            self.check_nodes(a.refinements, f"policy.action[{j}].refinement")
        for name, rules in (("permission", policy.permissions), ("prohibition", policy.prohibitions),
                            ("obligation", policy.obligations)):
            for i, r in enumerate(rules):
                rule(r, f"policy.{name}[{i}]")


# --------------------------------------------------------------------------------------------
# ODRL core operands (those that make sense for footprint exchange)


def _value_of(short: str) -> Resolver:
    iri_ = ODRL + short

    def resolve(req: Request, facts: Facts) -> Any:
        v = facts.values.get(iri_, facts.values.get(short))
        return v

    return resolve


def _kind_value(kind: Kind, resolver: Resolver) -> Resolver:
    """Normalise a raw fact value with the kind's parser (facts come from outside too)."""
    def resolve(req: Request, facts: Facts) -> Any:
        v = resolver(req, facts)
        if v is None:
            return None
        try:
            return kind.parse(str(v))
        except ValueError:
            return None   # an unreadable fact counts as unknown, so the check fails closed
    return resolve


def core_operands() -> list[OperandDef]:
    core = "ODRL 2.2 core"
    defs = [
        OperandDef(ODRL + "dateTime", DATETIME, lambda r, f: f.now, ALL_SCOPES, core,
                   "the current date and time (time-zone aware)", timing=True),
        OperandDef(ODRL + "elapsedTime", DURATION, lambda r, f: f.elapsed, TRANSFER_SCOPE, core,
                   "time since the agreement started (Facts.agreement_start)", operators=ORDER_OPS,
                   missing="the agreement start is not known", timing=True),
        OperandDef(ODRL + "count", INTEGER, lambda r, f: f.use_count + 1, TRANSFER_SCOPE, core,
                   "how many times the action will have been exercised, this use included"),
        OperandDef(ODRL + "purpose", STRING, lambda r, f: _nfc(f.purpose) if f.purpose else None,
                   USAGE_SCOPES, core, "the purpose the counter-party declared",
                   missing="no purpose was declared"),
        OperandDef(ODRL + "spatial", COUNTRY,
                   lambda r, f: _country(f.processing_location) if f.processing_location else None,
                   USAGE_SCOPES, core,
                   "where the data will be processed (ISO 3166-1 alpha-2 code, or an IRI)",
                   missing="the processing location is not known"),
        OperandDef(ODRL + "recipient", STRING, lambda r, f: _nfc(f.recipient) if f.recipient else None,
                   TRANSFER_SCOPE, core, "the party receiving the data", missing="no recipient is known"),
        OperandDef(ODRL + "industry", STRING, lambda r, f: _nfc(f.industry) if f.industry else None,
                   USAGE_SCOPES, core, "the counter-party's industry sector", missing="no industry is known"),
        OperandDef(ODRL + "event", STRING, lambda r, f: f.events, TRANSFER_SCOPE, core,
                   "events that have occurred (eq / isAnyOf: has occurred; neq / isNoneOf: has not)",
                   multi=True),
    ]
    for short, kind, what in (("deliveryChannel", STRING, "the delivery channel"),
                              ("fileFormat", STRING, "the file format"),
                              ("language", STRING, "the language"),
                              ("resolution", DECIMAL, "the resolution (in the constraint's unit)"),
                              ("payAmount", DECIMAL, "the amount paid (in the constraint's unit)"),
                              ("version", STRING, "the version"),
                              ("systemDevice", STRING, "the system or device")):
        defs.append(OperandDef(ODRL + short, kind, _kind_value(kind, _value_of(short)), USAGE_SCOPES, core,
                               f"{what}, from Facts.values", missing=f"{what} is not known"))
    return defs


def _build_default() -> OperandRegistry:
    reg = OperandRegistry()
    for d in core_operands():
        reg.register(d)
    from .profiles import catenax, crossborder, ouranos, taiwan
    for mod in (catenax, ouranos, taiwan, crossborder):
        mod.register(reg)
    return reg


_DEFAULT: OperandRegistry | None = None


def default_registry() -> OperandRegistry:
    """Core + Catena-X + Japan + Taiwan + cross-border operands (built on first use)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = _build_default()
    return _DEFAULT


def __getattr__(name: str) -> Any:
    if name == "DEFAULT_REGISTRY":
        return default_registry()
    raise AttributeError(name)
