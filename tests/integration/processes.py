"""Real processes on loopback for integration tests and the benchmark: authorities and connectors.

`Dataspace` runs three data-space authorities as `kakehashi authority run` processes,
generated with the topology helpers (`connector.topology`): JP (`ouranos-jp`) and TW
(`taiwan-tw`), which recognise each other, and one nobody's trust list names ("untrusted").
It makes connectors that join them the way a company would: a key, a did:web on the
connector's own loopback address (or its public URL, e.g. a proxy in front of replicas),
a MembershipCredential the chosen authority issues over its admin API (with claims such as
`processingLocation`), and a trust file. Each connector then runs as `kakehashi run` and
proves who it is with DCP, nothing else.

Each connector has a temp dir with its key, TOML config, credential and trust files and
SQLite database (or a shared PostgreSQL URL), a free port, and a log file. `kill9()` and
`start()` let tests crash and restart a connector mid-flow.
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
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp

from connector.topology import (
    JP_CLAIMS,
    TW_CLAIMS,
    AuthoritySpec,
    Launcher,
    Node,
    TopologySpec,
    generate,
    log_tail,
    trust_lists,
)
from identity.authority import write_credential, write_trust_file
from identity.did import did_web_from_url
from identity.keys import KeyPair

REPO = Path(__file__).resolve().parents[2]
API_KEY = "test-management-api-key-0123"
EDC_CONTEXT = {"@vocab": "https://w3id.org/edc/v0.0.1/ns/", "odrl": "http://www.w3.org/ns/odrl/2/"}
KK = "https://w3id.org/kakehashi/2025/policy/"

#: Authority id -> the data space it governs. JP and TW trust each other; nobody trusts "untrusted".
DATA_SPACES = {"jp": "ouranos-jp", "tw": "taiwan-tw", "untrusted": "elsewhere-xx"}
TRUSTED = ("jp", "tw")
CLAIMS: dict[str, dict[str, Any]] = {"jp": JP_CLAIMS, "tw": TW_CLAIMS, "untrusted": {"processingLocation": "JP"}}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Connector:
    name: str
    workdir: Path
    participant_id: str
    port: int
    database: str
    key_file: Path
    data_space: str = "ouranos-jp"
    trust_file: Path | None = None
    credential_files: list[Path] = field(default_factory=list)
    credential_ids: list[str] = field(default_factory=list)
    replica_id: str = ""
    env: dict[str, str] = field(default_factory=dict)
    public_url: str = ""
    extra_toml: str = ""
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

    @property
    def config_file(self) -> Path:
        return self.workdir / "connector.toml"

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        values: dict[str, Any] = {
            "name": self.name, "participant_id": self.participant_id, "data_space": self.data_space,
            "host": "127.0.0.1", "port": self.port, "database": self.database, "key_file": str(self.key_file),
            "api_key": API_KEY, "allow_http_loopback": True, "log_level": "INFO",
            "credential_files": [str(p) for p in self.credential_files],
        }
        if self.trust_file is not None:
            values["trust_file"] = str(self.trust_file)
        if self.replica_id:
            values["replica_id"] = self.replica_id
        if self.public_url:
            values["public_url"] = self.public_url
        lines = ["[connector]"] + [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in values.items()]
        self.config_file.write_text("\n".join(lines) + "\n" + self.extra_toml, encoding="utf-8")
        return self.config_file

    def start(self) -> None:
        config = self.write_config()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "connector.cli", "run", "--config", str(config)],
                                         cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)

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

    def log_text(self) -> str:
        try:
            return self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:]) or "(no log)"

    def id_token(self, audience: str) -> str:
        """A DCP self-issued ID token of this connector for `audience`, made from its own key
        and config — what the connector itself sends, for tests that speak DSP directly."""
        from connector.config import load_settings
        from connector.dcp_auth import from_settings

        return from_settings(load_settings(self.config_file, env={})).id_token(audience)


class Dataspace:
    """Three running authorities (see the module docstring) and the connectors that join them."""

    def __init__(self, root: Path, *, status_ttl_ms: int = 1_000) -> None:
        spec = TopologySpec(
            authorities=tuple(AuthoritySpec(a, ds, f"{a.upper()} authority") for a, ds in DATA_SPACES.items()),
            connectors=(), status_ttl_ms=status_ttl_ms, log_level="INFO")
        self.root = root
        self.topology = generate(spec, root / "authorities", free_ports=True)
        self.launcher = Launcher(self.topology)

    def authority(self, which: str) -> Node:
        return self.topology.node(which)

    def start(self, timeout: float = 30.0) -> None:
        """Start the authority processes and wait until each serves its DID document."""
        nodes = self.topology.authorities
        for node in nodes:
            self.launcher.spawn(node)
        deadline = time.monotonic() + timeout
        try:
            for node in nodes:
                while not self._answers(node.url + node.ready_path):
                    proc = self.launcher.procs[node.id]
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"authority {node.id} did not start:\n{log_tail(node.log)}")
                    time.sleep(0.05)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self.launcher.stop()

    @staticmethod
    def _answers(url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                return bool(resp.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def _admin(self, which: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        node = self.authority(which)
        request = urllib.request.Request(node.url + path, data=json.dumps(body).encode() if body is not None else b"",
                                         method="POST", headers={"X-Api-Key": node.secret,
                                                                 "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read())  # type: ignore[no-any-return]

    def issue(self, which: str, subject: str, claims: dict[str, Any]) -> tuple[str, str | dict[str, Any]]:
        """(credential id, credential) of a MembershipCredential issued by a running authority."""
        issued = self._admin(which, "/api/admin/credentials", {"subjectDid": subject, "claims": claims})
        return issued["id"], issued["credential"]

    def revoke(self, which: str, credential_id: str) -> dict[str, Any]:
        return self._admin(which, f"/api/admin/credentials/{credential_id}/revoke", None)

    def write_trust_file(self, path: Path, authorities: Iterable[str] = TRUSTED,
                         footprint_issuers: Iterable[Connector] = ()) -> Path:
        """The authorities' data spaces, recognising each other, and the connectors whose
        footprint credentials they accept."""
        issuers = [(c.data_space, c.participant_id) for c in footprint_issuers]
        return write_trust_file(path, trust_lists([self.authority(a) for a in authorities], issuers))

    def connector(self, name: str, workdir: Path, *, authority: str = "jp", member: bool = True,
                  claims: dict[str, Any] | None = None, database: str | None = None, participant_id: str = "",
                  public_url: str = "", replica_id: str = "", env: dict[str, str] | None = None,
                  footprint_issuers: Iterable[Connector] = (), credentials_of: Connector | None = None,
                  extra_toml: str = "") -> Connector:
        """A connector (not started) that is a member of `authority`'s data space.

        Its DID is the did:web of its public URL (default: its own loopback address) unless
        `participant_id` says otherwise (an impostor). `member=False`: no credential at all;
        `credentials_of`: a copy of another connector's credential files instead of its own."""
        workdir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        did = participant_id or did_web_from_url(public_url or f"http://127.0.0.1:{port}")
        key_file = workdir / "key.jwk"
        KeyPair.generate("Ed25519").save(key_file)
        c = Connector(name=name, workdir=workdir, participant_id=did, port=port,
                      database=database or f"sqlite+aiosqlite:///{workdir / 'store.db'}", key_file=key_file,
                      data_space=DATA_SPACES[authority], replica_id=replica_id, env=dict(env or {}),
                      public_url=public_url, extra_toml=extra_toml)
        if credentials_of is not None:
            c.credential_files = list(credentials_of.credential_files)
        elif member:
            cred_id, credential = self.issue(authority, did, dict(claims if claims is not None else CLAIMS[authority]))
            path = workdir / f"membership-{authority}.jwt"
            write_credential(path, credential)
            c.credential_files, c.credential_ids = [path], [cred_id]
        trusted = TRUSTED if authority in TRUSTED else (*TRUSTED, authority)
        c.trust_file = self.write_trust_file(workdir / "trust.json", trusted, footprint_issuers)
        return c

    def replica(self, of: Connector, workdir: Path, replica_id: str, env: dict[str, str] | None = None) -> Connector:
        """Another process of the same connector: same DID, key, credentials, trust and database
        (PostgreSQL), its own port and replica id; partners reach both through `public_url`."""
        workdir.mkdir(parents=True, exist_ok=True)
        return replace(of, workdir=workdir, port=free_port(), replica_id=replica_id, env=dict(env or {}), proc=None,
                       credential_files=list(of.credential_files), credential_ids=list(of.credential_ids))


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

    async def catalog(self, provider: Connector, *, expect: int | None = 200) -> Any:
        return await self.call("POST", "/catalog/request", {
            "@context": EDC_CONTEXT, "@type": "CatalogRequest", "counterPartyAddress": provider.dsp,
            "counterPartyId": provider.participant_id, "protocol": "dataspace-protocol-http:2025-1"}, expect=expect)

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


async def wait_for_log(connector: Connector, *needles: str, timeout: float = 5.0) -> str:
    """The first line of the connector's log holding every needle (logs are flushed per line)."""
    deadline = time.monotonic() + timeout
    while True:
        for line in connector.log_text().splitlines():
            if all(n in line for n in needles):
                return line
        if time.monotonic() > deadline:
            raise AssertionError(f"no log line of {connector.name} holds {needles}:\n{connector.tail()}")
        await asyncio.sleep(0.05)
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
