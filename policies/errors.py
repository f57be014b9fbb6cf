"""Exceptions of the policy engine: each carries the rule or check that failed, in words."""

from __future__ import annotations


class PolicyError(Exception):
    """Base class; ``reason`` is the human-readable sentence naming the failed rule."""

    def __init__(self, reason: str, *, path: str = "") -> None:
        self.reason = reason
        self.path = path
        super().__init__(f"{path}: {reason}" if path else reason)


class PolicySyntaxError(PolicyError):
    """The JSON or JSON-LD is malformed, or uses a term we do not know."""


class PolicyLimitError(PolicyError):
    """The document exceeds a size, depth, count or inheritance limit."""


class UnknownOperandError(PolicyError):
    """A leftOperand no registered profile defines (fail closed, never 'satisfied')."""


class UnsupportedOperatorError(PolicyError):
    """An operator ODRL does not define, or one the operand cannot be compared with."""


class InvalidOperandValueError(PolicyError):
    """A rightOperand that cannot be read as the operand's value type."""


class InheritanceError(PolicyError):
    """inheritFrom names a missing policy or forms a cycle."""


class FactsError(PolicyError):
    """The facts handed to the engine are inconsistent (e.g. a naive ``now``)."""
