"""Trust lists per data space and cross-recognition between data spaces.

A data space (e.g. `ouranos-jp`, `taiwan-tw`) trusts its authority DIDs for the credential
types it accepts, plus named extra issuers for named types. It may also *recognise* another
data space for some types: then whoever that space trusts directly for those types is trusted
here too. Recognition is deliberately not transitive (A recognises B, B recognises C does not
make A trust C), so every trust path is one a governance body wrote down.

File format (TOML or JSON, same shape):

    [[data_space]]
    name = "ouranos-jp"
    authorities = ["did:web:authority.jp.example"]
    accepted_types = ["MembershipCredential"]
    [[data_space.issuers]]
    did = "did:web:acme.jp.example"
    types = ["ProductFootprintCredential"]
    [[data_space.recognises]]
    data_space = "taiwan-tw"
    types = ["MembershipCredential"]
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from identity.errors import IdentityError
from identity.files import json_problem, read_limited_text

MAX_TRUST_FILE_BYTES = 1024 * 1024


class TrustError(IdentityError):
    """A trust list is malformed or inconsistent; the message names the entry."""


def _did(value: str) -> str:
    if not isinstance(value, str) or not value.startswith("did:") or value.count(":") < 2 or "#" in value:
        raise ValueError(f"{value!r} is not a DID")
    return value


class TrustedIssuer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    did: str
    types: list[str] = Field(min_length=1)

    @field_validator("did")
    @classmethod
    def _check_did(cls, value: str) -> str:
        return _did(value)


class Recognition(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    data_space: str
    types: list[str] = Field(min_length=1)


class TrustList(BaseModel):
    """One data space's trust anchors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    authorities: list[str] = Field(default_factory=list)
    accepted_types: list[str] = Field(default_factory=list)
    issuers: list[TrustedIssuer] = Field(default_factory=list)
    recognises: list[Recognition] = Field(default_factory=list)
    description: str | None = None

    @field_validator("authorities")
    @classmethod
    def _dids(cls, value: list[str]) -> list[str]:
        return [_did(v) for v in value]

    @model_validator(mode="after")
    def _consistent(self) -> TrustList:
        if self.authorities and not self.accepted_types:
            raise ValueError("authorities are listed but accepted_types is empty")
        if any(r.data_space == self.name for r in self.recognises):
            raise ValueError("a data space cannot recognise itself")
        return self

    def trusts_directly(self, issuer: str, credential_type: str) -> bool:
        if issuer in self.authorities and credential_type in self.accepted_types:
            return True
        return any(i.did == issuer and credential_type in i.types for i in self.issuers)


class TrustStore:
    """Several data spaces' trust lists; answers "trusted by whom" for an issuer and type."""

    def __init__(self, lists: Iterable[TrustList] = ()) -> None:
        self._lists: dict[str, TrustList] = {}
        for tl in lists:
            self.add(tl)

    def add(self, trust_list: TrustList) -> None:
        if trust_list.name in self._lists:
            raise TrustError(f"data space {trust_list.name!r} is listed twice")
        self._lists[trust_list.name] = trust_list

    @property
    def names(self) -> list[str]:
        return list(self._lists)

    def get(self, name: str) -> TrustList:
        try:
            return self._lists[name]
        except KeyError:
            raise TrustError(f"no trust list for data space {name!r} (known: {', '.join(self._lists) or 'none'})") from None

    def check_references(self) -> None:
        """Every recognised data space must itself be in the store."""
        for tl in self._lists.values():
            for rec in tl.recognises:
                if rec.data_space not in self._lists:
                    raise TrustError(f"data space {tl.name!r} recognises unknown data space {rec.data_space!r}")

    def who_trusts(self, issuer_did: str, credential_type: str) -> list[str]:
        """Names of the data spaces that trust `issuer_did` for `credential_type`, directly or
        through one recognition step."""
        direct = {n for n, tl in self._lists.items() if tl.trusts_directly(issuer_did, credential_type)}
        out: list[str] = []
        for name, tl in self._lists.items():
            if name in direct or any(
                credential_type in rec.types and rec.data_space in direct for rec in tl.recognises
            ):
                out.append(name)
        return out

    def is_trusted(self, issuer_did: str, credential_types: Iterable[str], data_space: str | None = None) -> list[str]:
        """Data spaces (or just `data_space`) trusting the issuer for any of the credential's types."""
        spaces: list[str] = []
        for t in credential_types:
            if t == "VerifiableCredential":
                continue
            for name in self.who_trusts(issuer_did, t):
                if name not in spaces and (data_space is None or name == data_space):
                    spaces.append(name)
        return spaces

    # -- files --------------------------------------------------------------------------
    @classmethod
    def from_data(cls, data: object, *, source: str = "trust list") -> TrustStore:
        if isinstance(data, dict) and "data_space" in data:
            entries = data["data_space"]
        elif isinstance(data, dict) and "data_spaces" in data:
            entries = data["data_spaces"]
        elif isinstance(data, dict) and "name" in data:
            entries = [data]
        elif isinstance(data, list):
            entries = data
        else:
            raise TrustError(f"{source}: expected a 'data_space' list of trust lists")
        if not isinstance(entries, list):
            raise TrustError(f"{source}: 'data_space' must be a list")
        store = cls()
        for i, entry in enumerate(entries):
            label = entry.get("name", f"#{i + 1}") if isinstance(entry, dict) else f"#{i + 1}"
            try:
                store.add(TrustList.model_validate(entry))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "entry"
                msg = first["msg"].removeprefix("Value error, ")
                raise TrustError(f"{source}: data space {label}: {where}: {msg}") from None
            except TrustError as exc:
                raise TrustError(f"{source}: {exc}") from None
        try:
            store.check_references()
        except TrustError as exc:
            raise TrustError(f"{source}: {exc}") from None
        return store

    @classmethod
    def load(cls, path: str | Path) -> TrustStore:
        """Read a trust list file: `.toml` as TOML, anything else as JSON."""
        p = Path(path)
        text = read_limited_text(p, "trust list", MAX_TRUST_FILE_BYTES, TrustError)
        try:
            data: Any = tomllib.loads(text) if p.suffix.lower() == ".toml" else json.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise TrustError(f"trust list {p} is not valid TOML: {exc}") from None
        except json.JSONDecodeError as exc:
            raise TrustError(f"trust list {p} is not valid JSON: {json_problem(exc)}") from None
        return cls.from_data(data, source=f"trust list {p}")

    def to_json(self) -> dict[str, Any]:
        return {"data_space": [tl.model_dump(exclude_none=True) for tl in self._lists.values()]}
