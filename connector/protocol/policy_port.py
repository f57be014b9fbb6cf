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


def facts_for(caller: Caller, *, now: datetime | None = None) -> Facts:
    return Facts(now=now or datetime.now(UTC), credentials=tuple(caller.credentials), party_id=caller.participant_id)


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
                                   facts_for(caller), scope=scope)
    except PolicyError as exc:
        return Verdict(False, (f"policy cannot be evaluated: {exc}",))
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
