"""The HTTP face of a data-space authority (`kakehashi authority run`).

Serves, without authentication: the authority's DID document at the did:web location
(`/.well-known/did.json`, or `<path>/did.json` for a path-based did:web) and its signed
status list credentials at `<base>/status/{listId}`. Behind an admin API key (`X-Api-Key`):

    POST /api/admin/credentials               {subjectDid, claims?, format?, validDays?} -> 201
    GET  /api/admin/credentials[?subjectDid=]  issued-credential records
    GET  /api/admin/credentials/{id}           one record
    POST /api/admin/credentials/{id}/revoke    -> the record, revoked (idempotent)

Every change is saved to the state file before the answer goes out. If the state file is
changed by someone else (offline `kakehashi authority issue/revoke`), it is re-read before the
next request, so a revocation made offline shows in the served list.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connector.config import settings_data, validation_problems
from identity.authority import Authority, AuthorityError, UnknownCredential, base_url_for, read_state
from identity.did.did_web import did_web_from_url, did_web_to_url
from identity.did.errors import DidError
from identity.keys import KeyError_, KeyPair

log = logging.getLogger(__name__)

ENV_PREFIX = "KAKEHASHI_AUTHORITY_"
AUTHORITY = web.AppKey("authority", Authority)
ADMIN_API_KEY = web.AppKey("admin_api_key", str)
LOCK = web.AppKey("authority_lock", asyncio.Lock)
STATE_STAMP = web.AppKey("state_stamp", list)
MAX_BODY = web.AppKey("max_body_bytes", int)
CREDENTIAL_FORMAT = web.AppKey("credential_format", str)
MAX_VALID_DAYS = 3650

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class AuthorityConfigError(ValueError):
    """The authority configuration is unusable; the message names the setting."""


class AuthoritySettings(BaseModel):
    """One authority process. `did` defaults to the did:web of `public_url` (or host:port)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    data_space: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    did: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=8290, ge=0, le=65535)
    public_url: str = ""
    key_file: Path
    state_file: Path
    admin_api_key: str = Field(min_length=16)
    allow_http_loopback: bool = False
    credential_format: Literal["jwt", "di"] = "jwt"
    status_ttl_ms: int = Field(default=60_000, ge=0)
    validity_days: int = Field(default=365, ge=1, le=MAX_VALID_DAYS)
    max_body_bytes: int = Field(default=65_536, ge=1024)
    log_level: str = "INFO"

    @field_validator("did")
    @classmethod
    def _did(cls, value: str) -> str:
        if value and not value.startswith("did:web:"):
            raise ValueError("must be a did:web")
        return value

    def identity(self, port: int | None = None) -> tuple[str, str]:
        """(DID, base URL) once the listening port is known (`port` = 0 picks one at start)."""
        if self.did:
            url = did_web_to_url(self.did, allow_http_loopback=self.allow_http_loopback)
            base = url.removesuffix("/.well-known/did.json").removesuffix("/did.json")
            return self.did, self.public_url.rstrip("/") or base
        base = self.public_url.rstrip("/")
        if not base:
            actual = self.port if port is None else port
            if actual == 0:
                return self._identity_from_state()
            base = f"http://{self.host}:{actual}"
        return did_web_from_url(base), base

    def _identity_from_state(self) -> tuple[str, str]:
        """With an ephemeral port, offline commands take the DID the running authority recorded."""
        try:
            did = read_state(self.state_file).get("did") if self.state_file.exists() else None
        except AuthorityError:
            did = None
        if not isinstance(did, str):
            raise AuthorityConfigError("set public_url or did (or a fixed port): the DID depends on the URL")
        try:
            return did, base_url_for(did, allow_http_loopback=self.allow_http_loopback)
        except DidError as exc:
            raise AuthorityConfigError(f"state file {self.state_file}: {exc}") from None

    def load_key(self) -> KeyPair:
        try:
            return KeyPair.load(self.key_file)
        except KeyError_ as exc:
            raise AuthorityConfigError(f"{exc} (create one with `kakehashi keys new --out {self.key_file}`)") from None

    def open_authority(self, port: int | None = None) -> Authority:
        did, base = self.identity(port)
        try:
            return Authority.create(
                did, self.load_key(), self.data_space, base_url=base, state_file=self.state_file,
                allow_http_loopback=self.allow_http_loopback, name=self.name or None,
                status_ttl_ms=self.status_ttl_ms or None, validity=timedelta(days=self.validity_days),
            )
        except (AuthorityError, DidError) as exc:
            raise AuthorityConfigError(str(exc)) from None


def load_authority_settings(path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None) -> AuthoritySettings:
    """`[authority]` from a TOML file, then `KAKEHASHI_AUTHORITY_*` overrides; relative paths are
    relative to the file."""
    env = os.environ if env is None else env
    data, _base = settings_data(path, env, table="authority", model=AuthoritySettings, prefix=ENV_PREFIX,
                                error=AuthorityConfigError, path_keys=("key_file", "state_file"))
    try:
        return AuthoritySettings(**data)
    except ValidationError as exc:
        raise AuthorityConfigError(f"invalid authority configuration: {validation_problems(exc)}") from None


# -- the application ----------------------------------------------------------------------
def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason, "status": status}, status=status)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bad input is a 4xx with a reason; only genuine faults are 500 (and logged)."""
    try:
        return await handler(request)
    except UnknownCredential as exc:
        return _error(404, str(exc))
    except AuthorityError as exc:
        return _error(400, str(exc))
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"request body exceeds {request.app[MAX_BODY]} bytes")
    except web.HTTPException as exc:
        if exc.status >= 400:
            return _error(exc.status, exc.text or exc.reason)
        raise
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception("unhandled error serving %s %s", request.method, request.path)
        return _error(500, f"internal error ({type(exc).__name__}); see the authority log")


def _stamp(path: Path | None) -> int | None:
    try:
        return path.stat().st_mtime_ns if path is not None else None
    except OSError:
        return None


async def _fresh(app: web.Application) -> Authority:
    """The authority, re-read from its state file if someone else changed it."""
    authority = app[AUTHORITY]
    stamp = _stamp(authority.state_file)
    if authority.state_file is not None and stamp is not None and stamp != app[STATE_STAMP][0]:
        async with app[LOCK]:
            await asyncio.to_thread(authority.load_state, authority.state_file)
            app[STATE_STAMP][0] = _stamp(authority.state_file)
    return authority


async def _save(app: web.Application) -> None:
    authority = app[AUTHORITY]
    await asyncio.to_thread(authority.save)
    app[STATE_STAMP][0] = _stamp(authority.state_file)


def _require_admin(request: web.Request) -> None:
    given = request.headers.get("X-Api-Key", "")
    if not given:
        raise web.HTTPUnauthorized(text="missing X-Api-Key header")
    if not hmac.compare_digest(given.encode("utf-8"), request.app[ADMIN_API_KEY].encode("utf-8")):
        raise web.HTTPUnauthorized(text="X-Api-Key is not the admin API key")


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise AuthorityError(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise AuthorityError("request body must be a JSON object")
    return body


async def _did_document(request: web.Request) -> web.Response:
    doc = request.app[AUTHORITY].did_document()
    return web.json_response(doc.to_json(), content_type="application/did+json")


async def _status_list(request: web.Request) -> web.Response:
    authority = await _fresh(request.app)
    signed = authority.signed_status_list(request.match_info["listId"])
    headers = {}
    if authority.status_ttl_ms:
        headers["Cache-Control"] = f"max-age={authority.status_ttl_ms // 1000}"
    return web.json_response(signed, content_type="application/vc", headers=headers)


def _issue_args(body: dict[str, Any], default_format: str) -> tuple[str, dict[str, Any], str, timedelta | None]:
    unknown = sorted(set(body) - {"subjectDid", "claims", "format", "validDays"})
    if unknown:
        raise AuthorityError(f"unknown member(s) {', '.join(unknown)}; expected subjectDid, claims, format, validDays")
    subject = body.get("subjectDid")
    if not isinstance(subject, str) or not subject:
        raise AuthorityError("subjectDid is required and must be a DID string")
    claims = body.get("claims", {})
    if not isinstance(claims, dict):
        raise AuthorityError("claims must be a JSON object")
    fmt = body.get("format", default_format)
    if fmt not in ("jwt", "di"):
        raise AuthorityError(f"format {fmt!r} is not 'jwt' or 'di'")
    days = body.get("validDays")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_VALID_DAYS):
        raise AuthorityError(f"validDays must be an integer from 1 to {MAX_VALID_DAYS}")
    return subject, claims, fmt, timedelta(days=days) if days else None


async def _issue(request: web.Request) -> web.Response:
    _require_admin(request)
    subject, claims, fmt, validity = _issue_args(await _json_body(request), request.app[CREDENTIAL_FORMAT])
    authority = await _fresh(request.app)
    async with request.app[LOCK]:
        issued = authority.issue_membership(subject, claims, format=fmt, validity=validity)  # type: ignore[arg-type]
        await _save(request.app)
    log.info("issued %s to %s", issued.record.id, subject)
    location = f"/api/admin/credentials/{issued.record.id}"
    return web.json_response(issued.to_json(), status=201, headers={"Location": location})


def _record_json(authority: Authority, credential_id: str) -> dict[str, Any]:
    rec = authority.record(credential_id)
    return {"id": rec.id, "subjectDid": rec.subject, "format": rec.format, "issuedAt": rec.issued_at,
            "validUntil": rec.valid_until, "revoked": rec.revoked, "revokedAt": rec.revoked_at,
            "statusListCredential": authority.status_list_url(rec.list_id), "statusListIndex": rec.index}


async def _list(request: web.Request) -> web.Response:
    _require_admin(request)
    authority = await _fresh(request.app)
    subject = request.query.get("subjectDid")
    items = [_record_json(authority, cid) for cid, rec in authority.issued.items() if subject in (None, rec.subject)]
    return web.json_response(items)


async def _get(request: web.Request) -> web.Response:
    _require_admin(request)
    return web.json_response(_record_json(await _fresh(request.app), request.match_info["id"]))


async def _revoke(request: web.Request) -> web.Response:
    _require_admin(request)
    authority = await _fresh(request.app)
    async with request.app[LOCK]:
        record = authority.revoke(request.match_info["id"])
        await _save(request.app)
    log.info("revoked %s", record.id)
    return web.json_response(_record_json(authority, record.id))


async def _live(request: web.Request) -> web.Response:
    return web.json_response({"status": "UP"})



def create_authority_app(
    authority: Authority,
    *,
    admin_api_key: str,
    credential_format: str = "jwt",
    max_body_bytes: int = 65_536,
) -> web.Application:
    """The authority's application; routes follow its did:web (path-based DIDs get path routes)."""
    if len(admin_api_key) < 16:
        raise AuthorityConfigError("admin_api_key must be at least 16 characters")
    app = web.Application(middlewares=[_errors], client_max_size=max_body_bytes)
    app[AUTHORITY] = authority
    app[ADMIN_API_KEY] = admin_api_key
    app[CREDENTIAL_FORMAT] = credential_format
    app[MAX_BODY] = max_body_bytes
    app[STATE_STAMP] = [_stamp(authority.state_file)]

    async def lock_ctx(app: web.Application) -> AsyncIterator[None]:
        app[LOCK] = asyncio.Lock()
        yield

    app.cleanup_ctx.append(lock_ctx)
    did_path = urlsplit(did_web_to_url(authority.did, allow_http_loopback=True)).path
    prefix = urlsplit(authority.base_url).path.rstrip("/")
    app.router.add_get(did_path, _did_document)
    app.router.add_get(prefix + "/status/{listId}", _status_list)
    app.router.add_post("/api/admin/credentials", _issue)
    app.router.add_get("/api/admin/credentials", _list)
    app.router.add_get("/api/admin/credentials/{id}", _get)
    app.router.add_post("/api/admin/credentials/{id}/revoke", _revoke)
    app.router.add_get("/health/live", _live)
    return app


def listening_socket(host: str, port: int) -> socket.socket:
    """Bind first, so an ephemeral port (0) is known before the DID that depends on it is made."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, reuse_port=False)
    sock.setblocking(False)
    return sock


async def start_app(app: web.Application, sock: socket.socket) -> web.AppRunner:
    """Serve `app` on an already bound socket; the caller keeps the runner to clean up."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner


__all__ = [
    "ADMIN_API_KEY", "AUTHORITY", "AuthorityConfigError", "AuthoritySettings", "create_authority_app",
    "listening_socket", "load_authority_settings", "start_app",
]
