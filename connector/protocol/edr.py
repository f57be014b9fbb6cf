"""EDR tokens: short-lived JWTs, signed with the connector's key, bound to one transfer.

The provider mints one when a pull transfer starts and records its `jti` (`store.edrs`), so
the data plane can check that a presented token is ours, unexpired, and not revoked (a
suspended, completed or terminated transfer revokes it at once).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from identity.keys import KeyPair

from ..store import Edr, Store

EDR_LIFETIME_S = 600
HTTP_ENDPOINT_TYPE = "https://w3id.org/idsa/v4.1/HTTP"


class EdrTokens:
    def __init__(self, key: KeyPair, issuer: str, store: Store) -> None:
        self.key = key
        self.issuer = issuer
        self.store = store

    def mint(self, *, audience: str, agreement_id: str, transfer_id: str, asset_id: str,
             lifetime_s: int = EDR_LIFETIME_S, now: float | None = None) -> tuple[str, str, datetime]:
        """(token, jti, expiry) for ``audience`` (the consumer DID)."""
        now = time.time() if now is None else now
        jti = str(uuid.uuid4())
        claims: dict[str, Any] = {
            "iss": self.issuer, "sub": audience, "aud": audience, "iat": int(now),
            "exp": int(now) + lifetime_s, "jti": jti,
            "agreementId": agreement_id, "transferProcessId": transfer_id, "assetId": asset_id,
        }
        token = jwt.encode(claims, self.key.cryptography_key(), algorithm=self.key.public.jws_alg,
                           headers={"kid": f"{self.issuer}#key-1"})
        return token, jti, datetime.fromtimestamp(int(now) + lifetime_s, UTC)

    def decode(self, token: str) -> dict[str, Any] | None:
        """The claims of a token we minted with a valid signature, else None."""
        try:
            return jwt.decode(token, self.key.public.cryptography_key(), algorithms=[self.key.public.jws_alg],
                              options={"verify_aud": False, "require": ["exp", "jti", "agreementId"]})
        except jwt.InvalidTokenError:
            return None

    async def validate(self, token: str) -> dict[str, Any] | None:
        """Claims of a live token (signature, expiry, not revoked), for the data plane."""
        claims = self.decode(token)
        if claims is None:
            return None
        edr = await self.store.edrs.active_by_token_id(claims["jti"])
        return claims if edr is not None else None


def consumer_edr(transfer_id: str, agreement_id: str, data_address: dict[str, Any]) -> Edr | None:
    """What the consumer keeps from a provider's DataAddress (None when it carries no token)."""
    props = {p.get("name"): p.get("value") for p in data_address.get("endpointProperties") or []
             if isinstance(p, dict)}
    token = props.get("authorization")
    if not isinstance(token, str):
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        claims = {}
    jti = str(claims.get("jti") or uuid.uuid4())
    exp = claims.get("exp")
    expires = (datetime.fromtimestamp(exp, UTC) if isinstance(exp, (int, float))
               else datetime.now(UTC) + timedelta(seconds=EDR_LIFETIME_S))
    return Edr(transfer_id=transfer_id, agreement_id=agreement_id, token_id=jti,
               endpoint=str(data_address.get("endpoint") or ""), expires_at=expires, token=token)
