"""did:web (W3C CCG did:web method): DID <-> URL mapping and connector DID documents.

Mapping per the method spec: the host may carry a port percent-encoded as `%3A`; further
colon-separated segments are path segments and the document lives at `<path>/did.json`,
otherwise at `/.well-known/did.json`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

from identity.did.document import (
    DID_CONTEXT,
    JWK_CONTEXT,
    MULTIKEY_CONTEXT,
    DidDocument,
    Relationship,
    Service,
    VerificationMethod,
    split_did_url,
)
from identity.did.errors import DidError
from identity.keys import PublicKey

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
_HOST_RE = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])$")
_SEGMENT_RE = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=@%-]+$")

DEFAULT_RELATIONSHIPS: tuple[Relationship, ...] = (
    "authentication",
    "assertionMethod",
    "capabilityInvocation",
    "capabilityDelegation",
)


def _split_host_port(authority: str, did: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise DidError(f"{did}: unterminated IPv6 literal in host")
        host, rest = authority[: end + 1], authority[end + 1:]
    else:
        host, sep, port_text = authority.partition(":")
        rest = sep + port_text
    port: int | None = None
    if rest:
        if not rest.startswith(":") or not rest[1:].isdigit() or not 0 < int(rest[1:]) < 65536:
            raise DidError(f"{did}: invalid port in {authority!r}")
        port = int(rest[1:])
    if not _HOST_RE.match(host):
        raise DidError(f"{did}: invalid host {host!r}")
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise DidError(f"{did}: invalid IPv6 address {host!r}") from None
    return host.lower(), port


def is_loopback_host(host: str) -> bool:
    return host.lower() in LOOPBACK_HOSTS


def did_web_to_url(did: str, *, allow_http_loopback: bool = False) -> str:
    """The URL of a did:web document; `http` only for loopback hosts and only when allowed."""
    base, fragment = split_did_url(did)
    if base != did.split("#", 1)[0] or "?" in did:
        raise DidError(f"{did}: did:web must not carry a query")
    method, _, msid = base.partition(":")[2].partition(":")
    if method != "web":
        raise DidError(f"{did} is not a did:web")
    segments = msid.split(":")
    if any(not s for s in segments):
        raise DidError(f"{did}: empty segment in did:web identifier")
    authority = unquote(segments[0])
    if any(c in authority for c in "/?#@\\ "):
        raise DidError(f"{did}: host part {authority!r} contains forbidden characters")
    host, port = _split_host_port(authority, did)
    path_segments = [unquote(s) for s in segments[1:]]
    for seg in path_segments:
        if seg in (".", "..") or "/" in seg or "\\" in seg or not _SEGMENT_RE.match(quote(seg, safe="")):
            raise DidError(f"{did}: invalid path segment {seg!r}")
    scheme = "http" if allow_http_loopback and is_loopback_host(host) else "https"
    netloc = host if port is None else f"{host}:{port}"
    path = "/" + "/".join(quote(s, safe="") for s in path_segments) + "/did.json" if path_segments else "/.well-known/did.json"
    return f"{scheme}://{netloc}{path}"


def did_web_from_url(url: str) -> str:
    """The did:web for a connector's base URL, e.g. `https://host:8443/jp/acme` ->
    `did:web:host%3A8443:jp:acme` (a trailing `/.well-known/did.json` or `/did.json` is dropped)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise DidError(f"{url!r} is not an http(s) URL with a host")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise DidError(f"{url!r}: a did:web URL must not have a query, fragment or credentials")
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    authority = host if parts.port is None else f"{host}:{parts.port}"
    path = parts.path.rstrip("/")
    for suffix in ("/.well-known/did.json", "/did.json"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    segments = [s for s in path.split("/") if s]
    did = "did:web:" + quote(authority, safe="[]").replace("[", "%5B").replace("]", "%5D")
    if segments:
        did += ":" + ":".join(quote(unquote(s), safe="") for s in segments)
    return did


def verification_method_for(
    did: str, fragment: str, key: PublicKey, *, key_format: Literal["Multikey", "JsonWebKey"] = "Multikey"
) -> VerificationMethod:
    vm_id = f"{did}#{fragment}"
    if key_format == "Multikey":
        return VerificationMethod(id=vm_id, type="Multikey", controller=did, publicKeyMultibase=key.multibase())
    if key_format == "JsonWebKey":
        return VerificationMethod(id=vm_id, type="JsonWebKey", controller=did, publicKeyJwk=key.jwk())
    raise DidError(f"unsupported verification method format {key_format!r}; use Multikey or JsonWebKey")


def service(did: str, fragment: str, service_type: str, endpoint: str) -> Service:
    return Service(id=f"{did}#{fragment}", type=service_type, serviceEndpoint=endpoint)


def credential_service(did: str, endpoint: str) -> Service:
    """DCP Credential Service entry: endpoint is the base under which `/presentations/query` lives."""
    return service(did, "credential-service", "CredentialService", endpoint)


def data_service(did: str, dsp_base_url: str) -> Service:
    """DSP 2025-1 DataService entry pointing at the `/.well-known/dspace-version` document."""
    root = dsp_base_url.rstrip("/")
    endpoint = root if root.endswith("/.well-known/dspace-version") else root + "/.well-known/dspace-version"
    return service(did, "dsp", "DataService", endpoint)


def did_web_document(
    did: str,
    keys: Sequence[tuple[str, PublicKey]] | PublicKey,
    *,
    services: Sequence[Service] = (),
    key_format: Literal["Multikey", "JsonWebKey"] = "Multikey",
    relationships: Sequence[Relationship] = DEFAULT_RELATIONSHIPS,
) -> DidDocument:
    """A connector's DID document; `keys` is one key (fragment `key-1`) or (fragment, key) pairs."""
    did_web_to_url(did, allow_http_loopback=True)  # validates the DID
    pairs = [("key-1", keys)] if isinstance(keys, PublicKey) else list(keys)
    if not pairs:
        raise DidError(f"{did}: a DID document needs at least one key")
    methods = [verification_method_for(did, frag, key, key_format=key_format) for frag, key in pairs]
    ids = [vm.id for vm in methods]
    if len(set(ids)) != len(ids):
        raise DidError(f"{did}: duplicate verification method fragments")
    context = [DID_CONTEXT, MULTIKEY_CONTEXT if key_format == "Multikey" else JWK_CONTEXT]
    rels = {rel: list(ids) for rel in relationships}
    return DidDocument(context=context, id=did, verificationMethod=methods, service=list(services), **rels)
