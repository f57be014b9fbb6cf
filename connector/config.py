"""Connector settings: a TOML file, then `KAKEHASHI_*` environment variables on top.

Environment wins so that one config file can serve several replicas (or a container image)
with only the port, database URL or secrets changed per instance.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ENV_PREFIX = "KAKEHASHI_"


class ConfigError(ValueError):
    """The configuration is unusable; the message names the setting and the problem."""


class PactClient(BaseModel):
    """A PACT-only partner of the direct PACT host (OAuth2 client credentials at /api/public/auth/token)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=16)
    scopes: tuple[str, ...] = ("footprint:list", "footprint:read", "events:write")
    footprint_ids: tuple[str, ...] | None = None
    signed_delivery: bool = False


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
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    pact_clients: tuple[PactClient, ...] = Field(default=(), description="Direct PACT partners ([[connector.pact_clients]])")

    @model_validator(mode="after")
    def _default_replica_id(self) -> "Settings":
        if not self.replica_id:
            object.__setattr__(self, "replica_id", f"{os.uname().nodename}:{self.port}")
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


def _coerce_env(name: str, raw: str, annotation: Any) -> Any:
    text = str(annotation)
    if "bool" in text:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if "tuple" in text:
        return tuple(p for p in raw.split(os.pathsep) if p)
    return raw


def load_settings(path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None) -> Settings:
    """Read `[connector]` from a TOML file (if any), apply environment overrides, validate."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    base = Path(".")
    if path is not None:
        file = Path(path)
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config {file}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config {file} is not valid TOML: {exc}") from exc
        table = raw.get("connector", raw)
        if not isinstance(table, dict):
            raise ConfigError(f"config {file}: [connector] must be a table")
        data.update(table)
        base = file.parent
    for field_name, info in Settings.model_fields.items():
        key = ENV_PREFIX + field_name.upper()
        if key in env:
            data[field_name] = _coerce_env(field_name, env[key], info.annotation)
    # Relative paths in a config file are relative to that file, as people expect.
    for key in ("key_file", "trust_file", "did_bundle"):
        if isinstance(data.get(key), str) and not Path(data[key]).is_absolute():
            data[key] = str(base / data[key])
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
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
