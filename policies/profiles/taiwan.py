"""Taiwan: membership of the Taiwanese data space and the 8-digit unified business number (統一編號).

Checksum: multiply the digits by 1, 2, 1, 2, 1, 2, 4, 1, add the digits of each product, and the
total must be divisible by 5 (Ministry of Finance rule since April 2023; the older rule, divisible
by 10, is a special case). When the 7th digit is 7 its product 28 counts as 10 or as 1, so
``total`` or ``total + 1`` may be divisible.
"""

from __future__ import annotations

from ..facts import Facts, Request
from ..operands import ALL_SCOPES, NAME, STRING, OperandDef, OperandRegistry, SET_OPS
from ..vocab import KAKEHASHI

PROFILE = "Taiwan"
#: memberOf values of a TW membership credential (case-insensitive); `taiwan-tw` is the data
#: space name the TW authority of our topology (`connector.topology`) writes.
TAIWAN_NAMES = frozenset({"taiwan data space", "tw data space", "taiwan", "taiwan-tw"})
_WEIGHTS = (1, 2, 1, 2, 1, 2, 4, 1)


def ubn_checksum(value: str) -> int:
    """Sum of the digit sums of the weighted digits (the 7th digit 7 contributes 10)."""
    if len(value) != 8 or not value.isascii() or not value.isdigit():
        raise ValueError(f"{value!r} is not 8 ASCII digits")
    total = 0
    for d, w in zip(value, _WEIGHTS):
        p = int(d) * w
        total += p // 10 + p % 10
    return total


def is_unified_business_number(value: str, *, legacy: bool = False) -> bool:
    """Valid under the current (divisible by 5) rule, or the pre-2023 rule if ``legacy``."""
    try:
        total = ubn_checksum(value)
    except ValueError:
        return False
    divisor = 10 if legacy else 5
    if total % divisor == 0:
        return True
    return value[6] == "7" and (total + 1) % divisor == 0


def validate_ubn(value: str) -> str:
    v = value.strip()
    if not (len(v) == 8 and v.isascii() and v.isdigit()):
        raise ValueError(f"{value!r} is not an 8-digit Taiwanese unified business number")
    if not is_unified_business_number(v):
        raise ValueError(f"{value!r} fails the unified-business-number checksum")
    return v


def _membership(req: Request, facts: Facts) -> str | None:
    return "active" if facts.memberships & TAIWAN_NAMES else None


def _ubns(req: Request, facts: Facts) -> frozenset[str]:
    return frozenset(n for n in facts.unified_business_numbers if is_unified_business_number(n))


def register(reg: OperandRegistry) -> None:
    reg.register(OperandDef(
        KAKEHASHI + "TaiwanDataSpaceMembership", NAME, _membership, ALL_SCOPES, PROFILE,
        "'active' when the party holds a valid Taiwanese data-space membership credential",
        operators=frozenset({"eq"}), missing="the party presented no valid Taiwanese membership credential",
        validate=lambda v: v if v == "active" else (_ for _ in ()).throw(ValueError("only 'active' is accepted"))))
    reg.register(OperandDef(
        KAKEHASHI + "UnifiedBusinessNumber", STRING, _ubns, ALL_SCOPES, PROFILE,
        "the party's Taiwanese unified business numbers (credentialSubject.unifiedBusinessNumber, checksum verified)",
        multi=True, operators=SET_OPS, validate=validate_ubn))
