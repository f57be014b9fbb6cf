"""The control plane's view of the policy engine (`policies/`), in one place.

Turns a caller into `Facts`, stored policy definitions into `Policy` objects, and engine
decisions into reason lists the protocol can put into error bodies. Kept apart so the
handlers never depend on the engine's module layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from policies.errors import PolicyError
from policies.facts import Facts, Request
from policies.jsonld import parse_policy, to_dsp
from policies.model import Policy

from ..auth import Caller


@dataclass(frozen=True)
class Verdict:
    permitted: bool
    reasons: tuple[str, ...] = ()


#: Credential subject claims an authority uses to certify where a member processes data.
LOCATION_CLAIMS = ("processingLocation", "countryCode", "country")
_PURPOSE_OPERANDS = ("http://www.w3.org/ns/odrl/2/purpose", "UsagePurpose")


def certified_location(caller: Caller) -> str | None:
    """Where the caller processes data, as its (verified, trusted) credentials state it.

    Only claims inside credentials the authenticator accepted count: a partner cannot
    move its processing location into the allowed set by saying so in a message."""
    for credential in caller.credentials:
        subjects = credential.get("credentialSubject")
        for subject in subjects if isinstance(subjects, list) else [subjects]:
            if not isinstance(subject, dict):
                continue
            for claim in LOCATION_CLAIMS:
                value = subject.get(claim)
                if isinstance(value, str) and value:
                    return value
    return None


def declared_purpose(policy: Policy) -> str | None:
    """The purpose a consumer commits to by requesting (or holding) a contract that names it.

    DSP has no separate purpose field: as in Tractus-X, the purpose constraint of the offer the
    consumer asks for *is* its declaration, and `offers_match` has already ensured that offer
    is exactly the provider's. A policy without a purpose constraint declares none."""
    def walk(nodes: Any) -> str | None:
        for node in nodes:
            if hasattr(node, "constraints") and not hasattr(node, "left_operand"):
                found = walk(node.constraints)
            elif getattr(node, "left_operand", "").endswith(_PURPOSE_OPERANDS) and node.right_operand:
                value = node.right_operand[0]
                found = getattr(value, "value", None) or getattr(value, "id", None)
            else:
                found = None
            if found:
                return str(found)
        return None

    for rule in (*policy.permissions, *policy.prohibitions, *policy.obligations):
        found = walk(rule.constraints)
        if found:
            return found
    return None


def facts_for(caller: Caller, *, now: datetime | None = None, policy: Policy | None = None,
              scope: str = "catalog", agreement_start: datetime | None = None) -> Facts:
    """What is known about `caller` now. The purpose counts only once a contract is being
    agreed or used (negotiation, transfer); browsing a catalog declares no purpose."""
    purpose = declared_purpose(policy) if policy is not None and scope != "catalog" else None
    return Facts(now=now or datetime.now(UTC), credentials=tuple(caller.credentials),
                 party_id=caller.participant_id, processing_location=certified_location(caller),
                 purpose=purpose, agreement_start=agreement_start)


def policy_from_definition(body: dict[str, Any]) -> Policy:
    """A stored EDC PolicyDefinition body (with its ``policy``) as an engine Policy."""
    return parse_policy(body, form="edc")


def dsp_offer(policy: Policy, offer_id: str, *, target: str | None = None,
              assigner: str | None = None) -> dict[str, Any]:
    """The policy as a DSP compact ``Offer`` (no target inside a catalog, one in a negotiation)."""
    body = to_dsp(policy)
    for key in ("@context", "uid", "target", "assigner", "assignee"):
        body.pop(key, None)
    body["@id"] = offer_id
    body["@type"] = "Offer"
    if target is not None:
        body["target"] = target
    if assigner is not None:
        body["assigner"] = assigner
    return body


def evaluate(policy: Policy, caller: Caller, *, target: str | None, scope: str) -> Verdict:
    """Whether ``caller`` may use ``target`` under ``policy`` now, with the engine's reasons."""
    from policies.engine import evaluate as engine_evaluate

    try:
        decision = engine_evaluate(policy, Request(target=target, party=caller.participant_id),
                                   facts_for(caller, policy=policy, scope=scope), scope=scope)
    except PolicyError as exc:
        return Verdict(False, (f"policy cannot be evaluated: {exc}",))
    return Verdict(bool(decision.permitted), tuple(str(r) for r in decision.reasons))


def evaluate_agreement(body: dict[str, Any], caller: Caller, *, target: str, signed_at: datetime) -> Verdict:
    """May ``caller`` start a transfer under this stored agreement now? The third decision point:
    time limits, a membership since revoked or a processing location no longer certified end
    access even though the contract was agreed. An unreadable agreement fails closed."""
    try:
        # The agreement's own id and timestamp are records of the negotiation, not terms;
        # its target, assigner and assignee stay and are checked against this request.
        terms = {k: v for k, v in body.items() if k not in ("@context", "@id", "timestamp")}
        policy = parse_policy(terms, form="dsp")
    except PolicyError as exc:
        return Verdict(False, (f"agreement policy cannot be read: {exc}",))
    from policies.engine import evaluate as engine_evaluate

    try:
        decision = engine_evaluate(policy, Request(target=target, party=caller.participant_id),
                                   facts_for(caller, policy=policy, scope="transfer", agreement_start=signed_at),
                                   scope="transfer")
    except PolicyError as exc:
        return Verdict(False, (f"agreement policy cannot be evaluated: {exc}",))
    return Verdict(bool(decision.permitted), tuple(str(r) for r in decision.reasons))


def offers_match(offered: Policy, requested: dict[str, Any]) -> Verdict:
    """Is the offer a consumer sent (DSP compact) the one we offered?"""
    from policies.matching import offers_match as engine_match

    try:
        requested_policy = parse_policy(_without_dsp_only_terms(requested), form="dsp")
    except PolicyError as exc:
        return Verdict(False, (f"requested offer is not a readable ODRL policy: {exc}",))
    # Target and assigner are filled in by the negotiation, not part of the offered terms.
    unbound = {"uid": None, "target": None, "assigner": None, "assignee": None}
    result = engine_match(offered.model_copy(update=unbound), requested_policy.model_copy(update=unbound))
    return Verdict(bool(result.ok), () if result.ok else (str(result.reason),))


def _without_dsp_only_terms(offer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in offer.items() if k not in ("@context", "@id", "target", "assigner", "assignee")}
