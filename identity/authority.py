"""A data-space authority: its did:web identity, membership credentials, and revocation.

An authority (one per data space: `ouranos-jp`, `taiwan-tw`, ...) issues `MembershipCredential`s
to its participants, each with a `BitstringStatusListEntry` pointing at one of its status lists,
and publishes those lists as signed `BitstringStatusListCredential`s. Revoking sets the bit;
verifiers see it the next time they fetch the list.

This module holds no HTTP server code (that is `connector.authority_app`): an `Authority` is an
in-memory object whose state (status lists, issued-credential register) round-trips through
a JSON state file, written atomically, so `kakehashi authority issue/revoke` can work offline
on the same file the server uses.

`bootstrap_participant` and `trust_store_for` set up a whole identity topology in-process
(authorities, participants with keys, credential files and DID documents, trust lists with
cross-recognition) for tests and the demo.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from identity.credentials import default_cryptosuite, format_datetime, sign_credential_di
from identity.dcp import MEMBERSHIP_TYPE, issue_membership_credential, membership_credential
from identity.did.did_web import credential_service, data_service, did_web_document, did_web_to_url
from identity.did.document import DidDocument, Service
from identity.did.errors import DidError
from identity.errors import IdentityError
from identity.files import read_limited
from identity.keys import KeyPair
from identity.status import StatusError, StatusList, status_entry, status_list_credential
from identity.trust import TrustList, TrustStore

CredentialFormat = Literal["jwt", "di"]
FORMATS: tuple[CredentialFormat, ...] = ("jwt", "di")
STATE_VERSION = 1
MAX_STATE_BYTES = 64 * 1024 * 1024
RESERVED_SUBJECT_CLAIMS = frozenset({"id", "type", "memberOf", "since"})
DEFAULT_VALIDITY = timedelta(days=365)


class AuthorityError(IdentityError):
    """An authority operation was refused (unknown credential, bad claims, unreadable state...)."""


class UnknownCredential(AuthorityError):
    """No credential with that id was issued by this authority."""


@dataclass
class IssuedRecord:
    """What the authority remembers about a credential it issued (never the credential itself)."""

    id: str
    subject: str
    list_id: str
    index: int
    issued_at: str
    valid_until: str | None
    format: str
    revoked_at: str | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass
class IssuedCredential:
    """A freshly issued credential: the secured form (vc+jwt string or DI document) and its record."""

    record: IssuedRecord
    credential: dict[str, Any] | str
    status_list_url: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.record.id, "subjectDid": self.record.subject, "format": self.record.format,
            "credential": self.credential, "statusListCredential": self.status_list_url,
            "statusListIndex": self.record.index, "validUntil": self.record.valid_until,
        }


def base_url_for(did: str, *, allow_http_loopback: bool = False) -> str:
    """The URL a did:web authority serves from: its DID document URL without `/.well-known/did.json`
    (or `/did.json` for a path-based did:web)."""
    url = did_web_to_url(did, allow_http_loopback=allow_http_loopback)
    for suffix in ("/.well-known/did.json", "/did.json"):
        if url.endswith(suffix):
            return url[: -len(suffix)]
    raise DidError(f"{did}: unexpected did:web document URL {url}")


@dataclass
class Authority:
    """One data space's authority. Mutating methods change memory only; call `save()` after."""

    did: str
    key: KeyPair
    data_space: str
    base_url: str
    name: str | None = None
    key_fragment: str = "key-1"
    status_ttl_ms: int | None = 60_000
    validity: timedelta = DEFAULT_VALIDITY
    lists: dict[str, StatusList] = field(default_factory=dict)
    current_list: str = "1"
    issued: dict[str, IssuedRecord] = field(default_factory=dict)
    state_file: Path | None = None
    _signed_lists: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    @classmethod
    def create(
        cls,
        did: str,
        key: KeyPair,
        data_space: str,
        *,
        base_url: str | None = None,
        allow_http_loopback: bool = False,
        state_file: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> Authority:
        """An authority for `did`; its status lists live under `base_url` (derived from the DID)."""
        base = (base_url or base_url_for(did, allow_http_loopback=allow_http_loopback)).rstrip("/")
        authority = cls(did=did, key=key, data_space=data_space, base_url=base,
                        state_file=Path(state_file) if state_file else None, **options)
        if authority.state_file is not None and authority.state_file.exists():
            authority.load_state(authority.state_file)
        return authority

    # -- identity --------------------------------------------------------------------
    @property
    def kid(self) -> str:
        return f"{self.did}#{self.key_fragment}"

    def did_document(self, services: Sequence[Service] = ()) -> DidDocument:
        return did_web_document(self.did, [(self.key_fragment, self.key.public)], services=services)

    def status_list_url(self, list_id: str) -> str:
        return f"{self.base_url}/status/{list_id}"

    # -- issuance --------------------------------------------------------------------
    def _allocate(self) -> tuple[str, int]:
        for _ in range(2):
            lst = self.lists.setdefault(self.current_list, StatusList.new())
            try:
                return self.current_list, lst.allocate()
            except StatusError:  # full: open the next list
                self.current_list = str(int(self.current_list) + 1 if self.current_list.isdigit() else uuid.uuid4())
        raise AuthorityError("cannot allocate a status list index")

    def issue_membership(
        self,
        subject_did: str,
        claims: Mapping[str, Any] | None = None,
        *,
        format: CredentialFormat = "jwt",
        validity: timedelta | None = None,
        now: datetime | None = None,
    ) -> IssuedCredential:
        """Issue a MembershipCredential for `subject_did` in this data space, with a revocation
        status entry. `claims` go into `credentialSubject` (they cannot replace `id`, `type`,
        `memberOf` or `since`); for Data Integrity each claim must be a term a context defines."""
        if format not in FORMATS:
            raise AuthorityError(f"unknown credential format {format!r}; use one of {', '.join(FORMATS)}")
        if not isinstance(subject_did, str) or not subject_did.startswith("did:") or "#" in subject_did:
            raise AuthorityError(f"subject {subject_did!r} is not a DID")
        extra = dict(claims or {})
        clash = sorted(RESERVED_SUBJECT_CLAIMS & extra.keys())
        if clash:
            raise AuthorityError(f"claims may not set {', '.join(clash)}; the authority sets them")
        now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
        until = now + (validity or self.validity)
        list_id, index = self._allocate()
        url = self.status_list_url(list_id)
        try:
            unsigned = membership_credential(
                authority_did=self.did, member_did=subject_did, data_space=self.data_space,
                valid_from=now, valid_until=until, credential_status=status_entry(url, index),
            )
            unsigned["credentialSubject"].update(extra)
            secured = issue_membership_credential(unsigned, self.key, verification_method=self.kid, format=format)
        except (IdentityError, ValueError, TypeError) as exc:
            self.lists[list_id].allocated.discard(index)
            raise AuthorityError(f"cannot issue a membership credential: {exc}") from None
        record = IssuedRecord(
            id=unsigned["id"], subject=subject_did, list_id=list_id, index=index,
            issued_at=format_datetime(now), valid_until=format_datetime(until), format=format,
        )
        self.issued[record.id] = record
        return IssuedCredential(record, secured, url)

    def record(self, credential_id: str) -> IssuedRecord:
        record = self.issued.get(credential_id) or self.issued.get(f"urn:uuid:{credential_id}")
        if record is None:
            raise UnknownCredential(f"no credential {credential_id!r} was issued by {self.did}")
        return record

    def revoke(self, credential_id: str, *, now: datetime | None = None) -> IssuedRecord:
        """Set the credential's revocation bit (idempotent); the next list fetch shows it."""
        record = self.record(credential_id)
        if record.revoked_at is None:
            self.lists[record.list_id].set(record.index, True)
            record.revoked_at = format_datetime((now or datetime.now(timezone.utc)).replace(microsecond=0))
            self._signed_lists.pop(record.list_id, None)
        return record

    def signed_status_list(self, list_id: str) -> dict[str, Any]:
        """The list as a Data Integrity-signed BitstringStatusListCredential (JCS suite: cheap to
        verify on every fetch), re-signed only after a change."""
        if list_id not in self.lists:
            raise UnknownCredential(f"no status list {list_id!r} at {self.did}")
        signed = self._signed_lists.get(list_id)
        if signed is None:
            unsigned = status_list_credential(
                list_url=self.status_list_url(list_id), issuer=self.did, status_list=self.lists[list_id],
                ttl_ms=self.status_ttl_ms,
            )
            signed = sign_credential_di(unsigned, self.key, verification_method=self.kid,
                                        cryptosuite=default_cryptosuite(self.key, "jcs"))
            self._signed_lists[list_id] = signed
        return signed

    # -- state file ------------------------------------------------------------------
    def state_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION, "did": self.did, "dataSpace": self.data_space, "currentList": self.current_list,
            "lists": {lid: lst.to_json() for lid, lst in self.lists.items()},
            "credentials": {cid: asdict(rec) for cid, rec in self.issued.items()},
        }

    def load_state(self, path: str | os.PathLike[str]) -> None:
        data = read_state(path)
        if data.get("did") != self.did:
            raise AuthorityError(f"state file {path} belongs to {data.get('did')!r}, not to {self.did}")
        try:
            self.lists = {str(k): StatusList.from_json(v) for k, v in data.get("lists", {}).items()}
            self.issued = {str(k): IssuedRecord(**v) for k, v in data.get("credentials", {}).items()}
            self.current_list = str(data.get("currentList", "1"))
        except (StatusError, TypeError, KeyError, ValueError, AttributeError) as exc:
            raise AuthorityError(f"state file {path} is damaged: {exc}") from None
        self._signed_lists.clear()

    def save(self, path: str | os.PathLike[str] | None = None) -> None:
        """Write the state atomically (temp file + rename), mode 0600."""
        target = Path(path) if path is not None else self.state_file
        if target is None:
            return
        data = json.dumps(self.state_json(), indent=1).encode("utf-8")
        fd, tmp = tempfile.mkstemp(prefix=".authority-", dir=target.parent or Path("."))
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def read_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    raw = read_limited(p, "authority state", MAX_STATE_BYTES, AuthorityError)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AuthorityError(f"authority state {p} is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        raise AuthorityError(f"authority state {p} is not a version {STATE_VERSION} state file")
    return data


# -- topology helpers (tests, demo) -----------------------------------------------------
@dataclass
class ParticipantIdentity:
    """A participant ready to run: its key and credential files and its DID document."""

    did: str
    key: KeyPair
    key_file: Path
    credential_files: list[Path]
    issued: list[IssuedCredential]
    did_document: DidDocument

    @property
    def kid(self) -> str:
        return f"{self.did}#key-1"


def participant_document(
    did: str, key: KeyPair, *, credential_service_url: str | None = None, dsp_url: str | None = None,
) -> DidDocument:
    """A connector's DID document: its key, plus CredentialService / DataService entries."""
    services: list[Service] = []
    if credential_service_url:
        services.append(credential_service(did, credential_service_url))
    if dsp_url:
        services.append(data_service(did, dsp_url))
    return did_web_document(did, key.public, services=services)


def bootstrap_participant(
    authority: Authority,
    did: str,
    directory: str | os.PathLike[str],
    *,
    key: KeyPair | None = None,
    key_type: str = "Ed25519",
    claims: Mapping[str, Any] | None = None,
    format: CredentialFormat = "jwt",
    credential_service_url: str | None = None,
    dsp_url: str | None = None,
    validity: timedelta | None = None,
) -> ParticipantIdentity:
    """Give `did` a key (generated unless passed), a membership credential from `authority`, and
    write `<name>.jwk` and `<name>-membership.<jwt|json>` into `directory`. The authority's
    state is saved if it has a state file."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    stem = did.rsplit(":", 1)[-1].replace("%3A", "-").replace(".", "-") or "participant"
    pair = key or KeyPair.generate(key_type)
    key_file = folder / f"{stem}.jwk"
    pair.save(key_file)
    issued = authority.issue_membership(did, claims, format=format, validity=validity)
    authority.save()
    cred_file = folder / f"{stem}-{authority.data_space}-membership.{'jwt' if format == 'jwt' else 'json'}"
    write_credential(cred_file, issued.credential)
    doc = participant_document(did, pair, credential_service_url=credential_service_url, dsp_url=dsp_url)
    return ParticipantIdentity(did, pair, key_file, [cred_file], [issued], doc)


def write_credential(path: str | os.PathLike[str], credential: dict[str, Any] | str) -> None:
    """A vc+jwt as its compact form on one line; a DI credential as JSON."""
    text = credential if isinstance(credential, str) else json.dumps(credential, indent=2, ensure_ascii=False)
    Path(path).write_text(text + "\n", encoding="utf-8")


def trust_store_for(
    authorities: Iterable[Authority], *, recognise: bool = True, types: Sequence[str] = (MEMBERSHIP_TYPE,),
) -> TrustStore:
    """A trust store with one data space per authority; with `recognise`, every data space
    recognises every other for `types` (the JP <-> TW cross-recognition).

    Written to a file (`trust_file_data`), this is the trust-list format `TrustStore.load`
    reads (`.toml` or JSON, same shape):

        [[data_space]]
        name = "ouranos-jp"                       # the data space
        authorities = ["did:web:authority.jp"]    # its authorities...
        accepted_types = ["MembershipCredential"] # ...trusted for these credential types
        [[data_space.issuers]]                    # optional: more trusted issuers, per type
        did = "did:web:acme.jp"
        types = ["ProductFootprintCredential"]
        [[data_space.recognises]]                 # cross-recognition (one step, not transitive):
        data_space = "taiwan-tw"                  # whoever taiwan-tw trusts directly for these
        types = ["MembershipCredential"]          # types is trusted by ouranos-jp too

        [[data_space]]
        name = "taiwan-tw"
        authorities = ["did:web:authority.tw"]
        accepted_types = ["MembershipCredential"]
        [[data_space.recognises]]
        data_space = "ouranos-jp"
        types = ["MembershipCredential"]
    """
    auths = list(authorities)
    spaces: dict[str, list[str]] = {}
    for a in auths:
        spaces.setdefault(a.data_space, []).append(a.did)
    lists = []
    for name, dids in spaces.items():
        others = [n for n in spaces if n != name] if recognise else []
        lists.append(TrustList(
            name=name, authorities=dids, accepted_types=list(types),
            recognises=[{"data_space": o, "types": list(types)} for o in others],  # type: ignore[misc]
        ))
    return TrustStore(lists)


def write_trust_file(path: str | os.PathLike[str], store: TrustStore) -> Path:
    """Write a trust store as a JSON trust-list file (the format documented in `trust_store_for`)."""
    p = Path(path)
    p.write_text(json.dumps(store.to_json(), indent=2) + "\n", encoding="utf-8")
    return p


__all__ = [
    "Authority", "AuthorityError", "IssuedCredential", "IssuedRecord", "ParticipantIdentity", "UnknownCredential",
    "base_url_for", "bootstrap_participant", "participant_document", "read_state", "trust_store_for",
    "write_credential", "write_trust_file",
]
