"""A shared-secret Authenticator for tests and one-machine trials, never for production.

Until the DCP authenticator (`connector.dcp_auth`) is wired in, two connectors on loopback
prove who they are with an HMAC-signed bearer token (HS256 JWT) naming the caller's DID
(`iss` = `sub`), bound to the receiver's DID (`aud`), valid for a minute, with a `jti`.
It refuses to exist unless the settings allow loopback HTTP *and* the connector listens on a
loopback address *and* a secret is given (`KAKEHASHI_DEV_AUTH_SECRET`), so it cannot be
switched on by accident on a reachable host.

The caller's credentials (the JSON documents in `credential_files`) travel inside the token
as a `vc` claim and are believed as-is: that is what makes policy flows testable before DCP
exists, and exactly why this class is confined to loopback.
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any, Mapping

import jwt
from aiohttp import web

from .auth import AuthError, Caller
from .config import Settings

SECRET_ENV = "KAKEHASHI_DEV_AUTH_SECRET"
TOKEN_LIFETIME_S = 60
_MIN_SECRET_LEN = 16
_LEEWAY_S = 5


class DevAuthUnavailable(RuntimeError):
    """The shared-secret authenticator was asked for where it must not run."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_credential(path: Path) -> dict[str, Any] | str:
    text = path.read_text(encoding="utf-8").strip()
    if text.startswith("{"):
        doc = json.loads(text)
        if not isinstance(doc, dict):
            raise DevAuthUnavailable(f"credential file {path} must hold a JSON object")
        return doc
    return text  # a compact vc+jwt


class SharedSecretAuthenticator:
    """HMAC bearer tokens between connectors that share `secret` (loopback only)."""

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
            raise DevAuthUnavailable(f"dev auth secret must be at least {_MIN_SECRET_LEN} characters")
        self.participant_id = participant_id
        self._secret = secret.encode("utf-8")
        self._credentials = credentials
        self._data_space = data_space
        self._lifetime_s = lifetime_s

    @classmethod
    def from_settings(cls, settings: Settings, env: Mapping[str, str] | None = None) -> SharedSecretAuthenticator:
        """Build it if (and only if) the settings and host allow it; otherwise say why not."""
        env = os.environ if env is None else env
        if not settings.allow_http_loopback:
            raise DevAuthUnavailable("dev auth needs allow_http_loopback = true")
        if not is_loopback(settings.host):
            raise DevAuthUnavailable(f"dev auth is loopback-only; host {settings.host!r} is not a loopback address")
        secret = env.get(SECRET_ENV, "")
        if not secret:
            raise DevAuthUnavailable(f"dev auth needs {SECRET_ENV}")
        creds = tuple(_read_credential(Path(p)) for p in settings.credential_files)
        return cls(settings.participant_id, secret, credentials=creds, data_space=settings.data_space)

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
