"""ODRL 2.2 information model (Set / Offer / Agreement, rules, constraints) as frozen pydantic models.

All identifiers are stored as full IRIs (``leftOperand``, ``action``, ``target`` ...); operators are
the ODRL short names. Collections are tuples so a policy is immutable and safe to share between
requests; the engine caches its compiled form on the instance.
"""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, PrivateAttr, field_validator

from .vocab import CONFLICT_STRATEGIES, LOGICAL_OPERATORS, ODRL, OPERATORS

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class IRIValue(BaseModel):
    """A rightOperand that names a resource (``{"@id": ...}``)."""

    model_config = _FROZEN
    id: str

    def __str__(self) -> str:
        return self.id


class LiteralValue(BaseModel):
    """A rightOperand literal, kept as its lexical form plus optional datatype IRI or language."""

    model_config = _FROZEN
    value: str
    datatype: str | None = None
    language: str | None = None

    def __str__(self) -> str:
        return self.value


Value = Union[IRIValue, LiteralValue]


class Constraint(BaseModel):
    """An atomic constraint: leftOperand operator rightOperand (or rightOperandReference)."""

    model_config = _FROZEN
    uid: str | None = None
    left_operand: str
    operator: str
    right_operand: tuple[Value, ...] = ()
    right_operand_reference: str | None = None
    unit: str | None = None
    data_type: str | None = None

    @field_validator("operator")
    @classmethod
    def _known_operator(cls, v: str) -> str:
        if v not in OPERATORS:
            raise ValueError(f"unknown ODRL operator {v!r}; expected one of {', '.join(OPERATORS)}")
        return v


class LogicalConstraint(BaseModel):
    """and / or / xone / andSequence over operand constraints."""

    model_config = _FROZEN
    uid: str | None = None
    operator: str
    constraints: tuple["ConstraintNode", ...]

    @field_validator("operator")
    @classmethod
    def _known_operator(cls, v: str) -> str:
        if v not in LOGICAL_OPERATORS:
            raise ValueError(f"unknown logical operator {v!r}")
        return v


ConstraintNode = Union[Constraint, LogicalConstraint]


class Action(BaseModel):
    """An action IRI, optionally narrowed by refinements."""

    model_config = _FROZEN
    iri: str
    uid: str | None = None
    refinements: tuple[ConstraintNode, ...] = ()

    @property
    def name(self) -> str:
        return self.iri[len(ODRL):] if self.iri.startswith(ODRL) else self.iri


class _Rule(BaseModel):
    model_config = _FROZEN
    uid: str | None = None
    actions: tuple[Action, ...] = ()
    target: str | None = None
    assigner: str | None = None
    assignee: str | None = None
    constraints: tuple[ConstraintNode, ...] = ()


class Duty(_Rule):
    """An obligation to perform an action; ``consequences`` apply if it is not fulfilled."""

    consequences: tuple["Duty", ...] = ()


class Permission(_Rule):
    duties: tuple[Duty, ...] = ()


class Prohibition(_Rule):
    remedies: tuple[Duty, ...] = ()


PolicyType = Literal["Set", "Offer", "Agreement"]


class Policy(BaseModel):
    """An ODRL policy. Policy-level target/assigner/assignee/actions are inherited by every rule."""

    model_config = _FROZEN
    uid: str | None = None
    type: PolicyType = "Set"
    profiles: tuple[str, ...] = ()
    inherit_from: tuple[str, ...] = ()
    conflict: str | None = None
    target: str | None = None
    assigner: str | None = None
    assignee: str | None = None
    actions: tuple[Action, ...] = ()
    permissions: tuple[Permission, ...] = ()
    prohibitions: tuple[Prohibition, ...] = ()
    obligations: tuple[Duty, ...] = ()
    _compiled: dict[Any, Any] = PrivateAttr(default_factory=dict)

    @field_validator("conflict")
    @classmethod
    def _known_conflict(cls, v: str | None) -> str | None:
        if v is not None and v not in CONFLICT_STRATEGIES:
            raise ValueError(f"unknown conflict strategy {v!r}; expected perm, prohibit or invalid")
        return v

    def rules(self) -> tuple[_Rule, ...]:
        return (*self.permissions, *self.prohibitions, *self.obligations)

    def __eq__(self, other: object) -> bool:
        # Meaning only: the compiled-form cache must not make equal policies unequal.
        return type(other) is type(self) and self.__dict__ == other.__dict__  # type: ignore[union-attr]

    __hash__ = BaseModel.__hash__

    def __copy__(self) -> "Policy":
        # A copy (and so model_copy(update=...)) must not share the compiled form of the original.
        new = super().__copy__()
        object.__setattr__(new, "__pydantic_private__", {"_compiled": {}})
        return new

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> "Policy":
        new = super().__deepcopy__(memo)
        object.__setattr__(new, "__pydantic_private__", {"_compiled": {}})
        return new


LogicalConstraint.model_rebuild()
Action.model_rebuild()
Duty.model_rebuild()
Permission.model_rebuild()
Prohibition.model_rebuild()
Policy.model_rebuild()


_DEFAULTS: dict[type, dict[str, Any]] = {}


def _slot_setter(name: str) -> Any:
    # BaseModel keeps these in __slots__; calling the slot descriptor directly skips a lookup.
    d = BaseModel.__dict__.get(name)
    if d is not None and hasattr(d, "__set__"):
        return d.__set__
    return lambda obj, value: object.__setattr__(obj, name, value)


_object_new = object.__new__
_object_setattr = object.__setattr__
_set_fields_set = _slot_setter("__pydantic_fields_set__")
_set_extra = _slot_setter("__pydantic_extra__")
_set_private = _slot_setter("__pydantic_private__")


def build_trusted(cls: type[BaseModel], values: dict[str, Any], fields_set: set[str]) -> Any:
    """An instance from ``values`` (every field, already validated) and the names given explicitly.

    What ``construct_trusted`` does, minus the keyword packing: for readers that know the fields.
    """
    obj = _object_new(cls)
    _object_setattr(obj, "__dict__", values)
    _set_fields_set(obj, fields_set)
    _set_extra(obj, None)
    _set_private(obj, {"_compiled": {}} if cls is Policy else None)
    return obj


def construct_trusted(cls: type[BaseModel], **kw: Any) -> Any:
    """Build a model from already-validated values without pydantic's validation pass.

    The JSON-LD reader checks every field itself; this is what makes parsing fast enough to
    parse and evaluate thousands of policies a second.
    """
    defaults = _DEFAULTS.get(cls)
    if defaults is None:
        defaults = _DEFAULTS[cls] = {n: f.default for n, f in cls.model_fields.items() if not f.is_required()}
    values = dict(defaults)
    values.update(kw)
    return build_trusted(cls, values, set(kw))


def literal(value: Any, datatype: str | None = None) -> LiteralValue:
    """Convenience for builders: a literal from a Python value."""
    from .vocab import XSD

    if isinstance(value, bool):
        return LiteralValue(value="true" if value else "false", datatype=XSD + "boolean")
    if isinstance(value, int):
        return LiteralValue(value=str(value), datatype=datatype or XSD + "integer")
    return LiteralValue(value=str(value), datatype=datatype)


def iri(value: str) -> IRIValue:
    return IRIValue(id=value)


__all__ = [
    "Action", "Constraint", "ConstraintNode", "Duty", "IRIValue", "LiteralValue", "LogicalConstraint",
    "Permission", "Policy", "PolicyType", "Prohibition", "Value", "iri", "literal",
]
