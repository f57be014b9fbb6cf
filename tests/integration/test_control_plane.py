"""Two real connectors on loopback driven through the Management API (SQLite in temp dirs),
proving who they are with DCP: membership credentials from the running JP / TW authorities.
Partners whose membership does not hold are in test_partner_refusals.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
from aiohttp import web
import pytest

from connector.dataplane.runner import start_pact_host

from .processes import EDC_CONTEXT, KK, Connector, Management, offer_for

pytestmark = pytest.mark.timeout(90)

MEMBERS_ONLY = {"@type": "odrl:Set", "odrl:permission": [{
    "odrl:action": {"@id": "odrl:use"},
    "odrl:constraint": {"odrl:leftOperand": {"@id": KK + "OuranosMembership"}, "odrl:operator": {"@id": "odrl:eq"},
                        "odrl:rightOperand": "active"}}]}


async def _pair(spawn: Callable[..., Connector], *, consumer_authority: str = "jp") -> tuple[Connector, Connector]:
    provider, consumer = spawn("provider"), spawn("consumer", authority=consumer_authority)
    await asyncio.gather(provider.wait_ready(), consumer.wait_ready())
    return provider, consumer


async def _finalized(mc: Management, provider: Connector, asset: str) -> dict:
    catalog = await mc.catalog(provider)
    neg_id = await mc.negotiate(provider, offer_for(catalog, asset, provider))
    return await mc.wait_state("contractnegotiations", neg_id, {"FINALIZED", "TERMINATED"})


async def test_catalog_negotiation_transfer_and_termination(spawn, http: aiohttp.ClientSession) -> None:
    provider, consumer = await _pair(spawn)
    mp, mc = Management(http, provider), Management(http, consumer)
    await mp.offer("pcf-1", contract=MEMBERS_ONLY)

    catalog = await mc.catalog(provider)
    assert catalog["participantId"] == provider.participant_id
    neg = await _finalized(mc, provider, "pcf-1")
    assert neg["state"] == "FINALIZED", neg
    agreement = await mc.call("GET", f"/contractnegotiations/{neg['@id']}/agreement")
    assert agreement["assetId"] == "pcf-1"
    assert agreement["providerId"] == provider.participant_id
    assert agreement["consumerId"] == consumer.participant_id
    assert agreement["policy"]["timestamp"]
    provider_side = await mp.call("POST", "/contractnegotiations/request", {})
    assert [n["state"] for n in provider_side] == ["FINALIZED"]

    transfer_id = await mc.transfer(provider, agreement["@id"])
    tp = await mc.wait_state("transferprocesses", transfer_id, {"STARTED", "TERMINATED"})
    assert tp["state"] == "STARTED", tp
    address = await mc.call("GET", f"/edrs/{transfer_id}/dataaddress")
    assert address["endpoint"].startswith(provider.url) and address["authorization"].count(".") == 2
    edrs = await mc.call("POST", "/edrs/request", {})
    assert [e["transferProcessId"] for e in edrs] == [transfer_id]

    # The provider ends the transfer; the consumer learns it and its EDR stops working.
    [provider_tp] = await mp.call("POST", "/transferprocesses/request", {})
    await mp.call("POST", f"/transferprocesses/{provider_tp['@id']}/terminate", {"reason": "contract ended"},
                  expect=204)
    tp = await mc.wait_state("transferprocesses", transfer_id, {"TERMINATED"})
    assert "contract ended" in tp["errorDetail"]
    await mc.call("GET", f"/edrs/{transfer_id}/dataaddress", expect=409)
    # EDC's DELETE /v3/edrs/{id}: the entry is gone (a second delete and unknown ids are 404).
    await mc.call("DELETE", f"/edrs/{transfer_id}", expect=204)
    await mc.call("GET", f"/edrs/{transfer_id}/dataaddress", expect=404)
    assert await mc.call("POST", "/edrs/request", {}) == []
    await mc.call("DELETE", f"/edrs/{transfer_id}", expect=404)
    await mp.call("DELETE", f"/edrs/{provider_tp['@id']}", expect=404)  # provider-side records are not EDRs we hold


async def test_policy_denial_reason_is_visible(spawn, http: aiohttp.ClientSession) -> None:
    # A TW member: trusted by the JP provider (cross-recognition), but not an Ouranos member.
    provider, consumer = await _pair(spawn, consumer_authority="tw")
    mp, mc = Management(http, provider), Management(http, consumer)
    await mp.offer("pcf-members", contract=MEMBERS_ONLY)
    neg = await _finalized(mc, provider, "pcf-members")
    assert neg["state"] == "TERMINATED"
    assert "PolicyDenied" in neg["errorDetail"] and "Ouranos" in neg["errorDetail"], neg


async def test_consumer_terminates_and_counter_offer(spawn, http: aiohttp.ClientSession) -> None:
    provider, consumer = await _pair(spawn)
    mp, mc = Management(http, provider), Management(http, consumer)
    await mp.offer("pcf-2", contract=MEMBERS_ONLY)
    catalog = await mc.catalog(provider)
    offer = offer_for(catalog, "pcf-2", provider)
    # Ask for looser terms than offered: the provider answers with its own offer.
    loose = {**offer, "permission": [{"action": "use"}]}
    neg_id = await mc.negotiate(provider, loose)
    neg = await mc.wait_state("contractnegotiations", neg_id, {"OFFERED", "TERMINATED"})
    assert neg["state"] == "OFFERED", neg
    await mc.call("POST", f"/contractnegotiations/{neg_id}/accept", {}, expect=204)
    neg = await mc.wait_state("contractnegotiations", neg_id, {"FINALIZED", "TERMINATED"})
    assert neg["state"] == "FINALIZED", neg

    # A second negotiation, terminated by the consumer before it completes... or after: the
    # provider must end up TERMINATED either way when the consumer terminates mid-flow.
    neg2 = await mc.negotiate(provider, offer, reuseAgreement=True)
    assert neg2 == neg_id  # reused, not negotiated again
    neg3 = await mc.negotiate(provider, offer)
    await mc.wait_state("contractnegotiations", neg3, {"FINALIZED"})
    await mc.call("POST", f"/contractnegotiations/{neg3}/terminate", {"reason": "changed our mind"}, expect=400)


async def test_agreement_is_checked_again_when_a_transfer_starts(spawn, http: aiohttp.ClientSession) -> None:
    """The third decision point: an agreement whose time window has closed starts no transfer,
    although the negotiation under it was FINALIZED while the window was open."""
    from datetime import datetime, timedelta, timezone

    provider, consumer = await _pair(spawn)
    mp, mc = Management(http, provider), Management(http, consumer)
    until = (datetime.now(timezone.utc) + timedelta(seconds=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
    short_lived = {"@type": "odrl:Set", "odrl:permission": [{
        "odrl:action": {"@id": "odrl:use"},
        "odrl:constraint": {"odrl:leftOperand": {"@id": "odrl:dateTime"}, "odrl:operator": {"@id": "odrl:lteq"},
                            "odrl:rightOperand": {"@value": until, "@type": "xsd:dateTime"}}}]}
    await mp.offer("pcf-window", contract=short_lived)
    neg = await _finalized(mc, provider, "pcf-window")
    assert neg["state"] == "FINALIZED", neg
    agreement_id = neg["contractAgreementId"]
    # Inside the window the transfer starts ...
    first = await mc.transfer(provider, agreement_id)
    assert (await mc.wait_state("transferprocesses", first, {"STARTED", "TERMINATED"}))["state"] == "STARTED"
    # ... after it, the provider refuses with the policy's reason and the consumer sees it.
    deadline = datetime.strptime(until, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    await asyncio.sleep(max(0.0, (deadline - datetime.now(timezone.utc)).total_seconds()) + 1.2)
    second = await mc.transfer(provider, agreement_id)
    refused = await mc.wait_state("transferprocesses", second, {"STARTED", "TERMINATED"})
    assert refused["state"] == "TERMINATED", refused
    assert "does not permit this transfer" in refused["errorDetail"] and "dateTime" in refused["errorDetail"], refused


async def test_edr_flow_negotiates_then_pulls_in_one_call(spawn, http: aiohttp.ClientSession) -> None:
    """Tractus-X's POST /v3/edrs: one call, and the EDR appears once the negotiation is FINALIZED
    (the transfer request is written in the transaction that finalizes it)."""
    provider, consumer = await _pair(spawn)
    mp, mc = Management(http, provider), Management(http, consumer)
    await mp.offer("pcf-edr", contract=MEMBERS_ONLY)
    catalog = await mc.catalog(provider)
    # the application's callback endpoint (EDC callbacks): every event it is sent
    events: list[dict] = []

    async def receive(request: web.Request) -> web.Response:
        events.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/events", receive)
    runner, port = await start_pact_host(app)
    callbacks = [{"uri": f"http://127.0.0.1:{port}/events", "events": ["contract.negotiation", "transfer.process"]}]
    body = {"@context": EDC_CONTEXT, "@type": "ContractRequest", "counterPartyAddress": provider.dsp,
            "counterPartyId": provider.participant_id, "protocol": "dataspace-protocol-http:2025-1",
            "policy": offer_for(catalog, "pcf-edr", provider), "callbackAddresses": callbacks}
    try:
        neg_id = (await mc.call("POST", "/edrs", body))["@id"]
        neg = await mc.wait_state("contractnegotiations", neg_id, {"FINALIZED", "TERMINATED"})
        assert neg["state"] == "FINALIZED", neg
        shown = [{k: cb[k] for k in ("uri", "events")} for cb in neg["callbackAddresses"]]
        assert shown == callbacks, "the EDR flow's own marker is not shown to the app"
        deadline = asyncio.get_running_loop().time() + 15
        while "TransferProcessStarted" not in {e["type"] for e in events}:
            assert asyncio.get_running_loop().time() < deadline, [e["type"] for e in events]
            await asyncio.sleep(0.05)
        types = [e["type"] for e in events]
        assert "ContractNegotiationFinalized" in types and "TransferProcessRequested" in types, types
        assert all([cb["uri"] for cb in e["payload"]["callbackAddresses"]] == [callbacks[0]["uri"]] for e in events)
    finally:
        await runner.cleanup()
    deadline = asyncio.get_running_loop().time() + 15
    while not (edrs := await mc.call("POST", "/edrs/request", {})):
        assert asyncio.get_running_loop().time() < deadline, "no EDR after the negotiation finalized"
        await asyncio.sleep(0.1)
    [edr] = edrs
    assert edr["agreementId"] == neg["contractAgreementId"] and edr["providerId"] == provider.participant_id
    tp = await mc.wait_state("transferprocesses", edr["transferProcessId"], {"STARTED", "TERMINATED"})
    assert tp["state"] == "STARTED" and tp["transferType"] == "HttpData-PULL", tp
    address = await mc.call("GET", f"/edrs/{edr['transferProcessId']}/dataaddress")
    assert address["endpoint"].startswith(provider.url)
    # a plain negotiation starts no transfer
    plain = await _finalized(mc, provider, "pcf-edr")
    assert plain["state"] == "FINALIZED"
    await asyncio.sleep(0.5)
    assert len(await mc.call("POST", "/edrs/request", {})) == 1
    await mc.call("POST", "/edrs", {**body, "policy": "not an offer"}, expect=400)
    await mc.call("POST", "/edrs", {**body, "callbackAddresses": [{"uri": "local:kakehashi/edr"}]}, expect=400)
