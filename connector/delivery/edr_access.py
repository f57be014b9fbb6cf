"""Who may read footprints with an EDR token: the provider's data-plane access decision.

The control plane minted the token when a pull transfer started and revokes it when the
transfer is suspended, completed or terminated. Here a presented token becomes a PACT
:class:`~connector.dataplane.Principal` only if it is ours, unexpired, registered and not
revoked, its transfer is STARTED, and the transfer's agreement is for the asset the token
names. The decision (:func:`principal_for`, :func:`refusal`) is pure; :class:`EdrAccess`
does the lookups.

Refusals follow PACT: a token we cannot read -> ``None`` (BadRequest, and the next
authenticator may still recognise it); expired -> TokenExpired (401); genuine but no
longer (or never) granting access -> AccessDenied (403), naming why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import jwt

from connector.dataplane import ErrorKind, PactError, Principal
from connector.dataplane.auth import DEFAULT_SCOPES, SCOPE_VC
from connector.store import Agreement, Edr, Transfer

EDC_NS = "https://w3id.org/edc/v0.0.1/ns/"
ENDED_STATES = ("SUSPENDED", "COMPLETED", "TERMINATED")
EDR_SCOPES = DEFAULT_SCOPES | {SCOPE_VC}


@dataclass(frozen=True)
class EdrPrincipal(Principal):
    """A Principal that also names the transfer its EDR token was issued for (for the log)."""

    transfer_id: str | None = None


def asset_footprint_ids(asset_body: Mapping[str, Any] | None) -> frozenset[str] | None:
    """The footprint ids an asset is limited to (its ``footprintIds`` property), or None for
    every published footprint. Accepts the compact and the EDC-namespaced key."""
    if not asset_body:
        return None
    props = asset_body.get("properties") or {}
    if not isinstance(props, Mapping):
        return None
    raw = props.get("footprintIds", props.get(EDC_NS + "footprintIds", props.get("edc:footprintIds")))
    if raw is None:
        return None
    items = raw if isinstance(raw, list) else [raw]
    ids = [i.get("@value") if isinstance(i, Mapping) else i for i in items]
    return frozenset(i for i in ids if isinstance(i, str))


def principal_for(claims: Mapping[str, Any], transfer: Transfer | None, agreement: Agreement | None,
                  asset_body: Mapping[str, Any] | None) -> EdrPrincipal:
    """The caller behind a live token, or PactError(AccessDenied) saying what is wrong."""
    transfer_id = str(claims.get("transferProcessId") or "")
    if transfer is None or transfer.role != "provider":
        raise PactError(ErrorKind.ACCESS_DENIED, f"the token's transfer {transfer_id!r} is unknown here")
    if transfer.state != "STARTED":
        raise PactError(ErrorKind.ACCESS_DENIED, f"transfer {transfer_id} is {transfer.state}, not STARTED")
    if agreement is None or agreement.id != claims.get("agreementId") or transfer.agreement_id != agreement.id:
        raise PactError(ErrorKind.ACCESS_DENIED, "the token's agreement does not match its transfer")
    if agreement.asset_id != claims.get("assetId"):
        raise PactError(ErrorKind.ACCESS_DENIED,
                        f"agreement {agreement.id} covers asset {agreement.asset_id!r}, not {claims.get('assetId')!r}")
    return EdrPrincipal(subject=str(claims.get("sub") or agreement.assignee), scopes=EDR_SCOPES,
                        footprint_ids=asset_footprint_ids(asset_body), agreement_id=agreement.id,
                        signed_delivery=True, kind="edr", transfer_id=transfer.id)


def refusal(claims: Mapping[str, Any], edr: Edr | None, transfer: Transfer | None, now: datetime) -> PactError:
    """Why a token with our valid signature no longer opens the data plane."""
    transfer_id = claims.get("transferProcessId")
    if edr is None:
        return PactError(ErrorKind.ACCESS_DENIED, "this token was not issued for any transfer we know")
    if transfer is not None and transfer.state in ENDED_STATES:
        return PactError(ErrorKind.ACCESS_DENIED, f"transfer {transfer_id} is {transfer.state}: access has ended")
    if edr.revoked:
        return PactError(ErrorKind.ACCESS_DENIED, f"the token of transfer {transfer_id} was revoked")
    exp = claims.get("exp")
    if isinstance(exp, (int, float)) and exp <= now.timestamp():
        return PactError(ErrorKind.TOKEN_EXPIRED, "the EDR token has expired; start or resume the transfer for a new one")
    return PactError(ErrorKind.ACCESS_DENIED, "the token does not grant access")


class EdrAccess:
    """The ``EdrAuth`` validator: ``await access(token) -> Principal | None``.

    ``plane`` returns the running control plane (built after this object, at start-up).
    """

    def __init__(self, plane: Callable[[], Any], clock: Callable[[], datetime] | None = None) -> None:
        self._plane = plane
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._agreements: dict[str, Agreement] = {}  # agreements are immutable once stored

    async def __call__(self, token: str) -> Principal | None:
        plane = self._plane()
        claims = await plane.tokens.validate(token)
        if claims is None:
            await self._refuse(plane, token)
            return None
        store = plane.store
        transfer = await store.transfers.get(str(claims.get("transferProcessId") or ""))
        agreement = await self._agreement(store, str(claims.get("agreementId") or ""))
        asset = await store.assets.get(agreement.asset_id) if agreement is not None else None
        return principal_for(claims, transfer, agreement, asset.body if asset is not None else None)

    async def _agreement(self, store: Any, agreement_id: str) -> Agreement | None:
        hit = self._agreements.get(agreement_id)
        if hit is None:
            hit = await store.agreements.get(agreement_id)
            if hit is not None:
                self._agreements[agreement_id] = hit
        return hit

    async def _refuse(self, plane: Any, token: str) -> None:
        """Raise the PACT error for a token we signed that is no longer live; return for others."""
        key = plane.tokens.key.public
        try:
            claims = jwt.decode(token, key.cryptography_key(), algorithms=[key.jws_alg],
                                options={"verify_exp": False, "verify_aud": False, "require": ["jti", "agreementId"]})
        except jwt.InvalidTokenError:
            return  # not one of ours: let the next authenticator look at it
        edr = await plane.store.edrs.find_by_token_id(str(claims["jti"]))
        transfer = await plane.store.transfers.get(str(claims.get("transferProcessId") or ""))
        raise refusal(claims, edr, transfer, self._clock())
