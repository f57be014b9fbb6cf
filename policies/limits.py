"""Hard limits on policy documents, so hostile input cannot exhaust memory or the stack."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds checked while reading a policy; exceeding one raises PolicyLimitError."""

    max_bytes: int = 256 * 1024          # serialised JSON size
    max_depth: int = 32                  # JSON nesting depth
    max_rules: int = 256                 # permissions + prohibitions + obligations (+ duties)
    max_constraints: int = 1024          # all constraints and refinements, nested included
    max_logical_depth: int = 8           # nesting of and/or/xone/andSequence
    max_list_items: int = 1024           # values in one rightOperand list
    max_string: int = 8 * 1024           # characters in one string value
    max_inheritance_depth: int = 8       # inheritFrom chain length


DEFAULT_LIMITS = Limits()
