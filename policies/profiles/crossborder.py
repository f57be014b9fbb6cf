"""Cross-border profile: recognised data-space membership, and the standard JP x TW PCF policy.

The standard policy lets a member of a recognised data space *use* footprints for PCF exchange
only, processed in the listed countries, forbids passing them on (``distribute``), and obliges
the recipient to delete them within the retention period.
"""

from __future__ import annotations

from typing import Iterable

from ..facts import Facts, Request
from ..model import Action, Constraint, Duty, LogicalConstraint, Permission, Policy, PolicyType, Prohibition, literal
from ..operands import ALL_SCOPES, NAME, OperandDef, OperandRegistry, SET_OPS
from ..vocab import KAKEHASHI, ODRL, XSD

PROFILE = "Cross-border (JP x TW)"
#: Purpose IRI for product-carbon-footprint exchange (Facts.purpose must carry it).
PCF_EXCHANGE_PURPOSE = KAKEHASHI + "purpose/pcf-exchange"
DEFAULT_DATA_SPACES = ("Ouranos Ecosystem", "Taiwan Data Space")
DATA_SPACE_MEMBERSHIP = KAKEHASHI + "DataSpaceMembership"


def _memberships(req: Request, facts: Facts) -> frozenset[str]:
    return facts.memberships


def register(reg: OperandRegistry) -> None:
    reg.register(OperandDef(
        DATA_SPACE_MEMBERSHIP, NAME, _memberships, ALL_SCOPES, PROFILE,
        "names of the data spaces whose valid membership credential the party holds (memberOf, case-insensitive)",
        multi=True, operators=SET_OPS))


def pcf_exchange_policy(
    assigner: str,
    target: str | None = None,
    countries: Iterable[str] = ("JP", "TW"),
    retention_days: int = 365,
    data_spaces: Iterable[str] = DEFAULT_DATA_SPACES,
    *,
    purposes: Iterable[str] = (PCF_EXCHANGE_PURPOSE,),
    policy_type: PolicyType = "Offer",
    uid: str | None = None,
    assignee: str | None = None,
) -> Policy:
    """The demo's cross-border PCF policy (an Offer by default; pass ``policy_type='Agreement'``
    and ``assignee`` to record an agreement)."""
    countries = tuple(countries)
    data_spaces = tuple(data_spaces)
    purposes = tuple(purposes)
    if not countries or not data_spaces or not purposes:
        raise ValueError("countries, data_spaces and purposes must each name at least one value")
    if retention_days <= 0:
        raise ValueError("retention_days must be positive")
    constraints = LogicalConstraint(operator="and", constraints=(
        Constraint(left_operand=ODRL + "purpose", operator="isAnyOf",
                   right_operand=tuple(literal(p) for p in purposes)),
        Constraint(left_operand=ODRL + "spatial", operator="isAnyOf",
                   right_operand=tuple(literal(c.upper()) for c in countries)),
        Constraint(left_operand=DATA_SPACE_MEMBERSHIP, operator="isAnyOf",
                   right_operand=tuple(literal(d) for d in data_spaces)),
    ))
    delete = Duty(actions=(Action(iri=ODRL + "delete"),), constraints=(
        Constraint(left_operand=ODRL + "elapsedTime", operator="lteq",
                   right_operand=(literal(f"P{retention_days}D", XSD + "duration"),)),
    ))
    return Policy(
        uid=uid, type=policy_type, target=target, conflict="prohibit", assigner=assigner, assignee=assignee,
        permissions=(Permission(actions=(Action(iri=ODRL + "use"),), constraints=(constraints,),
                                duties=(delete,)),),
        prohibitions=(Prohibition(actions=(Action(iri=ODRL + "distribute"),)),),
    )
