"""PACT events between a real connector process and a direct PACT partner, over HTTP on loopback.

The partner (a TW buyer without a connector) is a standalone PACT host in this process; the
connector knows it from ``[[connector.pact_clients]]`` in a TOML file written here: the
credentials we issued to it, its PACT API root, and the credentials it issued to us.

- The partner gets a token at the connector's ``/api/public/auth/token`` and sends
  ``RequestCreated``; the connector answers on the partner's ``/2|3/events`` (with a token
  from the partner's ``/auth/token``) with ``RequestFulfilled`` (the footprint, the
  ``requestEventId`` echoed) or ``RequestRejected``.
- Publishing through the Management API sends ``Published`` to subscribers (new footprints
  and newer versions, not kept-older ones; a partner restricted to some footprints hears
  only about those), without the publish waiting for, or failing because of, a dead partner.
- Malformed events get 400.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connector.dataplane import ClientCredentialsAuth, InMemoryFootprintSource, create_pact_app
from connector.dataplane.client import PactClient, PactClientError
from connector.dataplane.runner import start_pact_host
from connector.footprints import make_footprints
from identity.keys import KeyPair

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[2]
API_KEY = "pact-events-management-key-0123"
CE = "application/cloudevents+json; charset=UTF-8"
FPS = make_footprints("jp", 5, seed=23)
# what we issued to the partner (client_id, secret), and what it issued to us
BUYER = ("tw-buyer", "tw-buyer-secret-0123456789")
BUYER_AT_PARTNER = ("jp-connector", "jp-at-tw-secret-abcdef")
AUDITOR = ("tw-auditor", "tw-auditor-secret-0123456789")  # may read FPS[0] only; v3 subscriber
AUDITOR_AT_PARTNER = ("jp-connector-audit", "jp-audit-at-tw-secret-abcdef")
READER = ("tw-reader", "tw-reader-secret-0123456789")  # reads, but has no events endpoint
DEAD = ("tw-dead", "tw-dead-secret-0123456789")  # subscribed, its endpoint refuses connections


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """The partner's EventHandler: keeps each (event, principal) and wakes waiters."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, Any]] = []
        self._changed = asyncio.Condition()

    async def handle(self, event: Any, principal: Any) -> None:
        async with self._changed:
            self.events.append((event, principal))
            self._changed.notify_all()

    async def wait_for(self, matches: Callable[[Any, Any], bool], timeout: float = 10.0) -> tuple[Any, Any]:
        async def found() -> tuple[Any, Any]:
            async with self._changed:
                while True:
                    for event, principal in self.events:
                        if matches(event, principal):
                            return event, principal
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(found(), timeout)
        except asyncio.TimeoutError:
            seen = [(e.version, e.kind.value, e.data, p.subject) for e, p in self.events]
            raise AssertionError(f"no matching event within {timeout}s; the partner got {seen}") from None


@dataclass
class Partner:
    url: str
    inbox: Inbox


@dataclass
class Connector:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def public(self) -> str:
        return self.url + "/api/public"

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@pytest.fixture
async def partner() -> AsyncIterator[Partner]:
    """The TW buyer's own PACT host: it issued credentials to the connector, collects events."""
    auth = ClientCredentialsAuth(audience="tw-buyer-pact")
    auth.register_client(*BUYER_AT_PARTNER)
    auth.register_client(*AUDITOR_AT_PARTNER)
    inbox = Inbox()
    runner, port = await start_pact_host(create_pact_app(InMemoryFootprintSource(), auth, events=inbox))
    try:
        yield Partner(f"http://127.0.0.1:{port}", inbox)
    finally:
        await runner.cleanup()


def _write_config(workdir: Path, port: int, partner_url: str, dead_url: str) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    KeyPair.generate("Ed25519").save(workdir / "key.jwk")
    (workdir / "trust.json").write_text(json.dumps({"data_space": [{"name": "ouranos-jp", "issuers": [
        {"did": "did:web:authority.test", "types": ["MembershipCredential"]}]}]}), encoding="utf-8")
    config = workdir / "connector.toml"
    config.write_text(f"""
[connector]
name = "JP supplier"
participant_id = "did:web:127.0.0.1%3A{port}"
host = "127.0.0.1"
port = {port}
database = "sqlite+aiosqlite:///store.db"
key_file = "key.jwk"
trust_file = "trust.json"
api_key = "{API_KEY}"
allow_http_loopback = true

[[connector.pact_clients]]
client_id = "{BUYER[0]}"
client_secret = "{BUYER[1]}"
events_base_url = "{partner_url}/"
partner_client_id = "{BUYER_AT_PARTNER[0]}"
partner_client_secret = "{BUYER_AT_PARTNER[1]}"
subscribe = ["2", "3"]

[[connector.pact_clients]]
client_id = "{AUDITOR[0]}"
client_secret = "{AUDITOR[1]}"
footprint_ids = ["{FPS[0]['id']}"]
events_base_url = "{partner_url}"
partner_client_id = "{AUDITOR_AT_PARTNER[0]}"
partner_client_secret = "{AUDITOR_AT_PARTNER[1]}"
subscribe = [3]

[[connector.pact_clients]]
client_id = "{READER[0]}"
client_secret = "{READER[1]}"

[[connector.pact_clients]]
client_id = "{DEAD[0]}"
client_secret = "{DEAD[1]}"
events_base_url = "{dead_url}"
partner_client_id = "nobody"
partner_client_secret = "nothing"
subscribe = ["3"]
""", encoding="utf-8")
    return config


async def _start_connector(config: Path, port: int) -> Connector:
    """`kakehashi run` on ``config``, once it answers ready (its log beside the config)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAKEHASHI_")}
    log = config.parent / "connector.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "connector.cli", "run", "--config", str(config)], cwd=REPO,
                                env={**env, "PYTHONUNBUFFERED": "1"}, stdout=out, stderr=subprocess.STDOUT)
    c = Connector(f"http://127.0.0.1:{port}", proc, log)
    try:
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as session:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"connector exited with {proc.returncode}:\n{c.tail()}")
                try:
                    async with session.get(c.url + "/health/ready", timeout=aiohttp.ClientTimeout(total=1)) as r:
                        if r.status == 200:
                            return c
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"connector not ready:\n{c.tail()}")
                await asyncio.sleep(0.05)
    except BaseException:
        _stop(c)
        raise


def _stop(c: Connector) -> None:
    c.proc.terminate()
    try:
        c.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        c.proc.kill()
        c.proc.wait(timeout=10)


@pytest.fixture
async def connector(partner: Partner, tmp_path: Path) -> AsyncIterator[Connector]:
    """A `kakehashi run` process configured with the partner (DCP for DSP; not used here)."""
    port = _free_port()
    config = _write_config(tmp_path / "jp", port, partner.url, f"http://127.0.0.1:{_free_port()}")
    c = await _start_connector(config, port)
    try:
        yield c
    finally:
        _stop(c)


async def _publish(http: aiohttp.ClientSession, c: Connector, footprints: list[dict[str, Any]]) -> dict[str, Any]:
    async with http.post(c.url + "/api/management/v3/footprints", json=footprints, headers={"X-Api-Key": API_KEY},
                         timeout=aiohttp.ClientTimeout(total=15)) as resp:
        body = await resp.json()
        assert resp.status == 200, body
        return body


def _event(version: str, kind: str, data: dict[str, Any], source: str) -> dict[str, Any]:
    types = {
        ("2", "created"): "org.wbcsd.pathfinder.ProductFootprintRequest.Created.v1",
        ("3", "created"): "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3",
        ("3", "published"): "org.wbcsd.pact.ProductFootprint.PublishedEvent.3",
    }
    return {"type": types[(version, kind)], "specversion": "1.0", "id": str(uuid.uuid4()), "source": source,
            "time": "2025-05-19T11:30:00Z", "data": data}


def _kind(version: str, kind: str, request_id: str) -> Callable[[Any, Any], bool]:
    return lambda e, _: (e.version == version and e.kind.value == kind
                         and e.data.get("requestEventId") == request_id)


async def test_request_created_is_answered_on_the_partners_events_endpoint(connector: Connector, partner: Partner,
                                                                           http: aiohttp.ClientSession) -> None:
    await _publish(http, connector, FPS[:3])
    buyer = PactClient(http, connector.public, client_id=BUYER[0], client_secret=BUYER[1])
    await buyer.authenticate()  # the connector's /api/public/auth/token
    wanted = FPS[1]
    asked: dict[str, dict[str, Any]] = {}
    for version in ("2", "3"):
        source = f"{partner.url}/{version}/events"
        by_id = _event(version, "created", {"pf": {"id": wanted["id"]}, "comment": "please"}, source)
        by_product = _event(version, "created", {"pf": {"productIds": wanted["productIds"]}} if version == "2"
                            else {"productId": wanted["productIds"]}, source)
        unknown = _event(version, "created", {"pf": {"id": str(uuid.uuid4())}}, source)
        for event in (by_id, by_product, unknown):
            assert await buyer.post_event(event, version) == 200  # accepted at once, answered later
        asked[version] = {"id": by_id, "product": by_product, "unknown": unknown}

    for version, events in asked.items():
        for name in ("id", "product"):
            got, principal = await partner.inbox.wait_for(_kind(version, "RequestFulfilled", events[name]["id"]))
            assert [pf["id"] for pf in got.data["pfs"]] == [wanted["id"]]
            assert got.data["pfs"][0]["specVersion"].startswith(version + ".")
            assert got.source == f"{connector.public}/{version}/events"
            assert principal.subject == BUYER_AT_PARTNER[0]  # the connector used the partner's token
        rejected, _ = await partner.inbox.wait_for(_kind(version, "RequestRejected", events["unknown"]["id"]))
        assert rejected.data["error"]["code"] == "NotFound"

    # the restricted client asks for a footprint it may not read: rejected, not leaked
    auditor = PactClient(http, connector.public, client_id=AUDITOR[0], client_secret=AUDITOR[1])
    hidden = _event("3", "created", {"pf": {"id": FPS[2]["id"]}}, f"{partner.url}/3/events")
    assert await auditor.post_event(hidden, "3") == 200
    await partner.inbox.wait_for(_kind("3", "RequestRejected", hidden["id"]))
    assert all(e.kind.value != "RequestFulfilled" for e, p in partner.inbox.events if p.subject == AUDITOR_AT_PARTNER[0])

    # a client without an events endpoint cannot ask, even naming the buyer's endpoint as source
    reader = PactClient(http, connector.public, client_id=READER[0], client_secret=READER[1])
    with pytest.raises(PactClientError) as refused:
        await reader.post_event(_event("3", "created", {"pf": {"id": wanted["id"]}}, f"{partner.url}/3/events"), "3")
    assert refused.value.status == 400 and "no events endpoint" in str(refused.value)


async def test_malformed_events_are_bad_request(connector: Connector, http: aiohttp.ClientSession) -> None:
    buyer = PactClient(http, connector.public, client_id=BUYER[0], client_secret=BUYER[1])
    headers = {"Authorization": f"Bearer {await buyer.authenticate()}", "Content-Type": CE}
    source = "https://buyer.example/3/events"
    good = _event("3", "published", {"pfIds": [str(uuid.uuid4())]}, source)
    cases = [
        ("3", _event("3", "published", {"pfIds": ["urn:gtin:4712345060507"]}, source), headers),
        ("3", _event("3", "published", {"pfIds": []}, source), headers),
        ("3", {**good, "type": "org.example.Unknown"}, headers),
        ("2", good, headers),  # a v3 type on the v2 endpoint
        ("3", good, {**headers, "Content-Type": "application/json"}),
        ("3", _event("3", "created", {"productId": "not-an-array"}, source), headers),
        ("2", _event("2", "created", {"comment": "no pf"}, source), headers),
    ]
    for version, body, hdrs in cases:
        async with http.post(f"{connector.public}/{version}/events", data=json.dumps(body), headers=hdrs) as resp:
            assert resp.status == 400, body
            assert (await resp.json())["code"] == "BadRequest", body
    async with http.post(f"{connector.public}/3/events", data=json.dumps(good), headers=headers) as resp:
        assert resp.status == 200  # the well-formed one is accepted


async def test_publishing_notifies_subscribers(connector: Connector, partner: Partner,
                                               http: aiohttp.ClientSession) -> None:
    def published(version: str, subject: str, pf_id: str) -> Callable[[Any, Any], bool]:
        return lambda e, p: (e.version == version and e.kind.value == "Published" and p.subject == subject
                             and pf_id in e.data["pfIds"])

    started = time.monotonic()
    result = await _publish(http, connector, FPS[:3])
    # the dead subscriber is being retried with backoff (seconds); the publish did not wait
    assert time.monotonic() - started < 2.5 and sorted(result["published"]) == sorted(fp["id"] for fp in FPS[:3])
    first = sorted(fp["id"] for fp in FPS[:3])
    for version in ("2", "3"):
        event, _ = await partner.inbox.wait_for(published(version, BUYER_AT_PARTNER[0], FPS[0]["id"]))
        assert sorted(event.data["pfIds"]) == first
        assert event.source == f"{connector.public}/{version}/events"
    audit, _ = await partner.inbox.wait_for(published("3", AUDITOR_AT_PARTNER[0], FPS[0]["id"]))
    assert audit.data["pfIds"] == [FPS[0]["id"]]  # only what the auditor may read

    # an older version is kept out (nothing changed); a newer version of FPS[1] is announced
    older = {**FPS[1], "version": 0}
    newer = {**FPS[1], "version": FPS[1]["version"] + 1, "updated": "2025-06-01T00:00:00Z"}
    assert (await _publish(http, connector, [older]))["keptNewer"] == [FPS[1]["id"]]
    assert (await _publish(http, connector, [newer, FPS[3]]))["published"] == [FPS[1]["id"], FPS[3]["id"]]
    for version in ("2", "3"):
        event, _ = await partner.inbox.wait_for(
            lambda e, p, v=version: published(v, BUYER_AT_PARTNER[0], FPS[3]["id"])(e, p))
        assert event.data["pfIds"] == [FPS[1]["id"], FPS[3]["id"]]
    buyer_events = [e for e, p in partner.inbox.events if p.subject == BUYER_AT_PARTNER[0]]
    assert len(buyer_events) == 4  # v2 + v3 for each stored batch, none for the kept-older one
    # the auditor may read neither FPS[1] nor FPS[3]: it heard only about FPS[0]
    assert [e.data["pfIds"] for e, p in partner.inbox.events if p.subject == AUDITOR_AT_PARTNER[0]] == [[FPS[0]["id"]]]

    # the buyer can fetch what it was told about
    buyer = PactClient(http, connector.public, client_id=BUYER[0], client_secret=BUYER[1])
    assert (await buyer.get_footprint(FPS[1]["id"], "2"))["version"] == FPS[1]["version"] + 1

    # every outcome is logged: the buyer's at once, the dead partner's after its bounded retries
    assert "delivered to tw-buyer after 1 attempt(s)" in connector.log.read_text(encoding="utf-8")
    deadline = time.monotonic() + 15
    while "NOT delivered to tw-dead after 5 attempt(s)" not in connector.log.read_text(encoding="utf-8"):
        assert time.monotonic() < deadline, connector.tail()
        await asyncio.sleep(0.2)


async def test_an_acknowledged_request_is_answered_after_a_crash_and_only_once(tmp_path: Path,
                                                                              http: aiohttp.ClientSession) -> None:
    """The partner's endpoint is down when it asks; the connector is killed (-9) before any answer
    went out; restarted, it answers from its store once the partner is up. The same event sent
    again is acknowledged but not answered twice."""
    partner_port, port = _free_port(), _free_port()
    partner_url = f"http://127.0.0.1:{partner_port}"
    config = _write_config(tmp_path / "jp", port, partner_url, f"http://127.0.0.1:{_free_port()}")
    first = await _start_connector(config, port)
    try:
        await _publish(http, first, FPS[:2])
        buyer = PactClient(http, first.public, client_id=BUYER[0], client_secret=BUYER[1])
        asked = _event("3", "created", {"pf": {"id": FPS[1]["id"]}}, f"{partner_url}/3/events")
        assert await buyer.post_event(asked, "3") == 200  # acknowledged: now it must be answered
        await asyncio.sleep(0.3)  # the first delivery attempts fail: nothing listens yet
    finally:
        first.proc.kill()  # no orderly shutdown: only what the store holds survives
        first.proc.wait(timeout=10)

    auth = ClientCredentialsAuth(audience="tw-buyer-pact")
    auth.register_client(*BUYER_AT_PARTNER)
    inbox = Inbox()
    runner, _ = await start_pact_host(create_pact_app(InMemoryFootprintSource(), auth, events=inbox),
                                      port=partner_port)
    second = await _start_connector(config, port)
    try:
        got, principal = await inbox.wait_for(_kind("3", "RequestFulfilled", asked["id"]), timeout=20)
        assert [pf["id"] for pf in got.data["pfs"]] == [FPS[1]["id"]]
        assert principal.subject == BUYER_AT_PARTNER[0]
        again = PactClient(http, second.public, client_id=BUYER[0], client_secret=BUYER[1])
        assert await again.post_event(asked, "3") == 200  # the same event: acknowledged ...
        await asyncio.sleep(1.0)
        answers = [e for e, _ in inbox.events if e.data.get("requestEventId") == asked["id"]]
        assert len(answers) == 1, "... and answered once"
    finally:
        _stop(second)
        await runner.cleanup()
