"""Crash and scale-out: kill -9 mid-flow, restart, and replicas sharing one PostgreSQL store."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from identity.did import did_web_from_url
from tests.pgutil import admin_dsn, fresh_database

from .processes import API_KEY, FailoverProxy, Management, free_port, offer_for

pytestmark = pytest.mark.timeout(120)


async def test_provider_killed_while_consumer_has_pending_message(spawn, http: aiohttp.ClientSession) -> None:
    provider, consumer = spawn("provider"), spawn("consumer")
    await asyncio.gather(provider.wait_ready(), consumer.wait_ready())
    mp, mc = Management(http, provider), Management(http, consumer)
    await mp.offer("pcf-r")
    offer = offer_for(await mc.catalog(provider), "pcf-r", provider)

    provider.kill9()
    neg_id = await mc.negotiate(provider, offer)  # the request waits in the consumer's outbox
    await asyncio.sleep(1.0)
    assert (await mc.call("GET", f"/contractnegotiations/{neg_id}"))["state"] == "REQUESTED"
    provider.start()  # same port, same database
    await provider.wait_ready()
    neg = await mc.wait_state("contractnegotiations", neg_id, {"FINALIZED", "TERMINATED"}, timeout=30)
    assert neg["state"] == "FINALIZED", neg
    provider_side = await mp.call("POST", "/contractnegotiations/request", {})
    assert len(provider_side) == 1 and provider_side[0]["state"] == "FINALIZED"  # nothing duplicated

    # Kill the consumer right after it asked for a transfer; on restart the transfer completes.
    agreement = await mc.call("GET", f"/contractnegotiations/{neg_id}/agreement")
    transfer_id = await mc.transfer(provider, agreement["@id"])
    consumer.kill9()
    consumer.start()
    await consumer.wait_ready()
    tp = await mc.wait_state("transferprocesses", transfer_id, {"STARTED", "TERMINATED"}, timeout=40)
    assert tp["state"] == "STARTED", tp
    assert len(await mp.call("POST", "/transferprocesses/request", {})) == 1


@pytest.mark.postgres
async def _wait_delivered(http: aiohttp.ClientSession, base: str, count: int, timeout: float = 10.0) -> None:
    """Until the connector at ``base`` has delivered ``count`` outbox messages (its metrics)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with http.get(f"{base}/metrics", headers={"X-Api-Key": API_KEY}) as resp:
            text = await resp.text()
        sent = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith('kakehashi_outbox_deliveries_total{outcome="sent"}'))
        if sent >= count:
            return
        assert loop.time() < deadline, f"{base} delivered {sent} of {count} messages"
        await asyncio.sleep(0.05)


async def test_consumer_replicas_on_postgres_share_work(spawn, http: aiohttp.ClientSession) -> None:
    if admin_dsn() is None:
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    with fresh_database("kk_cp") as url:
        fast = {"KAKEHASHI_RECOVERY_INTERVAL_S": "0.5"}
        proxy = FailoverProxy(free_port())  # the replicas' shared public address, and their did:web
        await proxy.start()
        provider = spawn("provider")
        a = spawn("consumer", database=url, replica_id="a", env=fast, public_url=proxy.url)
        proxy.backends = [a.url]
        await a.wait_ready()  # one replica migrates first; the other finds nothing to do
        # The same connector again: same DID, key, credentials and database, another port.
        b = spawn("consumer", replica_of=a, replica_id="b", env=fast)
        proxy.backends = [a.url, b.url]
        await asyncio.gather(provider.wait_ready(), b.wait_ready())
        assert a.participant_id == b.participant_id == did_web_from_url(proxy.url)
        mp, ma, mb = Management(http, provider), Management(http, a), Management(http, b)
        await mp.offer("pcf-pg")
        offer = offer_for(await ma.catalog(provider), "pcf-pg", provider)

        # Work started on replica a is visible to, and continued by, replica b.
        done = await ma.negotiate(provider, offer)
        neg = await mb.wait_state("contractnegotiations", done, {"FINALIZED", "TERMINATED"})
        assert neg["state"] == "FINALIZED", neg

        # Replica a dies holding queued messages for a provider that is down: b sends them.
        # (The provider is stopped only once it has recorded both its messages to the consumer
        # as delivered; killed in between, it resends FINALIZED on restart, which the finalized
        # consumer refuses as a message to a terminal process — a different scenario.)
        await _wait_delivered(http, provider.url, 2)
        provider.kill9()
        pending = [await ma.negotiate(provider, offer) for _ in range(3)]
        a.kill9()
        provider.start()
        await provider.wait_ready()
        for neg_id in pending:
            neg = await mb.wait_state("contractnegotiations", neg_id, {"FINALIZED", "TERMINATED"}, timeout=40)
            assert neg["state"] == "FINALIZED", neg
        assert len(await mp.call("POST", "/contractnegotiations/request", {})) == 4
        # The restarted provider checked the consumer's identity afresh (DID document and
        # presentation through the proxy, answered by b) and refused nothing.
        assert "refused" not in provider.log_text()
        await proxy.stop()
