"""A shared-secret Authenticator for in-process unit tests only (it lives under tests/, so the
product cannot select it).

Connectors prove who they are with DCP (`connector.dcp_auth`, what `default_authenticator`
builds); there is no setting or environment variable that switches this class on. Unit tests
that exercise DSP handlers or the Management API without running authorities inject it
explicitly (`create_app(settings, authenticator=SharedSecretAuthenticator(...))`).

Tokens are HMAC-signed (HS256 JWT) naming the caller's DID (`iss` = `sub`), bound to the
receiver's DID (`aud`), valid for a minute, with a `jti`. The caller's credentials travel
inside the token as a `vc` claim and are believed as-is: that is what makes policy flows
testable without authorities, and exactly why nothing outside tests may construct it.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
from aiohttp import web

from connector.auth import AuthError, Caller

TOKEN_LIFETIME_S = 60
_MIN_SECRET_LEN = 16
_LEEWAY_S = 5


class SharedSecretAuthenticator:
    """HMAC bearer tokens between parties that share `secret` (tests only)."""

    def __init__(
        self,
        participant_id: str,
        secret: str,
        *,
        credentials: tuple[dict[str, Any] | str, ...] = (),
        data_space: str = "",
        lifetime_s: int = TOKEN_LIFETIME_S,
    ) -> None:
        if len(secret) < _MIN_SECRET_LEN:
            raise ValueError(f"dev auth secret must be at least {_MIN_SECRET_LEN} characters")
        self.participant_id = participant_id
        self._secret = secret.encode("utf-8")
        self._credentials = credentials
        self._data_space = data_space
        self._lifetime_s = lifetime_s

    def issue(self, audience: str, *, now: float | None = None) -> str:
        now = time.time() if now is None else now
        claims: dict[str, Any] = {
            "iss": self.participant_id,
            "sub": self.participant_id,
            "aud": audience,
            "iat": int(now),
            "exp": int(now) + self._lifetime_s,
            "jti": str(uuid.uuid4()),
            "vc": list(self._credentials),
            "ds": self._data_space,
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    async def outgoing_authorization(self, audience: str) -> str:
        return f"Bearer {self.issue(audience)}"

    async def authenticate(self, request: web.Request) -> Caller:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(401, "missing bearer token in Authorization header")
        return self.verify(token.strip())

    def verify(self, token: str) -> Caller:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=self.participant_id,
                leeway=_LEEWAY_S,
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError(401, "bearer token expired") from None
        except jwt.InvalidAudienceError:
            raise AuthError(401, f"bearer token is not addressed to {self.participant_id}") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(401, f"invalid bearer token: {exc}") from None
        if claims["iss"] != claims["sub"] or not str(claims["iss"]).startswith("did:"):
            raise AuthError(401, "bearer token iss and sub must be the same DID")
        creds = claims.get("vc") or []
        if not isinstance(creds, list):
            raise AuthError(401, "bearer token vc claim must be a list")
        spaces = (claims["ds"],) if isinstance(claims.get("ds"), str) and claims["ds"] else ()
        return Caller(
            participant_id=claims["iss"],
            credentials=tuple(c for c in creds if isinstance(c, dict)),
            data_spaces=spaces,
            extra={"auth": "dev-shared-secret", "jti": claims["jti"]},
        )
