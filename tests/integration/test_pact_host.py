"""The PACT host over real HTTP on 127.0.0.1: tokens, listing, paging, filters, errors,
events (including the RequestCreated -> RequestFulfilled round trip between two hosts)
and signed delivery."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from connector.dataplane import (
    PACT_HOST,
    ClientCredentialsAuth,
    DetachedJws,
    InMemoryFootprintSource,
    Partner,
    StaticPartners,
    create_pact_app,
)
from connector.dataplane.auth import DEFAULT_SCOPES, SCOPE_VC
from connector.dataplane.client import PactClient, next_link
from connector.dataplane.signing import SIGNATURE_HEADER, verify_detached_jws
from connector.footprints import make_footprints
from identity import proofs
from identity.credentials import build_credential
from identity.keys import KeyPair

CE = "application/cloudevents+json; charset=UTF-8"
FOOTPRINTS = make_footprints("jp", 250, seed=5) 
IDS = sorted(fp["id"] for fp in FOOTPRINTS)


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def make_auth() -> ClientCredentialsAuth:
    auth = ClientCredentialsAuth(audience="jp-supplier")
    auth.register_client("buyer", "buyer-secret", scopes=DEFAULT_SCOPES | {SCOPE_VC})
    auth.register_client("plain", "plain-secret")
    auth.register_client("limited", "limited-secret", footprint_ids=IDS[:3])
    return auth


class Recorder:
    """EventHandler that keeps what arrives."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.arrived = asyncio.Event()

    async def handle(self, event: Any, principal: Any) -> None:
        self.events.append((event, principal))
        self.arrived.set()


def make_signer(counter: list[int]):
    key = KeyPair.generate("Ed25519")
    did = f"did:key:{key.public.multibase()}"

    def sign(footprint: dict[str, Any]) -> dict[str, Any]:
        counter.append(1)
        subject = {"id": f"urn:uuid:{footprint['id']}", "productFootprint": footprint}
        vc = build_credential(issuer=did, subject=subject, types=["ProductFootprintCredential"],
                              contexts=[{"@vocab": "https://example.org/pact-test#",
                                         "productFootprint": {"@id": "https://example.org/pact-test#pf", "@type": "@json"}}])
        return proofs.add_proof(vc, key, verification_method=f"{did}#{key.public.multibase()}", cryptosuite="eddsa-jcs-2022")

    return sign


async def serve(app: web.Application) -> TestClient:
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


async def token_for(client: TestClient, client_id: str = "buyer", secret: str | None = None) -> str:
    resp = await client.post("/auth/token", data={"grant_type": "client_credentials"},
                             headers={"Authorization": _basic(client_id, secret or f"{client_id}-secret")})
    assert resp.status == 200, await resp.text()
    return (await resp.json())["access_token"]


@pytest.fixture
async def host():
    signed: list[int] = []
    recorder = Recorder()
    key = Ed25519PrivateKey.generate()
    app = create_pact_app(InMemoryFootprintSource(FOOTPRINTS), make_auth(), events=recorder,
                          signer=make_signer(signed), body_signer=DetachedJws(key, "did:example:jp#body"))
    client = await serve(app)
    client.signed = signed  # type: ignore[attr-defined]
    client.recorder = recorder  # type: ignore[attr-defined]
    client.body_key = key.public_key()  # type: ignore[attr-defined]
    client.bearer = {"Authorization": f"Bearer {await token_for(client)}"}  # type: ignore[attr-defined]
    yield client
    await client.close()


# ---- OAuth2 ---------------------------------------------------------------------------

async def test_token_endpoint_basic_form_and_rfc6749_errors(host):
    ok = await host.post("/auth/token", data={"grant_type": "client_credentials"},
                         headers={"Authorization": _basic("buyer", "buyer-secret")})
    body = await ok.json()
    assert ok.status == 200 and body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert ok.headers["Cache-Control"] == "no-store"
    form = await host.post("/auth/token", data={"grant_type": "client_credentials",
                                                "client_id": "plain", "client_secret": "plain-secret"})
    assert form.status == 200
    bad = await host.post("/auth/token", data={"grant_type": "client_credentials"},
                          headers={"Authorization": _basic("buyer", "wrong")})
    assert bad.status == 401 and (await bad.json())["error"] == "invalid_client"
    unknown = await host.post("/auth/token", data={"grant_type": "client_credentials"},
                              headers={"Authorization": _basic("nobody", "x")})
    assert unknown.status == 401
    grant = await host.post("/auth/token", data={"grant_type": "password"},
                            headers={"Authorization": _basic("buyer", "buyer-secret")})
    assert grant.status == 400 and (await grant.json())["error"] == "unsupported_grant_type"
    missing = await host.post("/auth/token", data={}, headers={"Authorization": _basic("buyer", "buyer-secret")})
    assert missing.status == 400 and (await missing.json())["error"] == "invalid_request"
    as_json = await host.post("/auth/token", json={"grant_type": "client_credentials"},
                              headers={"Authorization": _basic("buyer", "buyer-secret")})
    assert as_json.status == 400
    scope = await host.post("/auth/token", data={"grant_type": "client_credentials", "scope": "admin"},
                            headers={"Authorization": _basic("buyer", "buyer-secret")})
    assert scope.status == 400 and (await scope.json())["error"] == "invalid_scope"
    garbage = await host.post("/auth/token", data={"grant_type": "client_credentials"},
                              headers={"Authorization": "Basic !!!"})
    assert garbage.status == 401


async def test_openid_discovery_points_at_token_endpoint(host):
    resp = await host.get("/.well-known/openid-configuration")
    doc = await resp.json()
    assert resp.status == 200
    assert doc["token_endpoint"] == f"http://127.0.0.1:{host.port}/auth/token"
    assert "client_credentials" in doc["grant_types_supported"]


# ---- listing and paging ---------------------------------------------------------------

@pytest.mark.parametrize("version", ["2", "3"])
async def test_paging_250_footprints_by_100(host, version):
    seen: list[str] = []
    url = f"/{version}/footprints?limit=100"
    pages = 0
    links = []
    while url:
        resp = await host.get(url, headers=host.bearer)
        assert resp.status == 200, await resp.text()
        data = (await resp.json())["data"]
        assert len(data) <= 100
        seen += [fp["id"] for fp in data]
        pages += 1
        link = next_link(resp.headers.get("Link"))
        if link:
            assert link.startswith(f"http://127.0.0.1:{host.port}/{version}/footprints?")
            links.append(link)
            url = link[len(f"http://127.0.0.1:{host.port}"):]
        else:
            url = None
    assert pages == 3 and len(seen) == 250 and len(set(seen)) == 250 and sorted(seen) == IDS
    again = await host.get(links[0][len(f"http://127.0.0.1:{host.port}"):], headers=host.bearer)
    assert [fp["id"] for fp in (await again.json())["data"]] == IDS[100:200]  # links can be called twice
    if version == "3":
        assert all(fp["specVersion"].startswith("3.") for fp in data)


async def test_link_uses_request_host_header(host):
    resp = await host.get("/2/footprints?limit=5", headers={**host.bearer, "Host": "pact.example.jp:8443"})
    assert next_link(resp.headers["Link"]).startswith("http://pact.example.jp:8443/2/footprints?")


async def test_huge_limit_is_clamped_and_bad_limits_rejected():
    app = create_pact_app(InMemoryFootprintSource(FOOTPRINTS), make_auth(), max_page=100)
    client = await serve(app)
    try:
        bearer = {"Authorization": f"Bearer {await token_for(client)}"}
        resp = await client.get("/2/footprints?limit=" + "9" * 25, headers=bearer)
        assert resp.status == 200 and len((await resp.json())["data"]) == 100 and "Link" in resp.headers
        for bad in ("abc", "-1", "0", "1.5", "9" * 5000):
            resp = await client.get(f"/3/footprints?limit={bad}", headers=bearer)
            assert resp.status == 400 and (await resp.json())["code"] == "BadRequest", bad
    finally:
        await client.close()


async def test_tampered_or_foreign_cursor_is_bad_request(host):
    resp = await host.get("/2/footprints?limit=10", headers=host.bearer)
    link = next_link(resp.headers["Link"])
    cursor = link.split("cursor=")[1]
    forged = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    r1 = await host.get(f"/2/footprints?cursor={forged}", headers=host.bearer)
    r2 = await host.get(f"/3/footprints?cursor={cursor}", headers=host.bearer)
    r3 = await host.get("/2/footprints?cursor=garbage", headers=host.bearer)
    for r in (r1, r2, r3):
        assert r.status == 400 and (await r.json())["code"] == "BadRequest"


# ---- filters --------------------------------------------------------------------------

async def _ids(host, url: str) -> list[str]:
    resp = await host.get(url, headers=host.bearer)
    assert resp.status == 200, await resp.text()
    return [fp["id"] for fp in (await resp.json())["data"]]


async def test_v2_odata_filter_subset(host):
    fp = FOOTPRINTS[0]
    created = fp["created"]
    ids = await _ids(host, "/2/footprints?" + aiohttp.helpers.quote(f"$filter=created ge '{created}'", safe="=$&"))
    assert set(ids) == {f["id"] for f in FOOTPRINTS if f["created"] >= created}
    pid = fp["productIds"][0]
    url = "/2/footprints"
    resp = await host.get(url, params={"$filter": f"productIds/any(productId:(productId eq '{pid}'))"}, headers=host.bearer)
    assert {d["id"] for d in (await resp.json())["data"]} == {f["id"] for f in FOOTPRINTS if pid in f["productIds"]}
    country = next(f["pcf"]["geographyCountry"] for f in FOOTPRINTS if f["pcf"].get("geographyCountry"))
    resp = await host.get(url, params={"$filter": f"(pcf/geographyCountry eq '{country}') and (status eq 'Active')"},
                          headers=host.bearer)
    expected = {f["id"] for f in FOOTPRINTS if f["pcf"].get("geographyCountry") == country and f["status"] == "Active"}
    assert {d["id"] for d in (await resp.json())["data"]} == expected
    resp = await host.get(url, params={"$filter": "status eq 'Active' or status eq 'Deprecated'"}, headers=host.bearer)
    assert resp.status == 400 and (await resp.json())["code"] == "NotImplemented"
    for garbage in ("((", "created ge", "'x' eq created", "created like 'x'", "a eq 'b' and"):
        resp = await host.get(url, params={"$filter": garbage}, headers=host.bearer)
        assert resp.status == 400 and (await resp.json())["code"] == "BadRequest", garbage


async def test_v3_filters_or_within_and_across(host):
    a, b = FOOTPRINTS[0], FOOTPRINTS[1]
    both = await _ids(host, f"/3/footprints?productId={a['productIds'][0]}&productid={b['productIds'][0]}")
    assert {a["id"], b["id"]} <= set(both)
    assert set(both) == {f["id"] for f in FOOTPRINTS if {a["productIds"][0], b["productIds"][0]} & set(f["productIds"])}
    only_a = await _ids(host, f"/3/footprints?productId={a['productIds'][0]}&productId={b['productIds'][0]}"
                              f"&companyId={a['companyIds'][0]}&status={a['status'].upper()}")
    assert a["id"] in only_a and all(
        next(f for f in FOOTPRINTS if f["id"] == i)["status"] == a["status"] for i in only_a)
    start = a.get("validityPeriodStart") or a["pcf"]["referencePeriodEnd"]
    on = await _ids(host, f"/3/footprints?validOn={start}&limit=1000")
    assert a["id"] in on
    cls = a["productClassifications"][0]
    assert a["id"] in await _ids(host, f"/3/footprints?classification={cls.upper()}&limit=1000")
    for bogus in ("productId=urn:bogus:x", "companyId=zzz&companyId=urn:bogus:y", "geography=XX",
                  "classification=urn:bogus:c", "status=BogusStatus", "validOn=1900-01-01T00:00:00Z",
                  "validAfter=2099-12-31T23:59:59Z", "validBefore=1900-01-01T00:00:00Z"):
        assert await _ids(host, f"/3/footprints?{bogus}") == [], bogus
    for garbage in ("validOn=yesterday", "validAfter=2024-13-45T00:00:00Z", "validOn=a&validOn=b"):
        resp = await host.get(f"/3/footprints?{garbage}", headers=host.bearer)
        assert resp.status == 400 and (await resp.json())["code"] == "BadRequest", garbage
    assert len(await _ids(host, "/3/footprints?x-acme-invoice=1&limit=1000")) == 250  # vendor params ignored


async def test_v3_filter_paging_keeps_the_filter(host):
    country = "JP"
    expected = sorted(f["id"] for f in FOOTPRINTS if f["pcf"].get("geographyCountry") == country)
    client = PactClient(host.session, str(host.make_url("")), client_id="buyer", client_secret="buyer-secret")
    got = [fp["id"] async for fp in client.iter_footprints("3", params={"geography": country, "limit": "7"})]
    assert got == expected and len(expected) > 7


# ---- single footprints, tokens and access ----------------------------------------------

async def test_get_footprint_and_version_correct_not_found(host):
    fid = IDS[7]
    resp = await host.get(f"/2/footprints/{fid}", headers=host.bearer)
    assert resp.status == 200 and (await resp.json())["data"]["id"] == fid
    assert 'rel="alternate"' in resp.headers["Link"] and f"/2/footprints/{fid}/credential" in resp.headers["Link"]
    body = await resp.read()
    assert verify_detached_jws(resp.headers[SIGNATURE_HEADER], body, host.body_key)
    assert not verify_detached_jws(resp.headers[SIGNATURE_HEADER], body + b" ", host.body_key)
    v3 = await host.get(f"/3/footprints/{fid}", headers=host.bearer)
    assert (await v3.json())["data"]["specVersion"].startswith("3.")
    for version, code in (("2", "NoSuchFootprint"), ("3", "NotFound")):
        for missing in (str(uuid.uuid4()), "random-string-as-id-abc"):
            resp = await host.get(f"/{version}/footprints/{missing}", headers=host.bearer)
            assert resp.status == 404 and (await resp.json())["code"] == code


async def test_token_failures_get_pact_codes(host):
    auth: ClientCredentialsAuth = host.app[PACT_HOST].auth
    expired = auth.mint("buyer", DEFAULT_SCOPES, ttl=-60)
    other = ClientCredentialsAuth(audience="someone-else", secret=b"k" * 32)
    cases = [
        ({"Authorization": f"Bearer {expired}"}, 401, "TokenExpired"),
        ({"Authorization": "Bearer very-invalid-access-token"}, 400, "BadRequest"),
        ({}, 400, "BadRequest"),
        ({"Authorization": "Basic abc"}, 400, "BadRequest"),
    ]
    for version in ("2", "3"):
        for headers, status, code in cases:
            for path in (f"/{version}/footprints", f"/{version}/footprints/{IDS[0]}"):
                resp = await host.get(path, headers=headers)
                assert (resp.status, (await resp.json())["code"]) == (status, code), (path, headers)
    # a genuine token of ours, but minted for another audience (other service): access denied
    wrong_aud = ClientCredentialsAuth(audience="other", secret=auth._sign_key).mint("buyer", DEFAULT_SCOPES)  # noqa: SLF001
    resp = await host.get("/2/footprints", headers={"Authorization": f"Bearer {wrong_aud}"})
    assert resp.status == 403 and (await resp.json())["code"] == "AccessDenied"
    foreign = other.mint("buyer", DEFAULT_SCOPES)
    resp = await host.get("/3/footprints", headers={"Authorization": f"Bearer {foreign}"})
    assert resp.status == 400


async def test_limited_client_sees_only_its_footprints(host):
    bearer = {"Authorization": f"Bearer {await token_for(host, 'limited')}"}
    resp = await host.get("/2/footprints", headers=bearer)
    assert sorted(fp["id"] for fp in (await resp.json())["data"]) == IDS[:3]
    denied = await host.get(f"/3/footprints/{IDS[10]}", headers=bearer)
    assert denied.status == 403 and (await denied.json())["code"] == "AccessDenied"


async def test_no_redirects_and_unknown_routes_are_json(host):
    resp = await host.get("/2/footprints", headers=host.bearer, allow_redirects=False)
    assert resp.status == 200
    resp = await host.get("/3/nothing", headers=host.bearer, allow_redirects=False)
    assert resp.status in (400, 404) and "code" in await resp.json()
    resp = await host.delete("/2/footprints", headers=host.bearer)
    assert resp.status == 405 and (await resp.json())["code"] == "BadRequest"


# ---- signed delivery ------------------------------------------------------------------

async def test_footprints_as_vcs_with_cached_signatures(host):
    resp = await host.get("/2/footprints?limit=20&format=vc", headers=host.bearer)
    data = (await resp.json())["data"]
    assert resp.status == 200 and len(data) == 20
    assert [vc["credentialSubject"]["productFootprint"]["id"] for vc in data] == IDS[:20]
    assert data[0]["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    signed_once = len(host.signed)
    again = await host.get("/2/footprints?limit=20", headers={**host.bearer, "Accept": "application/vc+ld+json"})
    assert (await again.json())["data"] == data and len(host.signed) == signed_once  # cache hit, no re-signing
    cred = await host.get(f"/3/footprints/{IDS[0]}/credential", headers=host.bearer)
    assert cred.status == 200 and cred.content_type == "application/vc+ld+json"
    assert (await cred.json(content_type=None))["credentialSubject"]["productFootprint"]["specVersion"].startswith("3.")
    plain = {"Authorization": f"Bearer {await token_for(host, 'plain')}"}
    resp = await host.get("/2/footprints?format=vc", headers=plain)
    assert resp.status == 403 and (await resp.json())["code"] == "AccessDenied"
    resp = await host.get("/2/footprints?format=xml", headers=host.bearer)
    assert resp.status == 400


async def test_vc_without_signer_is_not_implemented():
    client = await serve(create_pact_app(InMemoryFootprintSource(FOOTPRINTS[:3]), make_auth()))
    try:
        bearer = {"Authorization": f"Bearer {await token_for(client)}"}
        resp = await client.get("/2/footprints?format=vc", headers=bearer)
        assert resp.status == 400 and (await resp.json())["code"] == "NotImplemented"
    finally:
        await client.close()


async def test_mounted_under_prefix_links_keep_the_prefix():
    root = web.Application()
    root.add_subapp("/api/pact", create_pact_app(InMemoryFootprintSource(FOOTPRINTS), make_auth()))
    client = await serve(root)
    try:
        resp = await client.post("/api/pact/auth/token", data={"grant_type": "client_credentials"},
                                 headers={"Authorization": _basic("buyer", "buyer-secret")})
        bearer = {"Authorization": f"Bearer {(await resp.json())['access_token']}"}
        resp = await client.get("/api/pact/3/footprints?limit=100", headers=bearer)
        link = next_link(resp.headers["Link"])
        assert link.startswith(f"http://127.0.0.1:{client.port}/api/pact/3/footprints?")
        disco = await (await client.get("/api/pact/.well-known/openid-configuration")).json()
        assert disco["token_endpoint"].endswith("/api/pact/auth/token")
    finally:
        await client.close()


# ---- events ---------------------------------------------------------------------------

def _event(version: str, kind: str, data: dict[str, Any], source: str = "https://buyer.example/3/events") -> dict:
    types = {
        ("2", "published"): "org.wbcsd.pathfinder.ProductFootprint.Published.v1",
        ("3", "published"): "org.wbcsd.pact.ProductFootprint.PublishedEvent.3",
        ("2", "created"): "org.wbcsd.pathfinder.ProductFootprintRequest.Created.v1",
        ("3", "created"): "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3",
        ("3", "fulfilled"): "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3",
        ("2", "rejected"): "org.wbcsd.pathfinder.ProductFootprintRequest.Rejected.v1",
    }
    return {"type": types[(version, kind)], "specversion": "1.0", "id": str(uuid.uuid4()), "source": source,
            "time": "2025-05-19T11:30:00Z", "data": data}


async def test_valid_events_accepted_and_handed_to_handler(host):
    headers = {**host.bearer, "Content-Type": CE}
    pub = _event("3", "published", {"pfIds": [str(uuid.uuid4())]})
    resp = await host.post("/3/events", data=json.dumps(pub), headers=headers)
    assert resp.status == 200
    rej = _event("2", "rejected", {"requestEventId": "abc", "error": {"code": "NotFound", "message": "none"}})
    resp = await host.post("/2/events", data=json.dumps(rej), headers=headers)
    assert resp.status == 200
    kinds = [e.kind.value for e, _ in host.recorder.events]
    assert kinds == ["Published", "RequestRejected"] and host.recorder.events[0][1].subject == "buyer"


async def test_malformed_events_are_bad_request(host):
    headers = {**host.bearer, "Content-Type": CE}
    good = _event("3", "published", {"pfIds": [str(uuid.uuid4())]})
    cases = [
        ("3", _event("3", "published", {"pfIds": ["urn:gtin:4712345060507"]}), headers),
        ("3", _event("3", "published", {"pfIds": []}), headers),
        ("3", _event("3", "published", {"pfIds": "not-a-list"}), headers),
        ("2", good, headers),  # a v3 type on the v2 endpoint
        ("3", {**good, "type": "org.example.Unknown"}, headers),
        ("3", {**good, "specversion": "0.3"}, headers),
        ("3", {**good, "time": "yesterday"}, headers),
        ("3", {k: v for k, v in good.items() if k != "id"}, headers),
        ("3", good, {**host.bearer, "Content-Type": "application/json"}),
        ("3", _event("3", "created", {"productId": "not-an-array"}), headers),
        ("3", _event("3", "fulfilled", {"requestEventId": "x", "pfs": []}), headers),
        ("2", _event("2", "created", {"comment": "no pf"}), headers),
    ]
    for version, body, hdrs in cases:
        resp = await host.post(f"/{version}/events", data=json.dumps(body), headers=hdrs)
        assert resp.status == 400 and (await resp.json())["code"] == "BadRequest", body
    resp = await host.post("/3/events", data=b"{not json", headers=headers)
    assert resp.status == 400
    resp = await host.post("/3/events", data=json.dumps(good), headers={"Content-Type": CE,
                                                                        "Authorization": "Bearer nope"})
    assert resp.status == 400 and (await resp.json())["code"] == "BadRequest"
    assert host.recorder.events == []


async def test_request_from_unknown_requester_is_refused_at_once(host):
    resp = await host.post("/3/events", data=json.dumps(_event("3", "created", {"productId": ["urn:x:y"]})),
                           headers={**host.bearer, "Content-Type": CE})
    assert resp.status == 400 and "no events endpoint" in (await resp.json())["message"]


@pytest.mark.parametrize("version", ["2", "3"])
async def test_request_created_round_trip_between_two_hosts(version):
    """TW buyer (host A) asks JP supplier (host B); B answers on A's /events with A's token."""
    buyer_auth = ClientCredentialsAuth(audience="tw-buyer")
    buyer_auth.register_client("jp-supplier", "jp-secret")  # credentials A gave B for callbacks
    inbox = Recorder()
    buyer = await serve(create_pact_app(InMemoryFootprintSource(), buyer_auth, events=inbox))
    buyer_url = str(buyer.make_url("")).rstrip("/")
    supplier_auth = make_auth()
    partners = StaticPartners([Partner("tw-buyer", buyer_url, "jp-supplier", "jp-secret", client_ids=frozenset({"buyer"}))])
    supplier = await serve(create_pact_app(InMemoryFootprintSource(FOOTPRINTS), supplier_auth, partners=partners,
                                           delivery_base_delay=0.01))
    try:
        client = PactClient(buyer.session, str(supplier.make_url("")), client_id="buyer", client_secret="buyer-secret")
        wanted = FOOTPRINTS[3]
        data = ({"pf": {"productIds": [wanted["productIds"][0]]}, "comment": "2024 please"} if version == "2"
                else {"productId": [wanted["productIds"][0]], "comment": "2024 please"})
        request = _event(version, "created", data, source=f"{buyer_url}/{version}/events")
        assert await client.post_event(request, version) == 200
        nothing = _event(version, "created", {"pf": {"productIds": ["urn:pact:null"]}} if version == "2"
                         else {"productId": ["urn:pact:null"]}, source=f"{buyer_url}/{version}/events")
        assert await client.post_event(nothing, version) == 200
        await asyncio.wait_for(supplier.app[PACT_HOST].drain(), 10)
        got = {e.data["requestEventId"]: e for e, _ in inbox.events}
        fulfilled, rejected = got[request["id"]], got[nothing["id"]]
        assert fulfilled.kind.value == "RequestFulfilled" and rejected.kind.value == "RequestRejected"
        assert wanted["id"] in {pf["id"] for pf in fulfilled.data["pfs"]}
        assert all(wanted["productIds"][0] in pf["productIds"] for pf in fulfilled.data["pfs"])
        assert fulfilled.data["pfs"][0]["specVersion"].startswith(version + ".")
        assert rejected.data["error"]["code"] == "NotFound"
        assert {p.subject for _, p in inbox.events} == {"jp-supplier"}  # B authenticated at A
        assert fulfilled.source == f"{str(supplier.make_url('')).rstrip('/')}/{version}/events"
    finally:
        await supplier.close()
        await buyer.close()


async def test_delivery_retries_with_backoff_then_succeeds_and_publishes():
    calls: list[str] = []
    received: list[dict] = []

    async def flaky_events(request: web.Request) -> web.Response:
        calls.append(request.headers.get("Authorization", ""))
        if len(calls) < 3:
            return web.Response(status=503)
        received.append(json.loads(await request.read()))
        return web.Response(status=200)

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "partner-token", "token_type": "bearer", "expires_in": 600})

    partner_app = web.Application()
    partner_app.add_routes([web.post("/3/events", flaky_events), web.post("/auth/token", token)])
    partner = await serve(partner_app)
    partner_url = str(partner.make_url("")).rstrip("/")
    supplier = await serve(create_pact_app(
        InMemoryFootprintSource(FOOTPRINTS), make_auth(), delivery_base_delay=0.01,
        partners=StaticPartners([Partner("p", partner_url, "id", "secret", subscribed=frozenset({"3"}))])))
    try:
        results = await supplier.app[PACT_HOST].publish([IDS[0], IDS[1]], versions=("3",))
        assert results[0].delivered and results[0].attempts == 3
        assert calls == ["Bearer partner-token"] * 3
        assert received[0]["type"] == "org.wbcsd.pact.ProductFootprint.PublishedEvent.3"
        assert received[0]["data"]["pfIds"] == [IDS[0], IDS[1]]
    finally:
        await supplier.close()
        await partner.close()


async def test_delivery_gives_up_after_bounded_attempts():
    async def down(request: web.Request) -> web.Response:
        return web.Response(status=500)

    partner_app = web.Application()
    partner_app.add_routes([web.post("/2/events", down)])
    partner = await serve(partner_app)
    supplier = await serve(create_pact_app(
        InMemoryFootprintSource(FOOTPRINTS[:2]), make_auth(), delivery_attempts=3, delivery_base_delay=0.01,
        partners=StaticPartners([Partner("p", str(partner.make_url("")), subscribed=frozenset({"2"}))])))
    try:
        results = await supplier.app[PACT_HOST].publish([IDS[0]], versions=("2",))
        assert not results[0].delivered and results[0].attempts == 3 and "500" in results[0].reason
    finally:
        await supplier.close()
        await partner.close()
