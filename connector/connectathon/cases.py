"""The connect-a-thon test cases: what a partner connector must do for us to exchange footprints.

Each case is a small async function over a shared `Context`: it returns a one-line detail when
the partner behaves, raises `CaseFailed` (or any `ApiError`/`AssertionError`) with the reason
when it does not, and `CaseSkipped` when it cannot be judged (a prerequisite failed, or the
organiser gave no asset to test it with). Cases run in order; later ones reuse the agreement
and transfer that earlier ones produced, as a real exchange would.

Our side is always one of our connectors, driven through its Management API; the partner is
reached both through that connector (DSP + DCP) and directly (discovery, DCP refusal, the PACT
data plane with the EDR our connector received, bad input).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .client import ApiError, ManagementClient, error_reason, offer_for

DSP_CONTEXT = ["https://w3id.org/dspace/2025/1/context.jsonld"]


class CaseFailed(Exception):
    """The partner did not behave as the specs require; the message says what it did."""


class CaseSkipped(Exception):
    """The case cannot be judged here; the message says why."""


@dataclass
class Partner:
    """The connector under test: its DID and URL (root or DSP base; discovery finds the base)."""

    did: str
    url: str
    name: str = ""
    dsp: str = ""

    @property
    def root(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"


@dataclass
class Context:
    session: aiohttp.ClientSession
    ours: ManagementClient
    partner: Partner
    asset: str | None = None  # an asset we may negotiate (else the first in the catalog)
    denied_asset: str | None = None  # an asset whose contract policy must refuse us
    expected_footprints: set[str] = field(default_factory=set)  # known only when we provisioned the partner
    catalog: dict[str, Any] | None = None
    agreement_id: str = ""
    transfer_id: str = ""
    data_address: dict[str, Any] | None = None

    def need(self, what: str) -> None:
        have = {"catalog": self.catalog is not None, "agreement": bool(self.agreement_id),
                "transfer": bool(self.transfer_id), "edr": self.data_address is not None}
        if not have[what]:
            raise CaseSkipped(f"needs a {what} from an earlier case, which did not produce one")

    async def get(self, url: str, *, headers: dict[str, str] | None = None) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
        async with self.session.get(url, headers=headers or {}, allow_redirects=False) as resp:
            return resp.status, await _body(resp), resp.headers

    async def post(self, url: str, *, json: Any = None, data: bytes | None = None,  # noqa: A002 - aiohttp's name
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
        async with self.session.post(url, json=json, data=data, headers=headers or {}, allow_redirects=False) as resp:
            return resp.status, await _body(resp)

    async def pact(self, path: str, *, token: str | None = "edr") -> tuple[int, Any, Any]:
        """GET on the partner's PACT API behind the EDR (`token=None`: no Authorization at all)."""
        self.need("edr")
        assert self.data_address is not None
        endpoint = str(self.data_address["endpoint"]).rstrip("/")
        auth = str(self.data_address["authorization"]) if token == "edr" else token
        headers = {} if auth is None else {"Authorization": auth if auth.lower().startswith("bearer ")
                                           else f"Bearer {auth}"}
        return await self.get(endpoint + path, headers=headers)


async def _body(resp: aiohttp.ClientResponse) -> Any:
    text = await resp.text()
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text[:500]


CaseFn = Callable[[Context], Awaitable[str]]


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    run: CaseFn


CASES: list[Case] = []


def case(name: str, title: str) -> Callable[[CaseFn], CaseFn]:
    def register(fn: CaseFn) -> CaseFn:
        CASES.append(Case(name, title, fn))
        return fn
    return register


def expect(condition: bool, reason: str) -> None:
    if not condition:
        raise CaseFailed(reason)


# -- discovery and identity -------------------------------------------------------------------
@case("version-discovery", "GET /.well-known/dspace-version lists 2025-1 with its path (DSP 2025-1 §4.3)")
async def version_discovery(ctx: Context) -> str:
    status, body, _ = await ctx.get(ctx.partner.root + "/.well-known/dspace-version")
    expect(status == 200, f"HTTP {status}: {error_reason(body)}")
    versions = body.get("protocolVersions") if isinstance(body, dict) else None
    expect(isinstance(versions, list), f"no protocolVersions list in {str(body)[:200]}")
    match = [v for v in versions if isinstance(v, dict) and v.get("version") == "2025-1"]  # type: ignore[union-attr]
    expect(bool(match), f"2025-1 is not announced; versions: {[v.get('version') for v in versions]}")  # type: ignore[union-attr]
    path = str(match[0].get("path") or "")
    expect(path.startswith("/") or path.startswith("http"), f"2025-1 entry has no usable path: {match[0]}")
    ctx.partner.dsp = path if path.startswith("http") else ctx.partner.root + path.rstrip("/")
    return f"2025-1 at {ctx.partner.dsp} (binding {match[0].get('binding', '?')})"


@case("dcp-refused-without-token", "DSP requests without or with a garbage DCP token are refused (401/403)")
async def dcp_refused(ctx: Context) -> str:
    dsp = ctx.partner.dsp or ctx.partner.url
    body = {"@context": DSP_CONTEXT, "@type": "CatalogRequestMessage"}
    seen = []
    for label, headers in (("no token", {}), ("garbage token", {"Authorization": "Bearer not.a.token"})):
        status, answer = await ctx.post(dsp + "/catalog/request", json=body, headers=headers)
        expect(status in (401, 403), f"{label}: expected 401/403, got HTTP {status}: {error_reason(answer)}")
        seen.append(f"{label}: {status}")
    return ", ".join(seen)


# -- control plane through our connector -------------------------------------------------------
@case("catalog", "our connector gets the partner's catalog over DSP with DCP credentials")
async def catalog(ctx: Context) -> str:
    dsp = ctx.partner.dsp or ctx.partner.url
    ctx.catalog = await ctx.ours.catalog(dsp, ctx.partner.did)
    participant = ctx.catalog.get("participantId") or ctx.catalog.get("dspace:participantId")
    expect(participant == ctx.partner.did, f"catalog participantId is {participant!r}, expected {ctx.partner.did}")
    datasets = ctx.catalog.get("dataset") or []
    datasets = datasets if isinstance(datasets, list) else [datasets]
    expect(bool(datasets), "the catalog offers no dataset")
    if ctx.asset is None:
        ctx.asset = str(datasets[0]["@id"])
    return f"{len(datasets)} dataset(s); testing with {ctx.asset}"


@case("negotiation-finalized", "a contract negotiation for an offered asset reaches FINALIZED with an agreement")
async def negotiation(ctx: Context) -> str:
    ctx.need("catalog")
    assert ctx.catalog is not None and ctx.asset is not None
    offer = offer_for(ctx.catalog, ctx.asset, ctx.partner.did)
    negotiation_id = await ctx.ours.negotiate(ctx.partner.dsp or ctx.partner.url, ctx.partner.did, offer)
    final = await ctx.ours.wait_state("contractnegotiations", negotiation_id, {"FINALIZED", "TERMINATED"})
    expect(final["state"] == "FINALIZED", f"ended {final['state']}: {final.get('errorDetail', 'no reason')}")
    ctx.agreement_id = str(final.get("contractAgreementId") or "")
    expect(bool(ctx.agreement_id), "FINALIZED without a contractAgreementId")
    agreement = await ctx.ours.call("GET", f"/contractagreements/{ctx.agreement_id}")
    expect(agreement.get("providerId") == ctx.partner.did,
           f"agreement assigner is {agreement.get('providerId')!r}, expected {ctx.partner.did}")
    return f"agreement {ctx.agreement_id}"


@case("policy-denial", "a negotiation the partner's policy forbids is TERMINATED with a reason")
async def policy_denial(ctx: Context) -> str:
    if not ctx.denied_asset:
        raise CaseSkipped("no --denied-asset given (an asset whose contract policy must refuse us)")
    ctx.need("catalog")
    assert ctx.catalog is not None
    try:
        offer = offer_for(ctx.catalog, ctx.denied_asset, ctx.partner.did)
    except ApiError:
        return f"{ctx.denied_asset} is not even offered to us (refused at the access policy)"
    negotiation_id = await ctx.ours.negotiate(ctx.partner.dsp or ctx.partner.url, ctx.partner.did, offer)
    final = await ctx.ours.wait_state("contractnegotiations", negotiation_id, {"FINALIZED", "TERMINATED"})
    expect(final["state"] == "TERMINATED", f"a forbidden negotiation ended {final['state']}")
    reason = str(final.get("errorDetail") or "")
    expect(bool(reason), "TERMINATED without a reason in errorDetail")
    return f"TERMINATED: {reason[:120]}"


@case("transfer-started", "a pull transfer under the agreement reaches STARTED with an EDR")
async def transfer(ctx: Context) -> str:
    ctx.need("agreement")
    ctx.transfer_id = await ctx.ours.transfer(ctx.partner.dsp or ctx.partner.url, ctx.partner.did, ctx.agreement_id)
    final = await ctx.ours.wait_state("transferprocesses", ctx.transfer_id, {"STARTED", "TERMINATED"})
    expect(final["state"] == "STARTED", f"ended {final['state']}: {final.get('errorDetail', 'no reason')}")
    ctx.data_address = await ctx.ours.call("GET", f"/edrs/{ctx.transfer_id}/dataaddress")
    expect(bool(ctx.data_address.get("endpoint")) and bool(ctx.data_address.get("authorization")),
           f"the EDR has no endpoint or token: {ctx.data_address}")
    return f"transfer {ctx.transfer_id}, endpoint {ctx.data_address['endpoint']}"


@case("footprint-fetch-verify", "every footprint fetched with the EDR is a credential our verifier accepts")
async def footprint_fetch(ctx: Context) -> str:
    ctx.need("transfer")
    answer = await ctx.ours.call("POST", "/footprints/fetch", {"transferProcessId": ctx.transfer_id})
    received = list(answer.get("received") or [])
    rejected = list(answer.get("rejected") or [])
    expect(not rejected, "rejected: " + "; ".join(f"{r.get('id')}: {r.get('reason')}" for r in rejected)[:400])
    expect(bool(received), "the partner delivered no footprint")
    if ctx.expected_footprints:
        missing = ctx.expected_footprints - set(received)
        expect(not missing, f"{len(missing)} published footprint(s) never arrived: {sorted(missing)[:3]}")
    return f"{len(received)} received and verified, 0 rejected"


# -- the partner's PACT data plane, with the EDR -------------------------------------------------
def _items(body: Any) -> list[dict[str, Any]]:
    data = body.get("data") if isinstance(body, dict) else None
    expect(isinstance(data, list), f"no data list in {str(body)[:200]}")
    return [d for d in data if isinstance(d, dict)]  # type: ignore[union-attr]


def _footprint_id(item: dict[str, Any]) -> str:
    """The PACT id of a listed item: a plain footprint, or a credential carrying one."""
    subject = item.get("credentialSubject")
    if isinstance(subject, dict) and isinstance(subject.get("productFootprint"), dict):
        return str(subject["productFootprint"].get("id"))
    return str(item.get("id"))


def _pact_error(status: int, body: Any, statuses: tuple[int, ...], codes: tuple[str, ...], what: str) -> str:
    expect(status in statuses, f"{what}: expected HTTP {'/'.join(map(str, statuses))}, got {status}: {str(body)[:200]}")
    code = body.get("code") if isinstance(body, dict) else None
    expect(code in codes, f"{what}: expected code {' or '.join(codes)}, got {code!r}")
    expect(isinstance(body.get("message"), str), f"{what}: error body has no message")
    return f"{what} {status} {code}"


@case("pact-v2-endpoints", "PACT v2: list with limit and Link paging, get by id")
async def pact_v2(ctx: Context) -> str:
    status, body, headers = await ctx.pact("/2/footprints?limit=1")
    expect(status == 200, f"GET /2/footprints -> HTTP {status}: {str(body)[:200]}")
    items = _items(body)
    expect(len(items) <= 1, f"limit=1 returned {len(items)} items")
    expect(bool(items), "no footprints listed")
    paging = "Link" in headers and 'rel="next"' in headers["Link"]
    fid = _footprint_id(items[0])
    status, one, _ = await ctx.pact(f"/2/footprints/{fid}")
    expect(status == 200, f"GET /2/footprints/{fid} -> HTTP {status}: {str(one)[:200]}")
    return f"list + get {fid[:8]}…" + (", Link rel=next present" if paging else ", single page")


@case("pact-v3-endpoints", "PACT v3: list, filters (productId, garbage values give an empty list), get by id")
async def pact_v3(ctx: Context) -> str:
    status, body, _ = await ctx.pact("/3/footprints?limit=5")
    expect(status == 200, f"GET /3/footprints -> HTTP {status}: {str(body)[:200]}")
    items = _items(body)
    expect(bool(items), "no footprints listed")
    fid = _footprint_id(items[0])
    status, one, _ = await ctx.pact(f"/3/footprints/{fid}")
    expect(status == 200, f"GET /3/footprints/{fid} -> HTTP {status}")
    status, empty, _ = await ctx.pact("/3/footprints?productId=urn:connectathon:no-such-product")
    expect(status == 200 and _items(empty) == [], f"an unmatched productId filter gave HTTP {status}: {str(empty)[:200]}")
    return f"list {len(items)}, get {fid[:8]}…, unmatched filter -> []"


@case("pact-error-codes", "PACT errors: unknown id (v2 NoSuchFootprint, v3 NotFound), bad or missing token")
async def pact_errors(ctx: Context) -> str:
    unknown = str(uuid.uuid4())
    seen = []
    status, body, _ = await ctx.pact(f"/2/footprints/{unknown}")
    seen.append(_pact_error(status, body, (404,), ("NoSuchFootprint",), "v2 unknown id"))
    status, body, _ = await ctx.pact(f"/3/footprints/{unknown}")
    seen.append(_pact_error(status, body, (404,), ("NotFound",), "v3 unknown id"))
    status, body, _ = await ctx.pact("/2/footprints", token="garbage")
    seen.append(_pact_error(status, body, (400, 401, 403), ("BadRequest", "AccessDenied"), "v2 garbage token"))
    status, body, _ = await ctx.pact("/3/footprints", token=None)
    seen.append(_pact_error(status, body, (400, 401, 403), ("BadRequest", "AccessDenied"), "v3 no token"))
    return "; ".join(seen)


@case("bad-input-4xx", "bad input gets a 4xx with a reason, never a 5xx (DSP and PACT)")
async def bad_input(ctx: Context) -> str:
    dsp = ctx.partner.dsp or ctx.partner.url
    checks: list[tuple[str, int]] = []
    status, _ = await ctx.post(dsp + "/catalog/request", data=b"{not json", headers={"Content-Type": "application/json"})
    checks.append(("DSP catalog: broken JSON", status))
    status, _, _ = await ctx.get(f"{dsp}/negotiations/{uuid.uuid4()}")
    checks.append(("DSP unknown negotiation", status))
    status, _ = await ctx.post(f"{dsp}/transfers/{uuid.uuid4()}/start", json=[1, 2, 3])
    checks.append(("DSP transfer start: wrong shape", status))
    if ctx.data_address is not None:
        for label, path in (("PACT v2 limit=-1", "/2/footprints?limit=-1"),
                            ("PACT v2 garbage $filter", "/2/footprints?$filter=%28%28%28"),
                            ("PACT v3 limit=abc", "/3/footprints?limit=abc")):
            status, _, _ = await ctx.pact(path)
            checks.append((label, status))
        endpoint = str(ctx.data_address["endpoint"]).rstrip("/")
        token = str(ctx.data_address["authorization"])
        status, _ = await ctx.post(endpoint + "/2/events", json={"type": "nonsense"},
                                   headers={"Authorization": f"Bearer {token}",
                                            "Content-Type": "application/cloudevents+json"})
        checks.append(("PACT v2 malformed event", status))
    bad = [f"{label}: HTTP {status}" for label, status in checks if not 400 <= status < 500]
    expect(not bad, "; ".join(bad))
    return ", ".join(f"{label} {status}" for label, status in checks)


@case("transfer-termination", "terminating the transfer ends it on our side and the EDR stops working")
async def termination(ctx: Context) -> str:
    ctx.need("transfer")
    await ctx.ours.call("POST", f"/transferprocesses/{ctx.transfer_id}/terminate",
                        {"@context": {"@vocab": "https://w3id.org/edc/v0.0.1/ns/"}, "reason": "connect-a-thon ends"})
    final = await ctx.ours.wait_state("transferprocesses", ctx.transfer_id, {"TERMINATED"})
    if ctx.data_address is None:
        return f"{final['state']}"
    for _ in range(50):  # the partner revokes on its TransferTerminationMessage, delivered asynchronously
        status, body, _ = await ctx.pact("/2/footprints?limit=1")
        if status in (401, 403):
            return f"TERMINATED; the old EDR now gets HTTP {status} {body.get('code') if isinstance(body, dict) else ''}"
        await asyncio.sleep(0.1)
    raise CaseFailed(f"after termination the partner still answers the old EDR with HTTP {status}")
