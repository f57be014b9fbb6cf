"""Bitstring Status List: encoding per spec, allocation, revoke, and checking against lists."""

from __future__ import annotations

import base64
import gzip
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import pytest
from aiohttp import web

from identity.credentials import build_credential, sign_credential_jwt
from identity.did import DidResolver, did_key_from_public, did_key_vm_id
from identity.keys import KeyPair
from identity.status import (
    MIN_BITS,
    StatusError,
    StatusList,
    StatusListSource,
    check_status,
    decode_bitstring,
    encode_bitstring,
    status_entry,
    status_list_credential,
)

LIST_URL = "https://authority.jp.example/status/1"


def test_bit_order_and_encoding() -> None:
    lst = StatusList.new()
    lst.set(0)
    lst.set(9)
    assert lst.bits[0] == 0x80 and lst.bits[1] == 0x40  # index 0 is the leftmost bit
    encoded = lst.encoded()
    assert encoded.startswith("u") and "=" not in encoded
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-(len(encoded) - 1) % 4)))
    assert raw == bytes(lst.bits) and len(raw) * 8 == MIN_BITS
    back = StatusList.from_encoded(encoded)
    assert back.get(0) and back.get(9) and not back.get(1)
    back.set(9, False)
    assert not back.get(9)


def test_allocation_is_unique_and_persisted() -> None:
    lst = StatusList.new()
    picks = {lst.allocate() for _ in range(500)}
    assert len(picks) == 500 and all(0 <= i < MIN_BITS for i in picks)
    again = StatusList.from_json(lst.to_json())
    assert again.allocated == picks


def test_limits() -> None:
    with pytest.raises(StatusError, match="at least 131072"):
        StatusList.new(1024)
    with pytest.raises(StatusError, match="outside the list"):
        StatusList.new().set(MIN_BITS)
    bomb = encode_bitstring(bytes(1024 * 1024))
    with pytest.raises(StatusError, match="expands beyond"):
        decode_bitstring(bomb, max_bytes=64 * 1024)
    for bad, reason in [("zabc", "starting with 'u'"), ("u!!!", "base64url"), ("uAAAA", "GZIP")]:
        with pytest.raises(StatusError, match=reason):
            decode_bitstring(bad)


class Authority:
    def __init__(self) -> None:
        self.key = KeyPair.generate("p256")
        self.did = did_key_from_public(self.key.public)
        self.kid = did_key_vm_id(self.key.public)
        self.list = StatusList.new()

    def list_credential(self, **kw: object) -> str:
        vc = status_list_credential(list_url=LIST_URL, issuer=self.did, status_list=self.list, **kw)  # type: ignore[arg-type]
        return sign_credential_jwt(vc, self.key, verification_method=self.kid)

    def member_credential(self, index: int, purpose: str = "revocation") -> dict:
        return build_credential(
            issuer=self.did, subject={"id": "did:web:member.example"},
            credential_status=status_entry(LIST_URL, index, purpose),
        )


async def test_revoke_and_check() -> None:
    authority = Authority()
    index = authority.list.allocate()
    member = authority.member_credential(index)
    resolver = DidResolver(offline=True)
    source = StatusListSource(bundle={LIST_URL: authority.list_credential()}, offline=True)
    result = await check_status(member, resolver, source)
    assert result.ok is True and not result.revoked and result.entries[0].index == index

    authority.list.set(index)
    source.add(LIST_URL, authority.list_credential())
    result = await check_status(member, resolver, source)
    assert result.ok is False and result.revoked
    assert f"revocation bit {index} is set" in result.reason

    no_status = build_credential(issuer=authority.did, subject={"id": "did:web:x.example"})
    assert (await check_status(no_status, resolver, source)).ok is None


async def test_verified_list_is_remembered_per_document(monkeypatch: pytest.MonkeyPatch) -> None:
    """A list verified once is not verified again while the source hands out the same
    document; a new document (re-fetch, revocation), another resolver or a passed validUntil
    means a full verification."""
    import identity.status as status_module

    calls = []
    real = status_module.verify_credential

    async def counting(credential, resolver, *, now=None):  # type: ignore[no-untyped-def]
        calls.append(credential)
        return await real(credential, resolver, now=now)

    monkeypatch.setattr(status_module, "verify_credential", counting)
    authority = Authority()
    index = authority.list.allocate()
    member = authority.member_credential(index)
    resolver = DidResolver(offline=True)
    until = datetime.now(timezone.utc) + timedelta(hours=1)
    source = StatusListSource(bundle={LIST_URL: authority.list_credential(valid_until=until)}, offline=True)
    for _ in range(3):
        assert (await check_status(member, resolver, source)).ok is True
    assert len(calls) == 1
    assert (await check_status(member, DidResolver(offline=True), source)).ok is True
    assert len(calls) == 2
    authority.list.set(index)
    source.add(LIST_URL, authority.list_credential(valid_until=until))
    assert (await check_status(member, resolver, source)).revoked
    assert len(calls) == 3
    later = until + timedelta(minutes=1)
    result = await check_status(member, resolver, source, now=later)
    assert result.ok is False and "expired" in result.reason and len(calls) == 4


async def test_list_from_another_issuer_is_not_trusted() -> None:
    authority, impostor = Authority(), Authority()
    member = authority.member_credential(authority.list.allocate())
    source = StatusListSource(bundle={LIST_URL: impostor.list_credential()}, offline=True)
    result = await check_status(member, DidResolver(offline=True), source)
    assert result.ok is False and "not by the credential issuer" in result.reason
    ok = await check_status(member, DidResolver(offline=True), source, trusted_list_issuers=[impostor.did])
    assert ok.ok is True


async def test_broken_lists_and_entries() -> None:
    authority = Authority()
    resolver = DidResolver(offline=True)
    member = authority.member_credential(5)
    # expired list credential
    past = datetime.now(timezone.utc) - timedelta(days=2)
    stale = authority.list_credential(valid_from=past, valid_until=past + timedelta(hours=1))
    result = await check_status(member, resolver, StatusListSource(bundle={LIST_URL: stale}, offline=True))
    assert result.ok is False and "does not verify" in result.reason and "expired" in result.reason
    # purpose mismatch
    suspended = authority.member_credential(5, "suspension")
    source = StatusListSource(bundle={LIST_URL: authority.list_credential()}, offline=True)
    assert "asks for 'suspension'" in (await check_status(suspended, resolver, source)).reason
    # bad entry, missing list
    member["credentialStatus"]["statusListIndex"] = "-1"
    assert "not a non-negative integer" in (await check_status(member, resolver, source)).reason
    lonely = authority.member_credential(1)
    lonely["credentialStatus"]["statusListCredential"] = "https://authority.jp.example/status/2"
    assert "not in the offline bundle" in (await check_status(lonely, resolver, source)).reason
    # tampered list (signature broken)
    token = authority.list_credential()
    head, body, sig = token.split(".")
    forged = f"{head}.{body}.{sig[:-4]}AAAA"
    result = await check_status(authority.member_credential(1), resolver, StatusListSource(bundle={LIST_URL: forged}))
    assert result.ok is False and "does not verify" in result.reason


@pytest.fixture
async def list_server() -> AsyncIterator[tuple[str, dict[str, object]]]:
    state: dict[str, object] = {"hits": 0}

    async def handler(request: web.Request) -> web.Response:
        state["hits"] = int(state["hits"]) + 1  # type: ignore[call-overload]
        return web.json_response(state["doc"])

    app = web.Application()
    app.router.add_get("/status/1", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/status/1", state
    await runner.cleanup()


async def test_fetches_list_over_http_with_cache(list_server: tuple[str, dict[str, object]]) -> None:
    url, state = list_server
    authority = Authority()
    index = authority.list.allocate()
    authority.list.set(index)
    # a JSON list credential; its "proof" is missing, so verification must refuse it
    state["doc"] = status_list_credential(list_url=url, issuer=authority.did, status_list=authority.list)
    member = build_credential(issuer=authority.did, subject={"id": "did:web:m.example"},
                              credential_status=status_entry(url, index))
    source = StatusListSource(allow_http_loopback=True)
    try:
        result = await check_status(member, DidResolver(offline=True), source)
        assert result.ok is False and "does not verify" in result.reason
        await check_status(member, DidResolver(offline=True), source)
        assert state["hits"] == 1  # cached
    finally:
        await source.close()
    with pytest.raises(StatusError, match="http:// is refused"):
        await StatusListSource()(url)
