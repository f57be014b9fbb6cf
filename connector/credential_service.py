"""DCP 1.0 Credential Service of one connector: `POST <base>/presentations/query`.

A verifier we called got an access token from us (inside our self-issued ID token, claim
`token`; see `connector.dcp_auth`). It comes back here with that token and a
`PresentationQueryMessage`; we check the token is ours, unexpired, issued to this verifier and
grants the requested scopes, and answer with a `PresentationResponseMessage` holding one
presentation, signed by our DID key and addressed to the verifier, over the matching
credentials from the connector's credential files.

The verifier may send the access token either wrapped in its own self-issued ID token (as
DCP 1.0 and EDC do: `iss` = `sub` = verifier, `aud` = us, `token` = access token), which binds
the token to the verifier, or bare as a bearer token (then the token's `sub` is taken as the
verifier). Either way the presentation is addressed to the verifier named in the token.

`ConnectorIdentity` (our DID, key, credentials, DID document) and `add_identity_routes`
(our did:web document + this service) are what a connector app mounts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from aiohttp import web

from identity.dcp import (
    DcpError,
    MemoryReplayCache,
    PresentationQueryMessage,
    PresentationResponseMessage,
    ReplayCheck,
    build_membership_presentation,
    credentials_for_scopes,
    parse_message,
    validate_access_token,
    validate_id_token,
)
from identity.did.did_web import credential_service, data_service, did_web_document, did_web_to_url
from identity.did.document import DidDocument
from identity.did.resolver import DidResolver
from identity.errors import IdentityError
from identity.files import read_limited_text
from identity.jose import JoseError, split_jwt
from identity.keys import KeyPair

log = logging.getLogger(__name__)

CREDENTIAL_SERVICE_PATH = "/api/credentials"
QUERY_PATH = "/presentations/query"
DSP_PATH = "/api/dsp"
MAX_CREDENTIAL_FILE_BYTES = 1024 * 1024
MAX_QUERY_BYTES = 64 * 1024


class CredentialFileError(ValueError):
    """A credential file cannot be used; the message names the file."""


def load_credential_file(path: str | Path) -> dict[str, Any] | str:
    """A compact vc+jwt (one line) or a JSON credential (DI-secured or enveloped)."""
    p = Path(path)
    text = read_limited_text(p, "credential file", MAX_CREDENTIAL_FILE_BYTES, CredentialFileError).strip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise CredentialFileError(f"credential file {p} is not valid JSON: {exc}") from None
        return doc  # type: ignore[no-any-return]
    try:
        split_jwt(text)
    except JoseError as exc:
        raise CredentialFileError(f"credential file {p} is neither JSON nor a compact JWT: {exc}") from None
    return text


@dataclass
class ConnectorIdentity:
    """Who this connector is in DCP terms: its DID and key, the credentials it can present, and the
    URLs its DID document advertises."""

    did: str
    key: KeyPair
    credentials: list[dict[str, Any] | str] = field(default_factory=list)
    base_url: str = ""
    key_fragment: str = "key-1"

    @property
    def kid(self) -> str:
        return f"{self.did}#{self.key_fragment}"

    @property
    def credential_service_url(self) -> str:
        return self.base_url.rstrip("/") + CREDENTIAL_SERVICE_PATH

    def did_document(self) -> DidDocument:
        services = []
        if self.base_url:
            services = [credential_service(self.did, self.credential_service_url),
                        data_service(self.did, self.base_url.rstrip("/") + DSP_PATH)]
        return did_web_document(self.did, [(self.key_fragment, self.key.public)], services=services)

    @classmethod
    def load(cls, did: str, key_file: str | Path, credential_files: Sequence[str | Path] = (), *,
             base_url: str = "") -> ConnectorIdentity:
        return cls(did, KeyPair.load(key_file), [load_credential_file(p) for p in credential_files], base_url)


class QueryRefused(Exception):
    """The query is refused: `status` 400 (bad message), 401 (bad token) or 403 (scope not granted)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class CredentialService:
    """Answers presentation queries for one holder; no HTTP here, so it is testable directly."""

    def __init__(
        self,
        identity: ConnectorIdentity,
        resolver: DidResolver,
        *,
        replay_check: ReplayCheck | None = None,
        presentation_format: Literal["jwt", "di"] = "jwt",
    ) -> None:
        self.identity = identity
        self.resolver = resolver
        self.replay_check = replay_check or MemoryReplayCache()
        self.presentation_format = presentation_format

    async def _presenter_and_scopes(self, authorization: str | None) -> tuple[str, list[str]]:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise QueryRefused(401, "missing bearer token in Authorization header")
        try:
            _, claims = split_jwt(token)
        except JoseError as exc:
            raise QueryRefused(401, f"bearer token is malformed: {exc}") from None
        holder = self.identity.did
        try:
            if "token" in claims and claims.get("iss") != holder:
                # the verifier's self-issued ID token wrapping our access token
                wrapper = await validate_id_token(token, self.resolver, audience=holder, replay_check=self.replay_check)
                presenter, access = wrapper.issuer, wrapper.access_token or ""
            else:
                presenter, access = claims.get("sub"), token
                if not isinstance(presenter, str):
                    raise DcpError("access token names no verifier (sub)")
            scopes = await validate_access_token(access, self.resolver, holder_did=holder, presenter_did=presenter)
        except (DcpError, IdentityError) as exc:
            raise QueryRefused(401, str(exc)) from None
        return presenter, scopes

    async def answer(self, authorization: str | None, body: object) -> dict[str, Any]:
        """The PresentationResponseMessage for a query, or QueryRefused with the reason."""
        presenter, granted = await self._presenter_and_scopes(authorization)
        try:
            query: PresentationQueryMessage = parse_message(body, PresentationQueryMessage)
        except DcpError as exc:
            raise QueryRefused(400, str(exc)) from None
        if query.scope is None:
            raise QueryRefused(400, "presentationDefinition queries are not supported; query by scope")
        try:
            chosen = credentials_for_scopes(self.identity.credentials, query.scope, granted)
        except DcpError as exc:
            raise QueryRefused(403, str(exc)) from None
        vp = build_membership_presentation(
            holder_did=self.identity.did, key=self.identity.key, kid=self.identity.kid, credentials=chosen,
            audience=presenter, format=self.presentation_format,
        )
        return PresentationResponseMessage(presentation=[vp]).to_json()


CREDENTIAL_SERVICE = web.AppKey("credential_service", CredentialService)


async def _query(request: web.Request) -> web.Response:
    service = request.app[CREDENTIAL_SERVICE]
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _problem(413, f"query larger than {MAX_QUERY_BYTES} bytes")
    try:
        body: Any = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError) as exc:
        return _problem(400, f"request body is not valid JSON: {exc}")
    try:
        answer = await service.answer(request.headers.get("Authorization"), body)
    except QueryRefused as exc:
        log.info("presentation query refused (%s): %s", exc.status, exc.reason)
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if exc.status == 401 else None
        return _problem(exc.status, exc.reason, headers)
    return web.json_response(answer)


def _problem(status: int, reason: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": reason, "status": status}, status=status, headers=headers)


def create_credential_service_app(service: CredentialService) -> web.Application:
    """The sub-app to mount at `CREDENTIAL_SERVICE_PATH` (the DID document's CredentialService)."""
    app = web.Application(client_max_size=MAX_QUERY_BYTES)
    app[CREDENTIAL_SERVICE] = service
    app.router.add_post(QUERY_PATH, _query)
    return app


def add_identity_routes(app: web.Application, service: CredentialService) -> None:
    """Serve our did:web document at its did:web path and mount the Credential Service."""
    doc = service.identity.did_document().to_json()

    async def did_document(request: web.Request) -> web.Response:
        return web.json_response(doc, content_type="application/did+json")

    path = urlsplit(did_web_to_url(service.identity.did, allow_http_loopback=True)).path
    app.router.add_get(path, did_document)
    app.add_subapp(CREDENTIAL_SERVICE_PATH, create_credential_service_app(service))


__all__ = [
    "CREDENTIAL_SERVICE_PATH", "ConnectorIdentity", "CredentialFileError", "CredentialService", "QueryRefused",
    "add_identity_routes", "create_credential_service_app", "load_credential_file",
]
