from __future__ import annotations

from datetime import timedelta

import pytest

from policies.engine import Facts, Request, evaluate
from policies.jsonld import parse_policy, to_dsp
from policies.profiles.crossborder import PCF_EXCHANGE_PURPOSE, pcf_exchange_policy
from policies.profiles.ouranos import corporate_number_check_digit, is_corporate_number
from policies.profiles.taiwan import is_unified_business_number, ubn_checksum
from policies.vocab import CX_POLICY, KAKEHASHI

from .conftest import NOW, membership


# -- identifiers ----------------------------------------------------------------------------

@pytest.mark.parametrize("number,ok", [
    ("7000012050002", True),     # National Tax Agency (国税庁), published on houjin-bangou.nta.go.jp
    ("7000012050003", False),    # wrong check digit
    ("700001205000", False),     # 12 digits
    ("70000120500022", False),   # 14 digits
    ("７０００１２０５０００２", False),  # full-width digits are not accepted
    ("700001205000A", False),
])
def test_japanese_corporate_number(number, ok) -> None:
    assert is_corporate_number(number) is ok


def test_corporate_number_check_digit_formula() -> None:
    # 9 - (sum of digits weighted 1,2 from the right) mod 9; base 000012050002 -> 2+5+2+2 = 11 -> 7
    assert corporate_number_check_digit("000012050002") == 7
    with pytest.raises(ValueError):
        corporate_number_check_digit("12345")


@pytest.mark.parametrize("number,ok", [
    ("22099131", True),    # TSMC (台灣積體電路製造), sum 30
    ("04595257", True),    # sum 40
    ("22099132", False),
    ("10458574", True),    # 7th digit 7: sum 29 fails, sum + 1 = 30 passes (special case)
    ("10458573", False),   # 7th digit 7 but neither 28 nor 29 is divisible by 5
    ("2209913", False),
    ("２２０９９１３１", False),
])
def test_taiwan_unified_business_number(number, ok) -> None:
    assert is_unified_business_number(number) is ok


def test_ubn_seventh_digit_special_case() -> None:
    assert ubn_checksum("10458574") == 29
    assert is_unified_business_number("10458574")


def test_ubn_new_rule_accepts_multiples_of_five_only() -> None:
    # 00000005: digit sum 5 -> valid since 2023 (divisible by 5), invalid under the old rule.
    assert ubn_checksum("00000005") == 5
    assert is_unified_business_number("00000005")
    assert not is_unified_business_number("00000005", legacy=True)
    assert is_unified_business_number("22099131", legacy=True)


# -- JP / TW operands -----------------------------------------------------------------------

def _p(left: str, op: str, right) -> object:
    return parse_policy({"@type": "Set", "permission": [{"action": "use", "constraint": [
        {"leftOperand": left, "operator": op, "rightOperand": right}]}]})


def _ok(p, scope="negotiation", **facts) -> bool:
    facts.setdefault("now", NOW)
    return evaluate(p, Request("use"), Facts(**facts), scope=scope).permitted


def test_ouranos_membership_and_corporate_number() -> None:
    creds = [membership("Ouranos Ecosystem", corporateNumber="7000012050002")]
    assert _ok(_p(KAKEHASHI + "OuranosMembership", "eq", "active"), scope="catalog", credentials=creds)
    assert not _ok(_p(KAKEHASHI + "OuranosMembership", "eq", "active"), credentials=[membership("Catena-X")])
    assert _ok(_p(KAKEHASHI + "CorporateNumber", "isAnyOf", ["7000012050002"]), credentials=creds)
    bad = [membership("Ouranos Ecosystem", corporateNumber="7000012050003")]
    assert not _ok(_p(KAKEHASHI + "CorporateNumber", "isAnyOf", ["7000012050002"]), credentials=bad)


def test_taiwan_membership_and_ubn() -> None:
    creds = [membership("Taiwan Data Space", unifiedBusinessNumber="22099131")]
    assert _ok(_p(KAKEHASHI + "TaiwanDataSpaceMembership", "eq", "active"), credentials=creds)
    assert _ok(_p(KAKEHASHI + "UnifiedBusinessNumber", "eq", "22099131"), credentials=creds)
    assert not _ok(_p(KAKEHASHI + "UnifiedBusinessNumber", "eq", "04595257"), credentials=creds)


def test_expired_credentials_prove_nothing() -> None:
    old = dict(membership("Taiwan Data Space"), validUntil=(NOW - timedelta(days=1)).isoformat())
    assert not _ok(_p(KAKEHASHI + "TaiwanDataSpaceMembership", "eq", "active"), credentials=[old])
    future = dict(membership("Taiwan Data Space"), validFrom=(NOW + timedelta(days=1)).isoformat())
    assert not _ok(_p(KAKEHASHI + "TaiwanDataSpaceMembership", "eq", "active"), credentials=[future])


# -- Catena-X -------------------------------------------------------------------------------

CX_CREDS = [
    membership("Catena-X", holderIdentifier="BPNL000000000TW1"),
    {"type": ["VerifiableCredential", "DataExchangeGovernanceCredential"],
     "credentialSubject": {"id": "did:web:partner", "contractVersion": "1.0"}},
]


@pytest.mark.parametrize("left,op,right,ok", [
    ("Membership", "eq", "active", True),
    ("FrameworkAgreement", "eq", "DataExchangeGovernance:1.0", True),
    ("FrameworkAgreement", "eq", "DataExchangeGovernance", True),
    ("FrameworkAgreement", "eq", "DataExchangeGovernance:2.0", False),
    ("FrameworkAgreement", "eq", "Pcf:1.0", False),
    ("BusinessPartnerNumber", "isAnyOf", ["BPNL000000000TW1", "BPNL000000000JP1"], True),
    ("BusinessPartnerNumber", "isNoneOf", ["BPNL000000000TW1"], False),
    ("BusinessPartnerGroup", "isAnyOf", ["gold"], True),
    ("BusinessPartnerGroup", "isAllOf", ["gold", "silver"], False),
    ("UsagePurpose", "isAnyOf", "cx.pcf.base:1", True),
])
def test_catenax_operands(left, op, right, ok) -> None:
    p = _p(CX_POLICY + left, op, right)
    assert _ok(p, credentials=CX_CREDS, bpn_groups=frozenset({"gold"}), purpose="cx.pcf.base:1") is ok


def test_catenax_rejects_malformed_bpn_and_membership_values() -> None:
    with pytest.raises(Exception, match="business partner number"):
        _p(CX_POLICY + "BusinessPartnerNumber", "eq", "BPN-nonsense")
    with pytest.raises(Exception, match="active"):
        _p(CX_POLICY + "Membership", "eq", "gold")


def test_legacy_catenax_namespace_is_understood() -> None:
    assert _ok(_p("https://w3id.org/catenax/policy/Membership", "eq", "active"), credentials=CX_CREDS)


# -- cross-border standard policy -----------------------------------------------------------

def test_pcf_exchange_policy_decisions() -> None:
    p = pcf_exchange_policy("did:web:jp.example", "urn:asset:pcf", retention_days=30)
    good = dict(credentials=[membership("Taiwan Data Space")], purpose=PCF_EXCHANGE_PURPOSE,
                processing_location="TW", agreement_start=NOW)
    d = evaluate(p, Request("use", "urn:asset:pcf"), Facts(now=NOW, **good), scope="transfer")
    assert d.permitted
    assert [x.description.split(" (")[0] for x in d.duties] == ["odrl:delete urn:asset:pcf within 30 days"]
    assert not evaluate(p, Request("distribute", "urn:asset:pcf"), Facts(now=NOW, **good), scope="transfer").permitted
    for key, value in (("processing_location", "US"), ("purpose", "marketing"), ("credentials", [])):
        d = evaluate(p, Request("use", "urn:asset:pcf"), Facts(now=NOW, **{**good, key: value}), scope="transfer")
        assert not d.permitted and d.reasons
    assert parse_policy(to_dsp(p)) == p


def test_pcf_exchange_policy_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        pcf_exchange_policy("did:web:jp", countries=())
    with pytest.raises(ValueError):
        pcf_exchange_policy("did:web:jp", retention_days=0)
