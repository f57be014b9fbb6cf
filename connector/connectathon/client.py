"""A small Management API client for the demo and the connect-a-thon runner.

Why a client of our own API rather than calling Python functions: the demo and the runner must
exercise what an operator's application sees (HTTP, `X-Api-Key`, EDC JSON-LD shapes), so a
broken route or shape fails here exactly as it would fail for a user.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

EDC_CONTEXT = {"@vocab": "https://w3id.org/edc/v0.0.1/ns/", "odrl": "http://www.w3.org/ns/odrl/2/"}
DSP_PROTOCOL = "dataspace-protocol-http:2025-1"
TERMINAL_NEGOTIATION = {"FINALIZED", "TERMINATED"}
TERMINAL_TRANSFER = {"STARTED", "COMPLETED", "TERMINATED", "SUSPENDED"}


class ApiError(Exception):
    """A Management API call did not answer as expected; the message has the status and the reason."""

    def __init__(self, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def error_reason(body: Any) -> str:
    """The readable part of an EDC error list, a PACT/DSP error object, or raw text."""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return "; ".join(str(e.get("message") or e) for e in body)
    if isinstance(body, dict):
        for key in ("message", "error", "reason", "errorDetail"):
            if body.get(key):
                return str(body[key])
    return str(body)[:300]


class ManagementClient:
    """One connector's Management API (`.../api/management/v3`), authenticated with its API key."""

    def __init__(self, session: aiohttp.ClientSession, base: str, api_key: str, *, timeout: float = 20.0) -> None:
        self.session = session
        self.base = base.rstrip("/")
        self.api_key = api_key
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def call(self, method: str, path: str, body: Any = None, *, expect: tuple[int, ...] = (200, 201, 204)) -> Any:
        try:
            async with self.session.request(method, self.base + path, json=body, headers={"X-Api-Key": self.api_key},
                                            timeout=self.timeout) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise ApiError(f"{method} {path}: no answer from {self.base} ({type(exc).__name__}: {exc})") from None
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = text
        if status not in expect:
            raise ApiError(f"{method} {path} -> HTTP {status}: {error_reason(data)}", status, data)
        return data

    # -- provider side ---------------------------------------------------------------------------
    async def offer(self, asset_id: str, *, name: str, access: dict[str, Any], contract: dict[str, Any],
                    properties: dict[str, Any] | None = None) -> None:
        """Publish one asset under an access policy (who sees it) and a contract policy (the terms)."""
        await self.call("POST", "/assets", {"@context": EDC_CONTEXT, "@id": asset_id,
                                            "properties": {"name": name, **(properties or {})}})
        for pid, policy in ((f"{asset_id}-access", access), (f"{asset_id}-contract", contract)):
            await self.call("POST", "/policydefinitions", {"@context": EDC_CONTEXT, "@id": pid, "policy": policy})
        await self.call("POST", "/contractdefinitions", {
            "@context": EDC_CONTEXT, "@id": f"{asset_id}-definition", "accessPolicyId": f"{asset_id}-access",
            "contractPolicyId": f"{asset_id}-contract",
            "assetsSelector": [{"operandLeft": "https://w3id.org/edc/v0.0.1/ns/id", "operator": "=",
                                "operandRight": asset_id}]})

    # -- consumer side ---------------------------------------------------------------------------
    async def catalog(self, dsp: str, did: str) -> dict[str, Any]:
        return await self.call("POST", "/catalog/request", {  # type: ignore[no-any-return]
            "@context": EDC_CONTEXT, "@type": "CatalogRequest", "counterPartyAddress": dsp,
            "counterPartyId": did, "protocol": DSP_PROTOCOL})

    async def negotiate(self, dsp: str, did: str, offer: dict[str, Any]) -> str:
        body = {"@context": EDC_CONTEXT, "@type": "ContractRequest", "counterPartyAddress": dsp,
                "counterPartyId": did, "protocol": DSP_PROTOCOL, "policy": offer}
        return str((await self.call("POST", "/contractnegotiations", body))["@id"])

    async def transfer(self, dsp: str, did: str, agreement_id: str) -> str:
        body = {"@context": EDC_CONTEXT, "@type": "TransferRequest", "counterPartyAddress": dsp,
                "counterPartyId": did, "contractId": agreement_id, "transferType": "HttpData-PULL",
                "protocol": DSP_PROTOCOL}
        return str((await self.call("POST", "/transferprocesses", body))["@id"])

    async def wait_state(self, kind: str, process_id: str, states: set[str], *, timeout: float = 20.0) -> dict[str, Any]:
        """The process once it reaches one of `states` (the Management API has no long poll; a
        short sleep between reads keeps this cheap)."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            last = await self.call("GET", f"/{kind}/{process_id}")
            if last.get("state") in states:
                return last
            await asyncio.sleep(0.02)
        raise ApiError(f"{kind} {process_id} is still {last.get('state')} after {timeout:g} s"
                       + (f" ({last['errorDetail']})" if last.get("errorDetail") else ""))


def offer_for(catalog: dict[str, Any], asset_id: str, provider_did: str) -> dict[str, Any]:
    """The catalog's first offer for `asset_id`, as a consumer sends it back (with target and assigner)."""
    datasets = catalog.get("dataset") or catalog.get("dcat:dataset") or []
    for dataset in datasets if isinstance(datasets, list) else [datasets]:
        if isinstance(dataset, dict) and dataset.get("@id") == asset_id:
            policies = dataset.get("hasPolicy") or dataset.get("odrl:hasPolicy") or []
            policy = policies[0] if isinstance(policies, list) else policies
            return {**policy, "target": asset_id, "assigner": provider_did}
    offered = [d.get("@id") for d in (datasets if isinstance(datasets, list) else [datasets]) if isinstance(d, dict)]
    raise ApiError(f"asset {asset_id!r} is not in the partner's catalog (offered: {offered or 'nothing'})")
