"""Connector settings: a TOML file, then `KAKEHASHI_*` environment variables on top.

Environment wins so that one config file can serve several replicas (or a container image)
with only the port, database URL or secrets changed per instance.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any, Literal, Mapping
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ENV_PREFIX = "KAKEHASHI_"


class ConfigError(ValueError):
    """The configuration is unusable; the message names the setting and the problem."""


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _partner_url(value: str | None, what: str) -> str | None:
    """An absolute http(s) URL without credentials, query or fragment (trailing '/' dropped)."""
    if value is None:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an absolute http(s) URL, got {value!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{what} must not carry credentials; use partner_client_id / partner_client_secret")
    if parts.query or parts.fragment:
        raise ValueError(f"{what} must not have a query or fragment, got {value!r}")
    return value.strip().rstrip("/")


class PactClient(BaseModel):
    """A PACT-only partner of the direct PACT host (OAuth2 client credentials at /api/public/auth/token).

    ``client_id`` / ``client_secret`` are what *we* issued to the partner. To answer its
    ``RequestCreated`` events and to send it ``Published`` notifications we also need where
    its PACT API is (``events_base_url``: events go to ``{events_base_url}/2|3/events``) and
    the credentials *it* issued to us for its ``/auth/token`` (``partner_client_id`` /
    ``partner_client_secret``; ``partner_token_url`` if the token endpoint lives elsewhere).
    ``subscribe`` lists the API versions ("2", "3") it gets ``Published`` events for.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=16)
    scopes: tuple[str, ...] = ("footprint:list", "footprint:read", "events:write")
    footprint_ids: tuple[str, ...] | None = None
    signed_delivery: bool = False
    events_base_url: str | None = Field(default=None, description="The partner's PACT API root (where /2/events is)")
    partner_client_id: str | None = Field(default=None, min_length=1, description="Our client id at the partner")
    partner_client_secret: str | None = Field(default=None, min_length=1, description="Our secret at the partner")
    partner_token_url: str | None = Field(default=None, description="Default {events_base_url}/auth/token")
    subscribe: tuple[str, ...] = Field(default=(), description='API versions to send Published events for: "2", "3"')

    @field_validator("events_base_url")
    @classmethod
    def _events_base_url(cls, value: str | None) -> str | None:
        return _partner_url(value, "events_base_url")

    @field_validator("partner_token_url")
    @classmethod
    def _token_url(cls, value: str | None) -> str | None:
        return _partner_url(value, "partner_token_url")

    @field_validator("subscribe", mode="before")
    @classmethod
    def _versions(cls, value: Any) -> Any:
        if isinstance(value, (str, int)):
            value = [value]
        if not isinstance(value, (list, tuple)):
            return value  # pydantic names the type problem
        out: list[str] = []
        for item in value:
            version = str(item).strip() if isinstance(item, (str, int)) and not isinstance(item, bool) else None
            if version not in ("2", "3"):
                raise ValueError(f'subscribe lists PACT API versions "2" and/or "3", got {item!r}')
            if version not in out:
                out.append(version)
        return tuple(out)

    @model_validator(mode="after")
    def _event_delivery(self) -> "PactClient":
        has_credentials = (self.partner_client_id is not None, self.partner_client_secret is not None)
        if any(has_credentials) and not all(has_credentials):
            raise ValueError("partner_client_id and partner_client_secret go together")
        if self.events_base_url is None:
            for name in ("partner_client_id", "partner_token_url"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} is only used with events_base_url (where the partner receives events)")
            if self.subscribe:
                raise ValueError("subscribe needs events_base_url (where the partner receives Published events)")
        elif not all(has_credentials):
            raise ValueError("events_base_url needs partner_client_id and partner_client_secret: the credentials "
                             "the partner issued to us for its /auth/token (PACT events are sent with its token)")
        return self

    @property
    def sends_events(self) -> bool:
        return self.events_base_url is not None

    def insecure_urls(self) -> list[str]:
        """Partner URLs that are plain http (allowed only on loopback with allow_http_loopback)."""
        return [u for u in (self.events_base_url, self.partner_token_url) if u and u.startswith("http://")]


class Settings(BaseModel):
    """Everything one connector process needs to know about itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Human-readable company name, e.g. 'JP Battery Supplier'")
    participant_id: str = Field(description="Our DID (did:web), used as DSP participantId and DCP iss")
    data_space: str = Field(default="ouranos-jp", description="Data space we are a member of")
    host: str = "127.0.0.1"
    port: int = Field(default=8181, ge=0, le=65535)
    public_url: str = Field(default="", description="Base URL partners reach us at; derived from host:port when empty")
    database: str = Field(default="sqlite+aiosqlite:///kakehashi.db")
    key_file: Path = Field(description="Private JWK of the connector's DID key (0600)")
    api_key: str = Field(min_length=16, description="X-Api-Key for the Management API")
    trust_file: Path | None = None
    credential_files: tuple[Path, ...] = ()
    did_bundle: Path | None = None
    allow_http_loopback: bool = Field(
        default=False, description="Allow http:// did:web and DSP peers on loopback (tests, one-machine connect-a-thons)"
    )
    replica_id: str = Field(
        default="",
        description="Lease owner id; must be unique among live replicas and stable across restarts "
        "(default host:port), so a restarted replica takes its unfinished work back at once",
    )
    log_level: str = "INFO"
    event_loop: Literal["auto", "uvloop", "asyncio"] = Field(
        default="auto", description="auto: uvloop when installed (less CPU per request), else asyncio's loop")
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    pact_clients: tuple[PactClient, ...] = Field(default=(), description="Direct PACT partners ([[connector.pact_clients]])")
    footprint_status: bool = Field(
        default=True, description="Give each published footprint credential a revocation entry in our status list "
        "(served at /status/footprints/N), so it can be revoked through the Management API; the lists "
        "stay served when this is turned off, for the credentials published before")
    footprint_status_ttl: int = Field(
        default=300, ge=1, le=86_400, description="Seconds verifiers may cache our status list (its ttl)")

    @model_validator(mode="after")
    def _default_replica_id(self) -> "Settings":
        if not self.replica_id:
            object.__setattr__(self, "replica_id", f"{os.uname().nodename}:{self.port}")
        return self

    @model_validator(mode="after")
    def _pact_clients(self) -> "Settings":
        seen: set[str] = set()
        for i, client in enumerate(self.pact_clients):
            if client.client_id in seen:
                raise ValueError(f"pact_clients[{i}]: client_id {client.client_id!r} appears twice")
            seen.add(client.client_id)
            for url in client.insecure_urls():
                host = urlsplit(url).hostname or ""
                if not (self.allow_http_loopback and _is_loopback_host(host)):
                    raise ValueError(f"pact_clients[{i}] ({client.client_id}): {url} is plain http; partner "
                                     "endpoints must be https (http only on loopback with allow_http_loopback)")
        return self

    @field_validator("participant_id")
    @classmethod
    def _did(cls, value: str) -> str:
        if not value.startswith("did:"):
            raise ValueError("must be a DID, e.g. did:web:example.com")
        return value

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


def _coerce_env(raw: str, annotation: Any) -> Any:
    text = str(annotation)
    if "bool" in text:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if "tuple" in text:
        return tuple(p for p in raw.split(os.pathsep) if p)
    return raw


def read_toml(file: Path, error: type[Exception], what: str) -> dict[str, Any]:
    """The top level of a TOML file; an unreadable or invalid file raises ``error`` naming ``what``."""
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"cannot read {what}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{what} is not valid TOML: {exc}") from None


def settings_data(path: str | os.PathLike[str] | None, env: Mapping[str, str], *, table: str,
                  model: type[BaseModel], prefix: str, error: type[Exception],
                  path_keys: tuple[str, ...]) -> tuple[dict[str, Any], Path]:
    """``[table]`` of a TOML file (or the whole file, or nothing without a file), then the
    ``prefix + FIELD`` environment variables on top, with the ``path_keys`` made relative to
    the file's folder. Returns the raw values and that folder, for ``model`` to validate."""
    data: dict[str, Any] = {}
    base = Path(".")
    if path is not None:
        file = Path(path)
        raw = read_toml(file, error, f"config {file}")
        section = raw.get(table, raw)
        if not isinstance(section, dict):
            raise error(f"config {file}: [{table}] must be a table")
        data.update(section)
        base = file.parent
    for field_name, info in model.model_fields.items():
        key = prefix + field_name.upper()
        if key in env:
            data[field_name] = _coerce_env(env[key], info.annotation)
    # Relative paths in a config file are relative to that file, as people expect.
    for key in path_keys:
        if isinstance(data.get(key), str) and not Path(data[key]).is_absolute():
            data[key] = str(base / data[key])
    return data, base


def validation_problems(exc: ValidationError) -> str:
    """A pydantic error as one line: ``field: message; field: message``."""
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}" for err in exc.errors())


def load_settings(path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None) -> Settings:
    """Read `[connector]` from a TOML file (if any), apply environment overrides, validate."""
    env = os.environ if env is None else env
    data, base = settings_data(path, env, table="connector", model=Settings, prefix=ENV_PREFIX, error=ConfigError,
                               path_keys=("key_file", "trust_file", "did_bundle"))
    if isinstance(data.get("credential_files"), (list, tuple)):
        data["credential_files"] = tuple(
            str(base / p) if not Path(p).is_absolute() else p for p in data["credential_files"]
        )
    db = data.get("database")
    if isinstance(db, str) and db.startswith("sqlite+aiosqlite:///") and not db.startswith("sqlite+aiosqlite:////"):
        rel = db[len("sqlite+aiosqlite:///"):]
        if rel and rel != ":memory:":
            data["database"] = "sqlite+aiosqlite:///" + str((base / rel).resolve())
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {validation_problems(exc)}") from None
