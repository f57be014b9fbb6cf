"""Japan: membership of the Ouranos Ecosystem data space and the 13-digit corporate number (法人番号).

The check digit (first digit) of a corporate number is ``9 - (sum of the 12 base digits weighted
1, 2, 1, 2 ... from the right) mod 9`` (National Tax Agency, 法人番号の指定等に関する省令).
"""

from __future__ import annotations

from ..facts import Facts, Request
from ..operands import ALL_SCOPES, NAME, STRING, OperandDef, OperandRegistry, SET_OPS
from ..vocab import KAKEHASHI

PROFILE = "Japan (Ouranos Ecosystem)"
#: memberOf values of a JP membership credential (case-insensitive); `ouranos-jp` is the data
#: space name the JP authority of our topology (`connector.topology`) writes.
OURANOS_NAMES = frozenset({"ouranos ecosystem", "ouranos", "ouranos-jp"})


def corporate_number_check_digit(base12: str) -> int:
    """Check digit for the 12 base digits of a Japanese corporate number."""
    if len(base12) != 12 or not base12.isascii() or not base12.isdigit():
        raise ValueError(f"{base12!r} is not 12 ASCII digits")
    total = sum(int(d) * (1 if i % 2 == 0 else 2) for i, d in enumerate(reversed(base12)))
    return 9 - total % 9


def is_corporate_number(value: str) -> bool:
    return (len(value) == 13 and value.isascii() and value.isdigit()
            and int(value[0]) == corporate_number_check_digit(value[1:]))


def validate_corporate_number(value: str) -> str:
    v = value.strip()
    if not (len(v) == 13 and v.isascii() and v.isdigit()):
        raise ValueError(f"{value!r} is not a 13-digit Japanese corporate number")
    if not is_corporate_number(v):
        raise ValueError(f"{value!r} fails the corporate-number check digit "
                         f"(expected {corporate_number_check_digit(v[1:])}, got {v[0]})")
    return v


def _membership(req: Request, facts: Facts) -> str | None:
    return "active" if facts.memberships & OURANOS_NAMES else None


def _corporate_numbers(req: Request, facts: Facts) -> frozenset[str]:
    return frozenset(n for n in facts.corporate_numbers if is_corporate_number(n))


def register(reg: OperandRegistry) -> None:
    reg.register(OperandDef(
        KAKEHASHI + "OuranosMembership", NAME, _membership, ALL_SCOPES, PROFILE,
        "'active' when the party holds a valid Ouranos Ecosystem membership credential",
        operators=frozenset({"eq"}), missing="the party presented no valid Ouranos Ecosystem membership credential",
        validate=lambda v: v if v == "active" else (_ for _ in ()).throw(ValueError("only 'active' is accepted"))))
    reg.register(OperandDef(
        KAKEHASHI + "CorporateNumber", STRING, _corporate_numbers, ALL_SCOPES, PROFILE,
        "the party's Japanese corporate numbers (credentialSubject.corporateNumber, check digit verified)",
        multi=True, operators=SET_OPS, validate=validate_corporate_number))
