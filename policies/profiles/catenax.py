"""Catena-X 2025-09 policy profile (``https://w3id.org/catenax/2025/9/policy/``) as Tractus-X EDC uses it.

Shapes (inside a Set/Offer permission ``constraint``, usually under ``and``)::

    {"leftOperand": "Membership", "operator": "eq", "rightOperand": "active"}
    {"leftOperand": "FrameworkAgreement", "operator": "eq", "rightOperand": "DataExchangeGovernance:1.0"}
    {"leftOperand": "UsagePurpose", "operator": "isAnyOf", "rightOperand": "cx.pcf.base:1"}
    {"leftOperand": "BusinessPartnerNumber", "operator": "isAnyOf", "rightOperand": ["BPNL..."]}
    {"leftOperand": "BusinessPartnerGroup", "operator": "isAnyOf", "rightOperand": ["gold-partners"]}

with the context ``https://w3id.org/catenax/2025/9/policy/context.jsonld`` (bare names) or the
``cx-policy:`` prefix. The legacy namespace ``https://w3id.org/catenax/policy/`` is accepted too.
"""

from __future__ import annotations

import re

from ..facts import Facts, Request
from ..operands import ALL_SCOPES, NAME, STRING, USAGE_SCOPES, OperandDef, OperandRegistry, SET_OPS
from ..vocab import CX_POLICY, CX_POLICY_LEGACY

PROFILE = "Catena-X 2025-09"
#: memberOf values of a Catena-X membership credential (case-insensitive).
CATENAX_NAMES = frozenset({"catena-x"})
PCF_PURPOSE = "cx.pcf.base:1"
_BPN_RE = re.compile(r"^BPN[LSA][A-Z0-9]{12}$")


def _membership(req: Request, facts: Facts) -> str | None:
    return "active" if facts.memberships & CATENAX_NAMES else None


def _frameworks(req: Request, facts: Facts) -> frozenset[str]:
    """'subtype:version' (and bare 'subtype') for every *Credential the party holds, case-folded."""
    out: set[str] = set()
    for ctype, versions in facts.credential_types.items():
        if not ctype.endswith("Credential") or ctype in ("VerifiableCredential", "MembershipCredential"):
            continue
        sub = ctype[: -len("Credential")].casefold()
        out.add(sub)
        out.update(f"{sub}:{v.casefold()}" for v in versions if v)
    return frozenset(out)


def _bpn(value: str) -> str:
    v = value.strip().upper()
    if not _BPN_RE.match(v):
        raise ValueError(f"{value!r} is not a business partner number (BPNL/BPNS/BPNA + 12 characters)")
    return v


def register(reg: OperandRegistry) -> None:
    for ns in (CX_POLICY, CX_POLICY_LEGACY):
        legacy = "" if ns == CX_POLICY else " (legacy namespace)"
        reg.register(OperandDef(
            ns + "Membership", NAME, _membership, ALL_SCOPES, PROFILE,
            "'active' when the party holds a valid Catena-X MembershipCredential" + legacy,
            operators=frozenset({"eq"}), missing="the party presented no valid Catena-X membership credential",
            validate=lambda v: v if v == "active" else _raise("Membership only accepts 'active'")))
        reg.register(OperandDef(
            ns + "FrameworkAgreement", NAME, _frameworks, ALL_SCOPES, PROFILE,
            "framework credentials held, as 'Subtype:version' (e.g. DataExchangeGovernance:1.0)" + legacy,
            multi=True, operators=frozenset({"eq", "isAnyOf", "isAllOf"})))
        reg.register(OperandDef(
            ns + "UsagePurpose", STRING, lambda r, f: f.purpose, USAGE_SCOPES, PROFILE,
            "the usage purpose the consumer declared (e.g. cx.pcf.base:1)" + legacy,
            operators=frozenset({"eq", "isAnyOf"}), missing="no usage purpose was declared"))
        reg.register(OperandDef(
            ns + "BusinessPartnerNumber", STRING, lambda r, f: frozenset(b.upper() for b in f.bpns),
            ALL_SCOPES, PROFILE, "the party's BPNs from its credentials" + legacy, multi=True,
            operators=SET_OPS, validate=_bpn))
        reg.register(OperandDef(
            ns + "BusinessPartnerGroup", STRING, lambda r, f: f.bpn_groups, ALL_SCOPES, PROFILE,
            "the provider's own groups the party's BPN belongs to (Facts.bpn_groups)" + legacy,
            multi=True, operators=SET_OPS))


def _raise(msg: str) -> str:
    raise ValueError(msg)
