"""The did:web resolver against a real aiohttp server on loopback: limits, errors, cache, bundle."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from identity.did import DidError, DidResolutionError, DidResolver, did_key_from_public, did_key_vm_id, did_web_document
from identity.keys import KeyPair


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, dict[str, int], KeyPair]]:
    """Serves good and bad DID documents on paths named after the behaviour."""
    key = KeyPair.generate()
    hits: dict[str, int] = {}
    port_box: list[int] = []
    release = asyncio.Event()

    def did_for(name: str) -> str:
        return f"did:web:127.0.0.1%3A{port_box[0]}:{name}"

    async def handler(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        hits[name] = hits.get(name, 0) + 1
        if name in ("good", "cached"):
            return web.json_response(did_web_document(did_for(name), key.public).to_json())
        if name == "typed":
            body = json.dumps(did_web_document(did_for(name), key.public).to_json())
            return web.Response(text=body, content_type="application/did+json")
        if name == "redirect":
            raise web.HTTPFound(f"http://127.0.0.1:{port_box[0]}/good/did.json")
        if name == "slow":
            await asyncio.wait_for(release.wait(), 5)
            return web.json_response({})
        if name == "huge":
            resp = web.StreamResponse(headers={"Content-Type": "application/json"})
            await resp.prepare(request)
            await resp.write(b'{"id": "' + b"a" * 100_000 + b'"}')
            return resp
        if name == "garbage":
            return web.Response(body=b"{not json", content_type="application/json")
        if name == "html":
            return web.Response(text="<html></html>", content_type="text/html")
        if name == "wrongid":
            return web.json_response(did_web_document("did:web:evil.example", key.public).to_json())
        if name == "array":
            return web.json_response([1, 2])
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_get("/{name}/did.json", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port_box.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    try:
        yield f"did:web:127.0.0.1%3A{port_box[0]}", hits, key
    finally:
        release.set()
        await runner.cleanup()


async def test_resolves_and_caches(server: tuple[str, dict[str, int], KeyPair]) -> None:
    base, hits, key = server
    clock = Clock()
    async with DidResolver(allow_http_loopback=True, cache_ttl=60, clock=clock) as resolver:
        doc = await resolver.resolve(base + ":cached")
        assert doc.id == base + ":cached"
        await resolver.resolve(base + ":cached")
        await asyncio.gather(*(resolver.resolve(base + ":good") for _ in range(5)))
        assert hits == {"cached": 1, "good": 1}
        clock.t += 61
        await resolver.resolve(base + ":cached")
        assert hits["cached"] == 2
        pub = await resolver.resolve_verification_method(base + ":cached#key-1", "capabilityInvocation")
        assert pub.raw() == key.public.raw()
        assert (await resolver.resolve(base + ":typed")).id.endswith(":typed")
        assert resolver.key_resolver()(base + ":cached#key-1").raw() == key.public.raw()


@pytest.mark.parametrize(
    "name,reason",
    [
        ("redirect", "redirect 302"),
        ("huge", "65536-byte limit"),
        ("garbage", "not JSON"),
        ("html", "content type 'text/html'"),
        ("wrongid", "does not match the requested DID"),
        ("array", "must be a JSON object"),
        ("missing", "HTTP 404"),
    ],
)
async def test_resolution_errors_name_the_problem(server: tuple[str, dict[str, int], KeyPair], name: str, reason: str) -> None:
    base, _, _ = server
    async with DidResolver(allow_http_loopback=True) as resolver:
        with pytest.raises(DidResolutionError) as info:
            await resolver.resolve(f"{base}:{name}")
    assert reason in str(info.value)
    assert info.value.did == f"{base}:{name}"


async def test_timeout(server: tuple[str, dict[str, int], KeyPair]) -> None:
    base, _, _ = server
    async with DidResolver(allow_http_loopback=True, timeout=0.3) as resolver:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(DidResolutionError, match="did not answer within 0.3 s"):
            await resolver.resolve(base + ":slow")
        assert loop.time() - started < 2


async def test_http_refused_unless_enabled(server: tuple[str, dict[str, int], KeyPair]) -> None:
    base, hits, _ = server
    async with DidResolver() as resolver:
        with pytest.raises(DidResolutionError, match="cannot resolve"):
            await resolver.resolve(base + ":good")  # https to a plain-http server fails
    assert "good" not in hits


async def test_unsupported_method_and_fragment() -> None:
    resolver = DidResolver(offline=True)
    with pytest.raises(DidResolutionError, match="unsupported DID method"):
        await resolver.resolve("did:example:123")
    with pytest.raises(DidResolutionError, match="without fragment"):
        await resolver.resolve("did:web:example.com#key-1")
    with pytest.raises(DidResolutionError, match="offline"):
        await resolver.resolve("did:web:example.com")


async def test_did_key_resolves_locally() -> None:
    key = KeyPair.generate("p384")
    resolver = DidResolver(offline=True)
    assert (await resolver.resolve_verification_method(did_key_vm_id(key.public))).raw() == key.public.raw()
    assert resolver.fetch_count == 0
    assert (await resolver.resolve(did_key_from_public(key.public))).verificationMethod


async def test_offline_bundle(tmp_path: Path) -> None:
    key = KeyPair.generate()
    did = "did:web:connector.tw.example:acme"
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({did: did_web_document(did, key.public).to_json()}))
    resolver = DidResolver.from_bundle_file(path)
    assert (await resolver.resolve_verification_method(did + "#key-1")).raw() == key.public.raw()
    with pytest.raises(DidResolutionError, match="offline"):
        await resolver.resolve("did:web:other.example")

    path.write_text(json.dumps({"did:web:a.example": did_web_document(did, key.public).to_json()}))
    with pytest.raises(DidError, match="entry did:web:a.example"):
        DidResolver.from_bundle_file(path)
    path.write_text("{truncated")
    with pytest.raises(DidError, match="not JSON"):
        DidResolver.from_bundle_file(path)
    with pytest.raises(DidError, match="cannot read"):
        DidResolver.from_bundle_file(tmp_path / "absent.json")
