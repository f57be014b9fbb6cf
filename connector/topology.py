"""A JP x TW data-space topology as plain processes: generate it in a folder, start it, stop it.

Why: the demo, the connect-a-thon matrix, the integration tests and people without Docker all
need the same thing — two authorities and two connectors that know each other — and it must
be the real thing (`kakehashi authority run`, `kakehashi run`), not an in-process imitation.

`generate()` writes, per node, a folder with its key, TOML config and (connectors) membership
credential, trust list and SQLite path, plus `topology.json` describing every node (URLs, DIDs,
API keys, logs) for the tools that drive it. DIDs are did:web on `host:port`, so ports are
fixed when the folder is generated (0 in a spec means "a free one now"). `Launcher` starts the
processes with logs to files, waits until each one answers, and stops them (connectors first)
on exit or signal; children also die with the launcher (Linux parent-death signal).

    kakehashi topology init --config compose/topology.toml --out DIR   # write only
    kakehashi topology up   --config compose/topology.toml [--dir DIR] [--free-ports]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

# What each authority certifies about its member beyond membership: where it processes data
# (the cross-border policy's `spatial` constraint reads this) and its national company number.
JP_CLAIMS = {"processingLocation": "JP", "corporateNumber": "7000012050002"}
TW_CLAIMS = {"processingLocation": "TW", "unifiedBusinessNumber": "22099131"}

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "compose" / "topology.toml"
MANIFEST = "topology.json"
CONNECTOR_CONFIG = "connector.toml"
AUTHORITY_CONFIG = "authority.toml"
TRUST_FILE = "trust.json"
DSP_PATH = "/api/dsp"
MANAGEMENT_PATH = "/api/management/v3"


class TopologyError(Exception):
    """The topology cannot be generated or started; the message says which node and why."""


# -- the spec (what to build) -----------------------------------------------------------------
@dataclass(frozen=True)
class AuthoritySpec:
    id: str
    data_space: str
    name: str = ""
    port: int = 0


@dataclass(frozen=True)
class ConnectorSpec:
    id: str
    name: str
    data_space: str
    authority: str = ""
    port: int = 0
    database: str = ""  # empty: SQLite in the node's folder
    replicas: int = 1
    claims: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TopologySpec:
    authorities: tuple[AuthoritySpec, ...]
    connectors: tuple[ConnectorSpec, ...]
    host: str = "127.0.0.1"
    directory: str = ""
    log_level: str = "INFO"
    status_ttl_ms: int = 5_000

    def check(self) -> None:
        """Refuse specs that would start but never work, naming the offending entry."""
        ids = [a.id for a in self.authorities] + [c.id for c in self.connectors]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise TopologyError(f"node ids must be unique; repeated: {', '.join(dupes)}")
        spaces = {a.data_space for a in self.authorities}
        known = {a.id for a in self.authorities}
        for c in self.connectors:
            if c.data_space not in spaces:
                raise TopologyError(f"connector {c.id}: no authority serves data space {c.data_space!r}")
            if c.authority and c.authority not in known:
                raise TopologyError(f"connector {c.id}: unknown authority {c.authority!r}")
            if c.replicas < 1:
                raise TopologyError(f"connector {c.id}: replicas must be at least 1")
            if c.replicas > 1 and not c.database.startswith("postgresql"):
                raise TopologyError(f"connector {c.id}: replicas share one database; set a postgresql+asyncpg:// "
                                    "database (SQLite is one process only)")
        if not self.host.startswith("127.") and self.host not in ("localhost", "::1"):
            raise TopologyError(f"host {self.host!r}: the process topology serves did:web over http, which is "
                                "only allowed on loopback; put TLS in front for anything else")

    def authority_for(self, connector: ConnectorSpec) -> AuthoritySpec:
        for a in self.authorities:
            if (connector.authority and a.id == connector.authority) or (
                    not connector.authority and a.data_space == connector.data_space):
                return a
        raise TopologyError(f"connector {connector.id}: no authority for data space {connector.data_space!r}")


def new_api_key(prefix: str) -> str:
    """A random API key with a readable prefix: it names what it opens in a config file, and a
    key never starts with '-', which a command line would take for an option."""
    return f"{prefix}_{secrets.token_urlsafe(24)}"


def jp_tw_spec() -> TopologySpec:
    """The standard pair: a Japanese supplier in Ouranos, a Taiwanese buyer in the TW data space."""
    return TopologySpec(
        authorities=(AuthoritySpec("jp-authority", "ouranos-jp", "Ouranos Ecosystem authority (JP)"),
                     AuthoritySpec("tw-authority", "taiwan-tw", "Taiwan data space authority (TW)")),
        connectors=(ConnectorSpec("jp-connector", "かけはし電池材料株式会社", "ouranos-jp", claims=dict(JP_CLAIMS)),
                    ConnectorSpec("tw-connector", "橋接能源科技股份有限公司", "taiwan-tw", claims=dict(TW_CLAIMS))),
    )


_TOPOLOGY_KEYS = {"host", "directory", "log_level", "status_ttl_ms"}
_AUTHORITY_KEYS = {"id", "data_space", "name", "port"}
_CONNECTOR_KEYS = {"id", "name", "data_space", "authority", "port", "database", "replicas", "claims"}


def _entries(raw: dict[str, Any], table: str, allowed: set[str], source: Path) -> list[dict[str, Any]]:
    items = raw.get(table, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise TopologyError(f"{source}: [[{table}]] must be an array of tables")
    for i, item in enumerate(items):
        unknown = sorted(set(item) - allowed)
        if unknown:
            raise TopologyError(f"{source}: [[{table}]] #{i + 1}: unknown key(s) {', '.join(unknown)}; "
                                f"known: {', '.join(sorted(allowed))}")
    return items


def load_spec(path: str | os.PathLike[str]) -> TopologySpec:
    """Read a launcher config (`[topology]`, `[[authority]]`, `[[connector]]`); see compose/topology.toml."""
    from .config import read_toml

    source = Path(path)
    raw = read_toml(source, TopologyError, str(source))
    top = raw.get("topology", {})
    unknown = sorted(set(top) - _TOPOLOGY_KEYS) if isinstance(top, dict) else ["(not a table)"]
    if unknown:
        raise TopologyError(f"{source}: [topology]: unknown key(s) {', '.join(unknown)}")
    extra = sorted(set(raw) - {"topology", "authority", "connector"})
    if extra:
        raise TopologyError(f"{source}: unknown table(s) {', '.join(extra)}")
    try:
        authorities = tuple(AuthoritySpec(**a) for a in _entries(raw, "authority", _AUTHORITY_KEYS, source))
        connectors = tuple(ConnectorSpec(**c) for c in _entries(raw, "connector", _CONNECTOR_KEYS, source))
        directory = str(top.get("directory", ""))
        if directory and not Path(directory).is_absolute():
            directory = str((source.parent / directory).resolve())
        spec = TopologySpec(authorities, connectors, host=str(top.get("host", "127.0.0.1")), directory=directory,
                            log_level=str(top.get("log_level", "INFO")),
                            status_ttl_ms=int(top.get("status_ttl_ms", 5_000)))
    except TypeError as exc:
        raise TopologyError(f"{source}: a required key is missing: {exc}") from None
    if not spec.authorities or not spec.connectors:
        raise TopologyError(f"{source}: needs at least one [[authority]] and one [[connector]]")
    spec.check()
    return spec


# -- the generated topology (what was built) ----------------------------------------------------
@dataclass
class Node:
    """One process to run: its command line, environment overrides, where it logs and answers."""

    id: str
    kind: str  # "authority" | "connector"
    name: str
    data_space: str
    did: str
    url: str
    config: Path
    log: Path
    secret: str  # admin API key (authority) or Management API key (connector)
    database: str = ""
    env: dict[str, str] = field(default_factory=dict)
    replica_of: str = ""

    @property
    def dsp(self) -> str:
        return self.url + DSP_PATH

    @property
    def management(self) -> str:
        return self.url + MANAGEMENT_PATH

    @property
    def ready_path(self) -> str:
        return "/health/ready" if self.kind == "connector" else "/.well-known/did.json"

    def argv(self) -> list[str]:
        action = ["authority", "run"] if self.kind == "authority" else ["run"]
        return [sys.executable, "-m", "connector.cli", *action, "--config", str(self.config)]

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "kind": self.kind, "name": self.name, "dataSpace": self.data_space,
                                "did": self.did, "url": self.url, "config": str(self.config), "log": str(self.log)}
        if self.kind == "connector":
            body.update(dsp=self.dsp, management=self.management, apiKey=self.secret, database=self.database)
        else:
            body["adminApiKey"] = self.secret
        if self.replica_of:
            body.update(replicaOf=self.replica_of, env=self.env)
        return body


@dataclass
class Topology:
    directory: Path
    nodes: list[Node]

    @property
    def authorities(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == "authority"]

    @property
    def connectors(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == "connector" and not n.replica_of]

    def node(self, node_id: str) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise TopologyError(f"no node {node_id!r} in {self.directory}; nodes: {', '.join(n.id for n in self.nodes)}")

    def connector_in(self, data_space: str) -> Node:
        for n in self.connectors:
            if n.data_space == data_space:
                return n
        raise TopologyError(f"no connector in data space {data_space!r}")

    def to_json(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "nodes": [n.to_json() for n in self.nodes]}

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Topology:
        """A generated topology from its folder (`topology.json`)."""
        root = Path(directory)
        try:
            data = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
            nodes = [Node(id=n["id"], kind=n["kind"], name=n["name"], data_space=n["dataSpace"], did=n["did"],
                          url=n["url"], config=Path(n["config"]), log=Path(n["log"]),
                          secret=n.get("apiKey") or n.get("adminApiKey", ""), database=n.get("database", ""),
                          env=n.get("env", {}), replica_of=n.get("replicaOf", "")) for n in data["nodes"]]
        except OSError as exc:
            raise TopologyError(f"{root} holds no generated topology ({MANIFEST}: {exc.strerror})") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise TopologyError(f"{root / MANIFEST} is damaged: {exc}") from None
        return cls(root, nodes)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _write_toml(path: Path, table: str, values: dict[str, Any]) -> Path:
    lines = [f"[{table}]"] + [f"{k} = {_toml_value(v)}" for k, v in values.items() if v is not None]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)  # it holds an API key
    return path


def trust_lists(authorities: Iterable[Any], issuers: Sequence[tuple[str, str]]) -> Any:
    """Every data space trusts its authority for membership and its members' connectors for
    footprint credentials, and recognises the other data spaces for both (JP <-> TW): a TW
    buyer accepts a JP supplier's signed footprints because Ouranos vouches for the supplier."""
    from identity.dcp import MEMBERSHIP_TYPE
    from identity.footprint_credential import CREDENTIAL_TYPE
    from identity.trust import TrustList, TrustStore

    spaces: dict[str, list[str]] = {}
    for authority in authorities:
        spaces.setdefault(authority.data_space, []).append(authority.did)
    types = [MEMBERSHIP_TYPE, CREDENTIAL_TYPE]
    return TrustStore(TrustList(
        name=name, authorities=dids, accepted_types=[MEMBERSHIP_TYPE],
        issuers=[{"did": did, "types": [CREDENTIAL_TYPE]} for space, did in issuers if space == name],  # type: ignore[misc]
        recognises=[{"data_space": other, "types": types} for other in spaces if other != name],  # type: ignore[misc]
    ) for name, dids in spaces.items())


def generate(spec: TopologySpec, directory: str | os.PathLike[str], *, free_ports: bool = False) -> Topology:
    """Write keys, configs, credentials and trust lists for `spec` into `directory` (created; must
    be empty). Ports that are 0, or all with `free_ports`, are chosen now."""
    from identity.authority import bootstrap_participant, write_trust_file
    from identity.did import did_web_from_url
    from identity.keys import KeyPair

    from .authority_app import AuthorityConfigError, load_authority_settings

    spec.check()
    root = Path(directory).resolve()
    if root.exists() and any(root.iterdir()):
        raise TopologyError(f"{root} is not empty; generate a topology into a new folder")
    root.mkdir(parents=True, exist_ok=True)
    taken: set[int] = set()

    def port_for(wanted: int) -> int:
        port = wanted if wanted and not free_ports else free_port(spec.host)
        while port in taken:
            port = free_port(spec.host)
        taken.add(port)
        return port

    nodes: list[Node] = []
    authorities: dict[str, Any] = {}
    for a in spec.authorities:
        folder = root / a.id
        folder.mkdir()
        port = port_for(a.port)
        KeyPair.generate("Ed25519").save(folder / "authority.jwk")
        admin_key = new_api_key("kk_admin")
        config = _write_toml(folder / AUTHORITY_CONFIG, "authority", {
            "name": a.name or a.id, "data_space": a.data_space, "host": spec.host, "port": port,
            "key_file": "authority.jwk", "state_file": "state.json", "admin_api_key": admin_key,
            "allow_http_loopback": True, "credential_format": "jwt", "status_ttl_ms": spec.status_ttl_ms,
            "log_level": spec.log_level})
        try:
            authority = load_authority_settings(config, env={}).open_authority(port)
        except AuthorityConfigError as exc:
            raise TopologyError(f"authority {a.id}: {exc}") from None
        authority.save()
        authorities[a.id] = authority
        nodes.append(Node(a.id, "authority", a.name or a.id, a.data_space, authority.did, authority.base_url,
                          config, folder / f"{a.id}.log", admin_key))

    issued: list[tuple[str, str]] = []  # (data space, connector DID): trusted footprint issuers
    for c in spec.connectors:
        folder = root / c.id
        folder.mkdir()
        port = port_for(c.port)
        url = f"http://{spec.host}:{port}"
        did = did_web_from_url(url)
        authority = authorities[spec.authority_for(c).id]
        identity = bootstrap_participant(authority, did, folder, claims=c.claims or None,
                                         credential_service_url=url + "/api/credentials", dsp_url=url + DSP_PATH)
        issued.append((c.data_space, did))
        api_key = new_api_key("kk_mgmt")
        database = c.database or f"sqlite+aiosqlite:///{folder / 'store.db'}"
        config = _write_toml(folder / CONNECTOR_CONFIG, "connector", {
            "name": c.name, "participant_id": did, "data_space": c.data_space, "host": spec.host, "port": port,
            "public_url": url, "database": database, "key_file": identity.key_file.name, "api_key": api_key,
            "trust_file": TRUST_FILE, "credential_files": [p.name for p in identity.credential_files],
            "allow_http_loopback": True, "replica_id": f"{c.id}-1", "log_level": spec.log_level,
            "footprint_status_ttl": max(1, spec.status_ttl_ms // 1000)})
        nodes.append(Node(c.id, "connector", c.name, c.data_space, did, url, config, folder / f"{c.id}.log",
                          api_key, database))
        for r in range(2, c.replicas + 1):
            # Replicas share the database and the public URL (a load balancer's job); each has its own port.
            rport = port_for(0)
            nodes.append(Node(f"{c.id}-{r}", "connector", c.name, c.data_space, did, f"http://{spec.host}:{rport}",
                              config, folder / f"{c.id}-{r}.log", api_key, database,
                              env={"KAKEHASHI_PORT": str(rport), "KAKEHASHI_REPLICA_ID": f"{c.id}-{r}"},
                              replica_of=c.id))
    trust = trust_lists(authorities.values(), issued)
    for c in spec.connectors:
        write_trust_file(root / c.id / TRUST_FILE, trust)
    topology = Topology(root, nodes)
    manifest = root / MANIFEST
    manifest.write_text(json.dumps(topology.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    manifest.chmod(0o600)  # API keys
    return topology


# -- running it ---------------------------------------------------------------------------------
def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM if the launcher dies without cleaning up (e.g. SIGKILL)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log yet)"


class Launcher:
    """Starts a generated topology's processes and stops them again (a context manager too)."""

    def __init__(self, topology: Topology, *, env: dict[str, str] | None = None) -> None:
        self.topology = topology
        self.env = env or {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(self, node: Node) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env, **node.env}
        node.log.parent.mkdir(parents=True, exist_ok=True)
        with open(node.log, "ab") as log:
            self.procs[node.id] = subprocess.Popen(
                node.argv(), cwd=node.config.parent, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)

    async def start(self, *, timeout: float = 45.0, nodes: Iterable[Node] | None = None) -> None:
        """Start every node (or `nodes`) and wait until each answers; on failure stop all and raise."""
        chosen = list(nodes) if nodes is not None else self.topology.nodes
        for node in chosen:
            self.spawn(node)
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
                await asyncio.gather(*(self._wait_ready(session, n, timeout) for n in chosen))
        except BaseException:
            self.stop()
            raise

    async def _wait_ready(self, session: aiohttp.ClientSession, node: Node, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        url = node.url + node.ready_path
        last = "no answer yet"
        while time.monotonic() < deadline:
            proc = self.procs[node.id]
            if proc.poll() is not None:
                raise TopologyError(f"{node.id} exited with code {proc.returncode} while starting; "
                                    f"last lines of {node.log}:\n{log_tail(node.log)}")
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
                    last = f"HTTP {resp.status}: {(await resp.text())[:200]}"
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                last = type(exc).__name__
            await asyncio.sleep(0.1)
        raise TopologyError(f"{node.id} did not become ready at {url} within {timeout:g} s ({last}); "
                            f"last lines of {node.log}:\n{log_tail(node.log)}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM connectors first (they may still talk to authorities), then authorities."""
        for group in ("connector", "authority"):
            batch = [(i, p) for i, p in self.procs.items() if self.topology.node(i).kind == group and p.poll() is None]
            for _, proc in batch:
                proc.terminate()
            deadline = time.monotonic() + timeout
            for _, proc in batch:
                try:
                    proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs.clear()

    def alive(self) -> dict[str, bool]:
        return {i: p.poll() is None for i, p in self.procs.items()}

    async def __aenter__(self) -> Launcher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()


class StopOnSignal:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt for the duration, so `finally` blocks stop children."""

    SIGNALS = (signal.SIGTERM, signal.SIGHUP)

    def __enter__(self) -> StopOnSignal:
        self._old = {}
        for sig in self.SIGNALS:
            try:
                self._old[sig] = signal.signal(sig, self._raise)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    @staticmethod
    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


# -- CLI: kakehashi topology init / up ---------------------------------------------------------------
def _spec_from_args(args: argparse.Namespace) -> TopologySpec:
    from .cli import UsageError

    try:
        return load_spec(args.config) if args.config else jp_tw_spec()
    except TopologyError as exc:
        raise UsageError(str(exc)) from None


def _describe(topology: Topology) -> str:
    lines = [f"topology in {topology.directory} ({MANIFEST} has every URL, DID and key):"]
    for n in topology.nodes:
        extra = f"  management {n.management}" if n.kind == "connector" and not n.replica_of else ""
        lines.append(f"  {n.id:<14} {n.kind:<9} {n.url}  {n.did}{extra}")
        lines.append(f"  {'':<14} log {n.log}")
    return "\n".join(lines)


def _cmd_init(args: argparse.Namespace) -> int:
    from .cli import UsageError

    spec = _spec_from_args(args)
    if args.if_missing and (Path(args.out) / MANIFEST).exists():
        print(f"{args.out} already holds a topology; left as it is")
        return 0
    try:
        topology = generate(spec, args.out, free_ports=args.free_ports)
    except TopologyError as exc:
        raise UsageError(str(exc)) from None
    print(_describe(topology))
    return 0


def _target_dir(args: argparse.Namespace, spec: TopologySpec) -> Path:
    if args.dir:
        return Path(args.dir)
    if spec.directory:
        return Path(spec.directory)
    import tempfile

    return Path(tempfile.mkdtemp(prefix="kakehashi-topology-"))


def _cmd_up(args: argparse.Namespace) -> int:
    from .cli import UsageError

    spec = _spec_from_args(args)
    target = _target_dir(args, spec)
    try:
        if (target / MANIFEST).exists() and not args.regenerate:
            topology = Topology.load(target)
        else:
            if args.regenerate and target.exists():
                import shutil

                shutil.rmtree(target)
            topology = generate(spec, target, free_ports=args.free_ports)
    except TopologyError as exc:
        raise UsageError(str(exc)) from None
    return asyncio.run(_up(topology))


async def _up(topology: Topology) -> int:
    launcher = Launcher(topology)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    started = time.monotonic()
    try:
        await launcher.start()
    except TopologyError as exc:
        print(f"kakehashi topology up: {exc}", file=sys.stderr)
        return 1
    print(_describe(topology))
    print(f"ready in {time.monotonic() - started:.1f} s; Ctrl-C stops everything", flush=True)
    try:
        while not stop.is_set():
            dead = [i for i, ok in launcher.alive().items() if not ok]
            if dead:
                print(f"kakehashi topology up: {', '.join(dead)} exited; stopping the rest "
                      f"(see {topology.node(dead[0]).log})", file=sys.stderr)
                return 1
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except asyncio.TimeoutError:
                pass
        print("stopping", flush=True)
        return 0
    finally:
        launcher.stop()


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    topo = sub.add_parser("topology", help="generate and run a JP/TW topology (authorities + connectors) as processes")
    actions = topo.add_subparsers(dest="topology_command", metavar="ACTION")
    actions.required = True
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="launcher config (default: the built-in JP/TW pair; see compose/topology.toml)")
    common.add_argument("--free-ports", action="store_true", help="ignore the config's ports and pick free ones")

    init = actions.add_parser("init", parents=[common], help="write keys, configs, credentials and trust lists only")
    init.add_argument("--out", required=True, help="folder to create (must be new or empty)")
    init.add_argument("--if-missing", action="store_true", help="do nothing if --out already holds a topology")
    init.set_defaults(func=_cmd_init)

    up = actions.add_parser("up", parents=[common], help="generate (unless already there) and run until Ctrl-C")
    up.add_argument("--dir", help="topology folder (default: the config's directory, else a new temp folder)")
    up.add_argument("--regenerate", action="store_true", help="delete the folder's topology and make a new one")
    up.set_defaults(func=_cmd_up)


__all__ = [
    "AuthoritySpec", "ConnectorSpec", "Launcher", "Node", "StopOnSignal", "Topology", "TopologyError",
    "TopologySpec", "generate", "jp_tw_spec", "load_spec", "register",
]
