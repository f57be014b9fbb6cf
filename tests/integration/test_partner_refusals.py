"""Partners whose membership does not hold are refused over DCP, with the reason in the log.

A JP provider (real process, membership from the running JP authority) is asked by consumers
that are real connector processes too: one holding a membership from an authority outside
every trust list, one holding no membership at all, and one whose membership the JP authority
revokes (`kakehashi authority revoke`) while it is a customer.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import aiohttp
import pytest

from .processes import REPO, Management, offer_for, wait_for_log

pytestmark = pytest.mark.timeout(90)


async def test_untrusted_and_credential_less_partners_are_refused(spawn, dataspace,
                                                                 http: aiohttp.ClientSession) -> None:
    provider = spawn("provider")
    member = spawn("member", authority="tw")  # TW: trusted by JP through cross-recognition
    untrusted = spawn("untrusted", authority="untrusted")
    nobody = spawn("nobody", member=False)
    await asyncio.gather(*(c.wait_ready() for c in (provider, member, untrusted, nobody)))
    mp = Management(http, provider)
    await mp.offer("pcf-open")
    offer = offer_for(await Management(http, member).catalog(provider), "pcf-open", provider)

    # An authority nobody trusts: catalog and negotiation are refused with 403, reason logged.
    mu = Management(http, untrusted)
    refused = await mu.catalog(provider, expect=403)
    assert "no membership trusted by ouranos-jp" in refused[0]["message"], refused
    line = await wait_for_log(provider, "refused POST /api/dsp/catalog/request (403)", untrusted.participant_id)
    assert f"issuer {dataspace.authority('untrusted').did} is not trusted by data space ouranos-jp" in line, line
    neg_id = await mu.negotiate(provider, offer)
    neg = await mu.wait_state("contractnegotiations", neg_id, {"TERMINATED", "FINALIZED"})
    assert neg["state"] == "TERMINATED" and "no membership trusted by ouranos-jp" in neg["errorDetail"], neg
    await wait_for_log(provider, "refused POST /api/dsp/negotiations/request (403)", untrusted.participant_id)
    assert await mp.call("POST", "/contractnegotiations/request", {}) == [], "the provider never negotiated"

    # No membership credential at all.
    refused = await Management(http, nobody).catalog(provider, expect=403)
    assert nobody.participant_id in refused[0]["message"], refused
    line = await wait_for_log(provider, "refused POST /api/dsp/catalog/request (403)", nobody.participant_id)
    assert "no MembershipCredential" in line, line


async def test_revoked_membership_is_refused_once_the_status_list_cache_expires(
        spawn, dataspace, http: aiohttp.ClientSession) -> None:
    provider, consumer = spawn("provider"), spawn("consumer")
    await asyncio.gather(provider.wait_ready(), consumer.wait_ready())
    mp, mc = Management(http, provider), Management(http, consumer)
    await mp.offer("pcf-rev")
    offer = offer_for(await mc.catalog(provider), "pcf-rev", provider)

    authority = dataspace.authority("jp")
    [credential_id] = consumer.credential_ids
    revoke = subprocess.run([sys.executable, "-m", "connector.cli", "authority", "revoke", "--url", authority.url,
                             f"--api-key={authority.secret}", "--id", credential_id],
                            cwd=REPO, capture_output=True, text=True, timeout=30)
    assert revoke.returncode == 0, revoke.stderr
    # The authority's status lists live 1 s in caches (see conftest): until they expire the
    # membership still counts; after that every request is refused. Poll, not one fixed sleep,
    # so a busy machine cannot make the cache outlive the wait.
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        refused = await mc.catalog(provider, expect=None)
        if isinstance(refused, list):
            break
        assert asyncio.get_running_loop().time() < deadline, "the revocation never took effect"
        await asyncio.sleep(0.2)
    assert "status: revocation bit" in refused[0]["message"], refused
    line = await wait_for_log(provider, "refused POST /api/dsp/catalog/request (403)", consumer.participant_id)
    assert "revocation bit" in line, line
    neg_id = await mc.negotiate(provider, offer)
    neg = await mc.wait_state("contractnegotiations", neg_id, {"TERMINATED", "FINALIZED"})
    assert neg["state"] == "TERMINATED" and "revocation bit" in neg["errorDetail"], neg
