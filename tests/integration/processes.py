"""Real `kakehashi run` processes on loopback for integration tests and the benchmark.

Each connector gets a temp dir with its key, TOML config, credential files and SQLite
database (or a shared PostgreSQL URL), a free port, and a log file. `kill9()` and `start()`
let tests crash and restart a connector mid-flow.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from identity.keys import KeyPair

REPO = Path(__file__).resolve().parents[2]
DEV_SECRET = "integration-shared-secret-0123456789"
API_KEY = "test-management-api-key-0123"
EDC_CONTEXT = {"@vocab": "https://w3id.org/edc/v0.0.1/ns/", "odrl": "http://www.w3.org/ns/odrl/2/"}
KK = "https://w3id.org/kakehashi/2025/policy/"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def membership_credential(holder: str, member_of: str = "Ouranos") -> dict[str, Any]:
    return {"@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential", "MembershipCredential"], "issuer": "did:web:authority.test",
            "validFrom": "2024-01-01T00:00:00Z",
            "credentialSubject": {"id": holder, "memberOf": member_of}}


@dataclass
class Connector:
    name: str
    workdir: Path
    participant_id: str
    port: int
    database: str
    credentials: list[dict[str, Any]] = field(default_factory=list)
    replica_id: str = ""
    env: dict[str, str] = field(default_factory=dict)
    public_url: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dsp(self) -> str:
        return self.url + "/api/dsp"

    @property
    def management(self) -> str:
        return self.url + "/api/management/v3"

    @property
    def log_file(self) -> Path:
        return self.workdir / "connector.log"

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        key = self.workdir / "key.jwk"
        if not key.exists():
            KeyPair.generate("Ed25519").save(key)
        creds = []
        for i, cred in enumerate(self.credentials):
            path = self.workdir / f"credential-{i}.json"
            path.write_text(json.dumps(cred), encoding="utf-8")
            creds.append(path.name)
        config = self.workdir / "connector.toml"
        config.write_text(
            "[connector]\n"
            f'name = "{self.name}"\nparticipant_id = "{self.participant_id}"\nhost = "127.0.0.1"\n'
            f"port = {self.port}\ndatabase = \"{self.database}\"\nkey_file = \"key.jwk\"\n"
            f'api_key = "{API_KEY}"\nallow_http_loopback = true\nlog_level = "INFO"\n'
            f"credential_files = {json.dumps(creds)}\n"
            + (f'replica_id = "{self.replica_id}"\n' if self.replica_id else "")
            + (f'public_url = "{self.public_url}"\n' if self.public_url else ""),
            encoding="utf-8")
        return config

    def start(self) -> None:
        config = self.write_config()
        env = {**os.environ, "KAKEHASHI_DEV_AUTH_SECRET": DEV_SECRET, "PYTHONUNBUFFERED": "1", **self.env}
        log = open(self.log_file, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "connector.cli", "run", "--config", str(config)],
                                     cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    async def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
                try:
                    async with session.get(self.url + "/health/ready", timeout=aiohttp.ClientTimeout(total=1)) as r:
                        if r.status == 200:
                            return
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    pass
                await asyncio.sleep(0.05)
        raise TimeoutError(f"{self.name} not ready after {timeout}s:\n{self.tail()}")

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class Management:
    """A thin Management API client for tests (X-Api-Key, JSON in and out)."""

    def __init__(self, session: aiohttp.ClientSession, connector: Connector) -> None:
        self.session = session
        self.c = connector

    async def call(self, method: str, path: str, body: Any = None, *, expect: int | None = 200) -> Any:
        async with self.session.request(method, self.c.management + path, json=body,
                                        headers={"X-Api-Key": API_KEY},
                                        timeout=aiohttp.ClientTimeout(total=15)) as resp:
            text = await resp.text()
            if expect is not None and resp.status != expect:
                raise AssertionError(f"{method} {path} -> {resp.status}: {text}")
            return json.loads(text) if text else None

    async def offer(self, asset_id: str, *, contract: dict[str, Any] | None = None,
                    access: dict[str, Any] | None = None) -> None:
        """Publish one asset under an access and a contract policy (open when not given)."""
        open_policy = {"@type": "odrl:Set", "odrl:permission": [{"odrl:action": {"@id": "odrl:use"}}]}
        await self.call("POST", "/assets", {"@context": EDC_CONTEXT, "@id": asset_id,
                                            "properties": {"name": f"footprints {asset_id}"}})
        for pid, pol in ((f"access-{asset_id}", access or open_policy), (f"contract-{asset_id}", contract or open_policy)):
            await self.call("POST", "/policydefinitions", {"@context": EDC_CONTEXT, "@id": pid, "policy": pol})
        await self.call("POST", "/contractdefinitions", {
            "@context": EDC_CONTEXT, "@id": f"def-{asset_id}", "accessPolicyId": f"access-{asset_id}",
            "contractPolicyId": f"contract-{asset_id}",
            "assetsSelector": [{"operandLeft": "https://w3id.org/edc/v0.0.1/ns/id", "operator": "=",
                                "operandRight": asset_id}]})

    async def catalog(self, provider: Connector) -> dict[str, Any]:
        return await self.call("POST", "/catalog/request", {
            "@context": EDC_CONTEXT, "@type": "CatalogRequest", "counterPartyAddress": provider.dsp,
            "counterPartyId": provider.participant_id, "protocol": "dataspace-protocol-http:2025-1"})

    async def negotiate(self, provider: Connector, offer: dict[str, Any], **extra: Any) -> str:
        body = {"@context": EDC_CONTEXT, "@type": "ContractRequest", "counterPartyAddress": provider.dsp,
                "counterPartyId": provider.participant_id, "protocol": "dataspace-protocol-http:2025-1",
                "policy": offer, **extra}
        return (await self.call("POST", "/contractnegotiations", body))["@id"]

    async def transfer(self, provider: Connector, agreement_id: str) -> str:
        body = {"@context": EDC_CONTEXT, "@type": "TransferRequest", "counterPartyAddress": provider.dsp,
                "contractId": agreement_id, "transferType": "HttpData-PULL",
                "protocol": "dataspace-protocol-http:2025-1"}
        return (await self.call("POST", "/transferprocesses", body))["@id"]

    async def wait_state(self, kind: str, process_id: str, states: set[str], timeout: float = 15.0) -> dict[str, Any]:
        """Poll (tests only) until the process reaches one of ``states``."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            last = await self.call("GET", f"/{kind}/{process_id}")
            if last["state"] in states:
                return last
            await asyncio.sleep(0.02)
        raise AssertionError(f"{kind} {process_id} stuck in {last.get('state')}: {last}\n{self.c.tail()}")


def offer_for(catalog: dict[str, Any], asset_id: str, provider: Connector) -> dict[str, Any]:
    """The catalog's offer for ``asset_id`` as a consumer sends it back (with target and assigner)."""
    for dataset in catalog.get("dataset", []):
        if dataset["@id"] == asset_id:
            return {**dataset["hasPolicy"][0], "target": asset_id, "assigner": provider.participant_id}
    raise AssertionError(f"{asset_id} not in catalog: {catalog}")


class FailoverProxy:
    """A loopback stand-in for the load balancer in front of replicas: forwards each request to
    the first replica that accepts the connection, so the public URL survives a replica's death."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.backends: list[str] = []
        self._runner: Any = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _forward(self, request: Any) -> Any:
        from aiohttp import web

        assert self._session is not None
        body = await request.read()
        for backend in self.backends:
            try:
                async with self._session.request(request.method, backend + request.rel_url.path_qs, data=body,
                                                 headers={k: v for k, v in request.headers.items()
                                                          if k.lower() not in ("host", "content-length")},
                                                 timeout=aiohttp.ClientTimeout(total=15)) as resp:
                    return web.Response(status=resp.status, body=await resp.read(),
                                        content_type=resp.content_type)
            except aiohttp.ClientConnectorError:
                continue
        return web.Response(status=502, text="no replica reachable")

    async def start(self) -> None:
        from aiohttp import web

        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()
