"""ODRL policy inheritance (``inheritFrom``): the child gains every rule of its ancestors."""

from __future__ import annotations

from typing import Callable

from .errors import InheritanceError, PolicyLimitError
from .limits import DEFAULT_LIMITS, Limits
from .model import Policy


def resolve_inheritance(policy: Policy, lookup: Callable[[str], Policy | None], *,
                        limits: Limits = DEFAULT_LIMITS) -> Policy:
    """A policy with the rules of every ancestor merged in (child's own fields win).

    ``lookup`` maps a policy uid to a stored policy. Missing parents, cycles and chains deeper than
    ``limits.max_inheritance_depth`` are errors.
    """
    def merged(p: Policy, chain: tuple[str, ...]) -> Policy:
        if not p.inherit_from:
            return p
        if len(chain) > limits.max_inheritance_depth:
            raise PolicyLimitError(f"inheritFrom chain longer than {limits.max_inheritance_depth}: "
                                   + " -> ".join(chain))
        perms, prohs, obls = list(p.permissions), list(p.prohibitions), list(p.obligations)
        conflict = p.conflict
        for parent_id in p.inherit_from:
            if parent_id in chain:
                raise InheritanceError("inheritFrom cycle: " + " -> ".join((*chain, parent_id)))
            parent = lookup(parent_id)
            if parent is None:
                raise InheritanceError(f"inheritFrom names {parent_id!r}, which is not known")
            parent = merged(parent, (*chain, parent_id))
            # Parent rules keep the parent's own target/assigner/assignee when the child has none.
            def fill(rule: object) -> object:
                upd = {k: getattr(parent, k) for k in ("target", "assigner", "assignee")
                       if getattr(rule, k) is None and getattr(parent, k) is not None}
                if not getattr(rule, "actions") and parent.actions:
                    upd["actions"] = parent.actions
                return rule.model_copy(update=upd) if upd else rule  # type: ignore[attr-defined]
            perms += [fill(r) for r in parent.permissions]
            prohs += [fill(r) for r in parent.prohibitions]
            obls += [fill(r) for r in parent.obligations]
            conflict = conflict or parent.conflict
        return p.model_copy(update={"permissions": tuple(perms), "prohibitions": tuple(prohs),
                                    "obligations": tuple(obls), "inherit_from": (), "conflict": conflict})
    return merged(policy, (policy.uid or "<this policy>",))
