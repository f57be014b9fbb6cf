"""OAuth2 client-credentials token endpoint (RFC 6749 section 4.4) and OpenID discovery.

Clients authenticate with HTTP Basic (``client_secret_basic``) or form fields
(``client_secret_post``), not both. Errors are RFC 6749 section 5.2 JSON
(``invalid_request``, ``invalid_client`` (401), ``unsupported_grant_type``,
``invalid_scope``), never PACT ``{"code"}`` bodies: this is the OAuth2 part of the API.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import unquote_plus

from aiohttp import web

from .auth import ClientAuthError, TokenIssuer

TOKEN_PATH = "/auth/token"
DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/.well-known/jwks.json"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(error: str, description: str, status: int = 400) -> web.Response:
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="pact"'
    body = {"error": error, "error_description": description}
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=headers)


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise ClientAuthError("invalid_request", "Authorization must be HTTP Basic client credentials")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ClientAuthError("invalid_client", "malformed HTTP Basic credentials", 401) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise ClientAuthError("invalid_client", "malformed HTTP Basic credentials", 401)
    # RFC 6749 2.3.1: id and secret are form-urlencoded before Basic encoding
    return unquote_plus(client_id), unquote_plus(secret)


def add_oauth_routes(app: web.Application, auth: Any) -> None:
    """Serve the token endpoint and discovery if ``auth`` can issue tokens."""
    if not isinstance(auth, TokenIssuer) and not (hasattr(auth, "issue_token") and hasattr(auth, "discovery")):
        return
    issuer: TokenIssuer = auth

    def base_of(request: web.Request, relative: str) -> str:
        path = request.path
        prefix = path[: len(path) - len(relative)] if path.endswith(relative) else ""
        return f"{request.scheme}://{request.host}{prefix}"

    async def token(request: web.Request) -> web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return _oauth_error("invalid_request", "send the token request as application/x-www-form-urlencoded")
        try:
            form = await request.post()
        except ValueError:
            return _oauth_error("invalid_request", "unreadable form body")
        grant = form.get("grant_type")
        header = request.headers.get("Authorization")
        try:
            if header and ("client_id" in form and "client_secret" in form):
                raise ClientAuthError("invalid_request", "use one client authentication method, not both")
            if header:
                client_id, secret = _basic_credentials(header)
            elif "client_id" in form or "client_secret" in form:
                client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
            else:
                raise ClientAuthError("invalid_client", "client authentication required (HTTP Basic or form)", 401)
            if grant is None:
                raise ClientAuthError("invalid_request", "grant_type is required")
            if grant != "client_credentials":
                raise ClientAuthError("unsupported_grant_type", f"only client_credentials is supported, got {str(grant)[:50]!r}")
            scope = form.get("scope")
            granted = issuer.issue_token(client_id, secret, str(scope) if scope else None)
        except ClientAuthError as exc:
            return _oauth_error(exc.error, exc.description, exc.status)
        body = {
            "access_token": granted.access_token,
            "token_type": "bearer",
            "expires_in": granted.expires_in,
            "scope": granted.scope,
        }
        return web.Response(text=json.dumps(body), content_type="application/json", headers=_NO_STORE)

    async def discovery(request: web.Request) -> web.Response:
        base = base_of(request, DISCOVERY_PATH)
        doc: dict[str, Any] = {
            "issuer": base,
            "token_endpoint": base + TOKEN_PATH,
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
        }
        doc.update(issuer.discovery())
        if getattr(issuer, "jwks", None) and issuer.jwks() is not None:  # type: ignore[attr-defined]
            doc["jwks_uri"] = base + JWKS_PATH
        return web.json_response(doc)

    async def jwks(request: web.Request) -> web.Response:
        keys = issuer.jwks() if hasattr(issuer, "jwks") else None  # type: ignore[attr-defined]
        if keys is None:
            raise web.HTTPNotFound()
        return web.json_response(keys)

    app.add_routes([
        web.post(TOKEN_PATH, token),
        web.get(DISCOVERY_PATH, discovery, allow_head=False),
        web.get(JWKS_PATH, jwks, allow_head=False),
    ])
