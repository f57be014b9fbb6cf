"""What the engine evaluates against: the request (who wants to do what) and the facts known now."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Literal, Mapping, Sequence

from .errors import FactsError
from .vocab import ODRL

Scope = Literal["catalog", "negotiation", "transfer"]
SCOPES: tuple[Scope, ...] = ("catalog", "negotiation", "transfer")
DutyState = Literal["fulfilled", "violated", "pending"]

MEMBERSHIP_TYPES = frozenset({"MembershipCredential", "DataSpaceMembershipCredential"})


@dataclass(frozen=True, slots=True)
class Request:
    """The action asked for, on which target, by which party (IRIs; ODRL action names allowed)."""

    action: str = ODRL + "use"
    target: str | None = None
    party: str | None = None

    def __post_init__(self) -> None:
        if ":" not in self.action:
            object.__setattr__(self, "action", ODRL + self.action)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else None


@dataclass(frozen=True, eq=False)
class Facts:
    """Everything known about the counter-party and the situation when a decision is taken.

    ``credentials`` are verified credentials (VC JSON: ``type``, ``issuer``, ``credentialSubject``,
    optional ``validUntil``); the caller verifies proofs, trust and status first. Claims read:
    membership credentials carry ``memberOf`` (data-space name); subjects may carry ``bpn`` /
    ``holderIdentifier`` (Catena-X BPN), ``corporateNumber`` (JP), ``unifiedBusinessNumber`` (TW),
    ``contractVersion`` (Catena-X framework credentials).
    """

    now: datetime
    credentials: Sequence[Mapping[str, Any]] = ()
    party_id: str | None = None
    processing_location: str | None = None
    purpose: str | None = None
    recipient: str | None = None
    industry: str | None = None
    use_count: int = 0
    agreement_start: datetime | None = None
    events: frozenset[str] = frozenset()
    bpn_groups: frozenset[str] = frozenset()
    duty_states: Mapping[str, DutyState] = field(default_factory=dict)
    part_of: Mapping[str, frozenset[str]] = field(default_factory=dict)
    instance_of: Mapping[str, frozenset[str]] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise FactsError("Facts.now must be time-zone aware (a naive time is ambiguous across JP/TW)")
        if self.agreement_start is not None and self.agreement_start.tzinfo is None:
            raise FactsError("Facts.agreement_start must be time-zone aware")
        if self.use_count < 0:
            raise FactsError("Facts.use_count cannot be negative")

    @cached_property
    def memo(self) -> dict[str, Any]:
        """Per-Facts cache of derived operand values (Facts are immutable once built)."""
        return {}

    @cached_property
    def valid_credentials(self) -> tuple[Mapping[str, Any], ...]:
        """Credentials still valid at ``now`` (an expired one no longer proves anything)."""
        out = []
        for c in self.credentials:
            if not isinstance(c, Mapping):
                continue
            until = _parse_time(c.get("validUntil") or c.get("expirationDate"))
            since = _parse_time(c.get("validFrom") or c.get("issuanceDate"))
            if until is not None and until < self.now:
                continue
            if since is not None and since > self.now:
                continue
            out.append(c)
        return tuple(out)

    def subjects(self, type_names: frozenset[str] | None = None) -> list[tuple[frozenset[str], Mapping[str, Any]]]:
        """(credential types, subject) pairs, optionally only credentials of the given types."""
        out = []
        for c in self.valid_credentials:
            raw_t = c.get("type", ())
            types = frozenset([raw_t] if isinstance(raw_t, str) else raw_t)
            if type_names is not None and not (types & type_names):
                continue
            subj = c.get("credentialSubject", ())
            for s in ([subj] if isinstance(subj, Mapping) else subj):
                if isinstance(s, Mapping):
                    out.append((types, s))
        return out

    @cached_property
    def memberships(self) -> frozenset[str]:
        """Case-folded names of the data spaces the counter-party is a verified member of."""
        names: set[str] = set()
        for _types, s in self.subjects(MEMBERSHIP_TYPES):
            m = s.get("memberOf")
            for v in ([m] if isinstance(m, str) else (m or ())):
                if isinstance(v, str):
                    names.add(v.strip().casefold())
        return frozenset(names)

    def claim_values(self, *keys: str) -> frozenset[str]:
        vals: set[str] = set()
        for _types, s in self.subjects():
            for k in keys:
                v = s.get(k)
                if isinstance(v, str):
                    vals.add(v.strip())
        return frozenset(vals)

    @cached_property
    def bpns(self) -> frozenset[str]:
        return self.claim_values("bpn", "holderIdentifier")

    @cached_property
    def corporate_numbers(self) -> frozenset[str]:
        return self.claim_values("corporateNumber")

    @cached_property
    def unified_business_numbers(self) -> frozenset[str]:
        return self.claim_values("unifiedBusinessNumber")

    @cached_property
    def credential_types(self) -> Mapping[str, frozenset[str]]:
        """Credential type -> contract versions seen (empty string when none)."""
        out: dict[str, set[str]] = {}
        for types, s in self.subjects():
            v = s.get("contractVersion")
            for t in types:
                out.setdefault(t, set()).add(v if isinstance(v, str) else "")
        return {k: frozenset(v) for k, v in out.items()}

    @property
    def elapsed(self) -> timedelta | None:
        return None if self.agreement_start is None else self.now - self.agreement_start
