"""`kakehashi demo` (what `make demo` runs): the whole JP <-> TW footprint exchange, for real.

In a temporary folder, on loopback with SQLite, it generates and starts a JP and a TW
authority and a JP and a TW connector (`connector.topology`: real `kakehashi authority run`
and `kakehashi run` processes), then drives both connectors only through their Management
APIs, as a company's application would: discovery, DCP, catalog, negotiation under the
cross-border PCF policy, transfer, fetch of signed footprints with verification, in both
directions. It ends with a summary table and an evidence bundle per agreement that is
verified offline, and then JP revokes one footprint: TW's next fetch refuses it (JP's status
list) and marks its copy Revoked. Any failed step stops the demo with its reason and exit code 1.

This module also registers the `topology` and `connectathon` sub-commands: connector/cli.py's
COMMAND_MODULES lists this module, so sub-commands of the demo's family are registered here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp

from .connectathon.client import ApiError, ManagementClient, offer_for
from .connectathon.tables import render_table
from .topology import Launcher, Node, StopOnSignal, Topology, TopologyError, generate, jp_tw_spec

DATA_SPACES = ("ouranos-jp", "taiwan-tw")
RETENTION_DAYS = 365
FOOTPRINT_ROUTES = "/footprints"
#: Status lists (the authorities' and the connectors') may be cached for 1 s in the demo, so the
#: revocation step waits about a second for the buyer to see it (5 s in a `topology init`).
DEMO_STATUS_TTL_MS = 1_000


class DemoFailed(Exception):
    """A step failed; the message is the step and the reason."""


@dataclass
class StepResult:
    number: int
    title: str
    seconds: float
    ok: bool
    detail: str = ""


@dataclass
class Exchange:
    """One direction: a supplier's footprints to a buyer, under one agreement."""

    direction: str
    provider: str
    consumer: str
    asset_id: str
    published: list[dict[str, Any]] = field(default_factory=list)
    negotiation_id: str = ""
    negotiation_state: str = ""
    agreement_id: str = ""
    transfer_id: str = ""
    transfer_state: str = ""
    received: list[str] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    verified: int = 0
    evidence: str = ""
    evidence_valid: bool = False
    revoked: list[str] = field(default_factory=list)  # revoked by the supplier after the exchange


@dataclass
class DemoReport:
    ok: bool = False
    failure: str = ""
    seconds: float = 0.0
    folder: str = ""
    kept: bool = False
    evidence_dir: str = ""
    steps: list[StepResult] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Progress:
    """Numbered, timed progress lines; a failing step becomes DemoFailed with its reason."""

    def __init__(self, report: DemoReport, out: Callable[[str], None]) -> None:
        self.report = report
        self.out = out
        self.started = time.monotonic()

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[StepResult]:
        result = StepResult(len(self.report.steps) + 1, title, 0.0, False)
        self.report.steps.append(result)
        began = time.monotonic()
        self.out(f"[{result.number:2d}] {title} ...")
        try:
            yield result
        except (ApiError, TopologyError, DemoFailed, OSError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            result.seconds = time.monotonic() - began
            result.detail = str(exc)
            self.out(f"     FAILED after {result.seconds:.2f} s: {exc}")
            raise DemoFailed(f"step {result.number} ({title}): {exc}") from None
        result.seconds = time.monotonic() - began
        result.ok = True
        total = time.monotonic() - self.started
        self.out(f"     ok  {result.seconds:5.2f} s  (t+{total:4.1f} s)  {result.detail}".rstrip())


# -- policies -----------------------------------------------------------------------------------
def membership_access_policy() -> dict[str, Any]:
    """Who may see the offer: members of either recognised data space (DCP-verified claims)."""
    from policies.jsonld import to_edc
    from policies.model import Action, Constraint, Permission, Policy, literal
    from policies.profiles.crossborder import DATA_SPACE_MEMBERSHIP
    from policies.vocab import ODRL

    policy = Policy(type="Set", permissions=(Permission(actions=(Action(iri=ODRL + "use"),), constraints=(
        Constraint(left_operand=DATA_SPACE_MEMBERSHIP, operator="isAnyOf",
                   right_operand=tuple(literal(d) for d in DATA_SPACES)),)),))
    return to_edc(policy)


def cross_border_contract_policy(provider_did: str, asset_id: str) -> dict[str, Any]:
    """The terms: PCF-exchange purpose, processing in JP or TW, no onward transfer, deletion
    within the retention period (policies.profiles.crossborder)."""
    from policies.jsonld import to_edc
    from policies.profiles.crossborder import pcf_exchange_policy

    return to_edc(pcf_exchange_policy(provider_did, asset_id, ("JP", "TW"), RETENTION_DAYS, DATA_SPACES))


# -- footprints through the Management API ---------------------------------------------------------
def _ids(items: Any) -> list[str]:
    out = []
    for item in items or []:
        out.append(item if isinstance(item, str) else str(item.get("id") or item.get("footprintId") or item))
    return out


async def publish_footprints(api: ManagementClient, footprints: list[dict[str, Any]]) -> list[str]:
    """Hand our own PACT footprints to our connector, which signs and serves them."""
    answer = await api.call("POST", FOOTPRINT_ROUTES, {"footprints": footprints})
    if not isinstance(answer, dict) or not isinstance(answer.get("published"), list):
        raise DemoFailed(f"footprint publishing answered {str(answer)[:200]}, not {{published: [...]}}")
    return _ids(answer["published"]) + _ids(answer.get("keptNewer"))


async def fetch_footprints(api: ManagementClient, transfer_id: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Ask our connector to pull the partner's footprints with the transfer's EDR and verify each."""
    answer = await api.call("POST", FOOTPRINT_ROUTES + "/fetch", {"transferProcessId": transfer_id})
    if not isinstance(answer, dict):
        raise DemoFailed(f"footprint fetch answered {type(answer).__name__}, not a summary object")
    rejected = answer.get("rejected") or []
    return _ids(answer.get("received")), [r if isinstance(r, dict) else {"id": str(r)} for r in rejected]


async def stored_received(api: ManagementClient, agreement_id: str) -> list[dict[str, Any]]:
    answer = await api.call("POST", FOOTPRINT_ROUTES + "/request", {"direction": "received",
                                                                   "agreementId": agreement_id})
    if not isinstance(answer, list):
        raise DemoFailed(f"footprint query answered {type(answer).__name__}, not a list")
    return [i for i in answer if isinstance(i, dict)]


# -- one direction -------------------------------------------------------------------------------
def product_name(footprint: dict[str, Any]) -> str:
    return str(footprint.get("productNameCompany") or footprint.get("productName") or footprint.get("id"))


async def exchange(progress: Progress, session: aiohttp.ClientSession, provider: Node, consumer: Node,
                   footprints: list[dict[str, Any]], *, label: str) -> Exchange:
    """One direction; the Exchange is recorded in the report before the first step, so a failed
    run still shows how far it got."""
    supplier = ManagementClient(session, provider.management, provider.secret)
    buyer = ManagementClient(session, consumer.management, consumer.secret)
    asset_id = f"pcf-{provider.data_space}"
    ex = Exchange(label, provider.name, consumer.name, asset_id)
    progress.report.exchanges.append(ex)

    with progress.step(f"{label}: {provider.name} publishes {len(footprints)} footprints "
                       "under the cross-border policy") as s:
        ids = await publish_footprints(supplier, footprints)
        await supplier.offer(asset_id, name=f"Product carbon footprints of {provider.name}",
                             access=membership_access_policy(),
                             contract=cross_border_contract_policy(provider.did, asset_id),
                             properties={"description": "PACT v2.3 footprints, signed (eddsa-jcs-2022)"})
        ex.published = [{"id": f["id"], "product": product_name(f), "gxd": bool(f.get("extensions"))}
                        for f in footprints]
        gxd = sum(1 for f in ex.published if f["gxd"])
        s.detail = f"{len(ids)} signed footprints ({gxd} with the GxD extension), asset {asset_id}"

    with progress.step(f"{label}: {consumer.name} asks for the catalog (DCP: ID token + presentation)") as s:
        catalog = await buyer.catalog(provider.dsp, provider.did)
        offer = offer_for(catalog, asset_id, provider.did)
        s.detail = f"offer {str(offer.get('@id'))[:24]}… with {len(offer.get('permission', []))} permission(s), " \
                   f"{len(offer.get('prohibition', []))} prohibition(s)"

    with progress.step(f"{label}: negotiate the contract (purpose PCF exchange, JP/TW, no onward "
                       f"transfer, delete within {RETENTION_DAYS} days)") as s:
        ex.negotiation_id = await buyer.negotiate(provider.dsp, provider.did, offer)
        negotiation = await buyer.wait_state("contractnegotiations", ex.negotiation_id, {"FINALIZED", "TERMINATED"})
        ex.negotiation_state = negotiation["state"]
        if ex.negotiation_state != "FINALIZED":
            raise DemoFailed(f"negotiation {ex.negotiation_id} ended {ex.negotiation_state}: "
                             f"{negotiation.get('errorDetail', 'no reason given')}")
        ex.agreement_id = str(negotiation["contractAgreementId"])
        s.detail = f"FINALIZED, agreement {ex.agreement_id}"

    with progress.step(f"{label}: start the transfer (HttpData-PULL, EDR token)") as s:
        ex.transfer_id = await buyer.transfer(provider.dsp, provider.did, ex.agreement_id)
        transfer = await buyer.wait_state("transferprocesses", ex.transfer_id, {"STARTED", "TERMINATED"})
        ex.transfer_state = transfer["state"]
        if ex.transfer_state != "STARTED":
            raise DemoFailed(f"transfer {ex.transfer_id} ended {ex.transfer_state}: "
                             f"{transfer.get('errorDetail', 'no reason given')}")
        s.detail = f"STARTED, transfer {ex.transfer_id}"

    with progress.step(f"{label}: fetch the signed footprints and verify each (proof, issuer, trust, "
                       "status, schema)") as s:
        ex.received, ex.rejected = await fetch_footprints(buyer, ex.transfer_id)
        stored = await stored_received(buyer, ex.agreement_id)
        stored_ids = {str(f.get("@id")) for f in stored}
        ex.verified = len([i for i in ex.received if i in stored_ids])
        expected = {f["id"] for f in footprints}
        missing = sorted(expected - set(ex.received))
        if ex.rejected or missing:
            reasons = "; ".join(f"{r.get('id')}: {r.get('reason', '?')}" for r in ex.rejected)
            raise DemoFailed(f"{len(ex.received)} of {len(expected)} footprints accepted"
                             + (f"; rejected: {reasons}" if reasons else "")
                             + (f"; never delivered: {', '.join(missing)}" if missing else ""))
        s.detail = f"{ex.verified}/{len(expected)} verified and stored, 0 rejected"
    return ex


async def revoke_one(session: aiohttp.ClientSession, provider: Node, consumer: Node, ex: Exchange,
                     wait: float) -> str:
    """The supplier revokes the last footprint it published; once the buyer's cached copy of the
    supplier's status list is older than its ttl (``wait``), the buyer fetches again: that one
    must be refused for its revocation bit and marked Revoked, the others received again."""
    supplier = ManagementClient(session, provider.management, provider.secret)
    buyer = ManagementClient(session, consumer.management, consumer.secret)
    target = ex.published[-1]
    answer = await supplier.call("POST", f"{FOOTPRINT_ROUTES}/{target['id']}/revoke", {})
    revoked = answer.get("revoked") if isinstance(answer, dict) else None
    if not revoked:
        raise DemoFailed(f"revoking {target['id']} answered {answer!r}")
    await asyncio.sleep(wait)
    fetched = await buyer.call("POST", FOOTPRINT_ROUTES + "/fetch", {"transferProcessId": ex.transfer_id})
    if not isinstance(fetched, dict):
        raise DemoFailed(f"footprint fetch answered {type(fetched).__name__}, not a summary object")
    refused = {str(r.get("id")): str(r.get("reason", "")) for r in fetched.get("rejected") or [] if isinstance(r, dict)}
    if "revocation bit" not in refused.get(target["id"], ""):
        raise DemoFailed(f"the buyer did not refuse the revoked footprint {target['id']}: {fetched!r}")
    if fetched.get("revoked") != [target["id"]] or len(_ids(fetched.get("received"))) != len(ex.published) - 1:
        raise DemoFailed(f"expected only {target['id']} revoked and the others received again: {fetched!r}")
    kept = await buyer.call("GET", f"{FOOTPRINT_ROUTES}/{target['id']}?direction=received")
    if not isinstance(kept, dict) or kept.get("status") != "Revoked":
        raise DemoFailed(f"the buyer's copy of {target['id']} is not marked Revoked: {kept!r}")
    ex.revoked = [target["id"]]
    return (f"{target['product']} ({target['id'][:8]}…): bit {revoked[0].get('statusListIndex')} of "
            f"{revoked[0].get('statusListCredential')}; refused by the buyer, its copy marked Revoked")


# -- evidence ------------------------------------------------------------------------------------
async def export_and_verify(node: Node, agreement_id: str, out: Path) -> tuple[bool, str]:
    """Export the buyer's evidence bundle for the agreement, then verify it offline."""
    from identity.did.resolver import DidResolver
    from identity.status import StatusListSource
    from identity.trust import TrustStore

    from .config import load_settings
    from identity.keys import KeyPair

    from .delivery.signing import verification_method
    from .evidence import ManifestSigner, export_bundle, verify_bundle
    from .store import open_store

    settings = load_settings(node.config, env={})
    trust = TrustStore.load(settings.trust_file) if settings.trust_file else None
    signer = ManifestSigner(KeyPair.load(settings.key_file), node.did, verification_method(node.did))
    store = await open_store(settings.database, migrate=False)
    resolver = DidResolver(allow_http_loopback=True)
    status = StatusListSource(allow_http_loopback=True)
    try:
        manifest = await export_bundle(store, agreement_id, out, resolver=resolver, status_lists=status,
                                       trust=trust, exporter_did=node.did, signer=signer)
    finally:
        await resolver.close()
        await status.close()
        await store.close()
    report = await verify_bundle(out)
    problems = "; ".join(str(f) for f in report.findings)[:400]
    summary = (f"{len(manifest['credentials'])} credential(s), log seq {manifest['log']['firstSeq']}.."
               f"{manifest['log']['lastSeq']}, manifest signature {report.signature}, "
               f"{'VALID' if report.valid else 'INVALID: ' + problems}")
    return report.valid, summary


# -- the whole demo ------------------------------------------------------------------------------
async def run_demo(folder: Path, *, evidence_dir: Path | None = None, out: Callable[[str], None] = print,
                   jp_count: int = 6, tw_count: int = 4) -> DemoReport:
    """Run the demo in `folder` (must be new or empty) and return its report (never raises for a
    failed step: `report.ok` is False and `report.failure` says why)."""
    from .footprints.samples import make_footprints

    report = DemoReport(folder=str(folder))
    evidence_root = evidence_dir or folder / "evidence"
    report.evidence_dir = str(evidence_root)
    progress = Progress(report, out)
    began = time.monotonic()
    launcher: Launcher | None = None
    try:
        with progress.step("generate the topology: 2 authorities, 2 connectors, keys, did:web, "
                           "membership credentials, trust lists (JP <-> TW recognition)") as s:
            spec = replace(jp_tw_spec(), status_ttl_ms=DEMO_STATUS_TTL_MS)
            topology: Topology = generate(spec, folder / "topology", free_ports=True)
            s.detail = ", ".join(f"{n.id} {n.url}" for n in topology.nodes)
        jp, tw = topology.node("jp-connector"), topology.node("tw-connector")

        with progress.step("start `kakehashi authority run` x2 and `kakehashi run` x2, wait until ready") as s:
            launcher = Launcher(topology)
            await launcher.start()
            s.detail = "logs in " + str(topology.directory)

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
            with progress.step("discovery: /.well-known/dspace-version and did:web documents") as s:
                found = []
                for node in (jp, tw):
                    async with session.get(node.url + "/.well-known/dspace-version") as resp:
                        versions = (await resp.json()).get("protocolVersions", [])
                    if not any(v.get("version") == "2025-1" for v in versions):
                        raise DemoFailed(f"{node.id} does not announce DSP 2025-1: {versions}")
                    async with session.get(node.url + "/.well-known/did.json") as resp:
                        doc = await resp.json()
                    if doc.get("id") != node.did:
                        raise DemoFailed(f"{node.id} serves DID document {doc.get('id')!r}, expected {node.did}")
                    found.append(f"{node.id}: 2025-1 at {versions[0].get('path')}")
                s.detail = "; ".join(found)

            with progress.step("DCP: a DSP request without a token is refused") as s:
                async with session.post(jp.dsp + "/catalog/request",
                                        json={"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
                                              "@type": "CatalogRequestMessage"}) as resp:
                    if resp.status not in (401, 403):
                        raise DemoFailed(f"expected 401 without a DCP token, got HTTP {resp.status}")
                    s.detail = f"HTTP {resp.status} from {jp.id}"

            await exchange(progress, session, jp, tw, make_footprints("jp", jp_count, gxd=True), label="JP→TW")
            await exchange(progress, session, tw, jp, make_footprints("tw", tw_count, gxd=True), label="TW→JP")

        for ex in report.exchanges:
            buyer = tw if ex.direction == "JP→TW" else jp
            with progress.step(f"{ex.direction}: export the buyer's evidence bundle and verify it offline") as s:
                target = evidence_root / f"{ex.direction.replace('→', '-to-').lower()}"
                ex.evidence_valid, s.detail = await export_and_verify(buyer, ex.agreement_id, target)
                ex.evidence = str(target)
                if not ex.evidence_valid:
                    raise DemoFailed(f"evidence bundle {target} does not verify: {s.detail}")
        first = report.exchanges[0]
        with progress.step(f"{first.direction}: {jp.name} revokes one footprint; {tw.name}'s next fetch "
                           "refuses it (JP's status list) and marks its copy Revoked") as s:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
                s.detail = await revoke_one(session, jp, tw, first, wait=DEMO_STATUS_TTL_MS / 1000 + 0.3)
        report.ok = True
    except DemoFailed as exc:
        report.failure = str(exc)
    except KeyboardInterrupt:
        report.failure = "interrupted"
    finally:
        if launcher is not None:
            launcher.stop()
        report.seconds = round(time.monotonic() - began, 2)
    return report


def summary_tables(report: DemoReport) -> str:
    rows = [[ex.direction, ex.provider, ex.consumer, ex.agreement_id or "-", ex.negotiation_state or "-",
             ex.transfer_state or "-", f"{ex.verified}/{len(ex.published)}", len(ex.rejected),
             "valid" if ex.evidence_valid else "-"] for ex in report.exchanges]
    out = [render_table(["direction", "supplier", "buyer", "agreement", "negotiation", "transfer", "verified",
                         "rejected", "evidence"], rows, max_width=46)]
    items = [[ex.direction, p["product"], p["id"][:8] + "…", "GxD" if p["gxd"] else "",
              ("verified, then revoked" if p["id"] in ex.revoked else "verified") if p["id"] in ex.received
              else "rejected" if any(r.get("id") == p["id"] for r in ex.rejected) else "not received"]
             for ex in report.exchanges for p in ex.published]
    if items:
        out.append(render_table(["direction", "product", "footprint", "ext.", "buyer's check"], items))
    return "\n".join(out)


def _cmd_demo(args: argparse.Namespace) -> int:
    json_to_stdout = args.json == "-"
    say: Callable[[str], None] = (lambda line: print(line, file=sys.stderr, flush=True)) if json_to_stdout else (
        lambda line: print(line, flush=True))
    folder = Path(tempfile.mkdtemp(prefix="kakehashi-demo-"))
    evidence = Path(args.evidence) if args.evidence else (folder / "evidence" if args.keep else
                                                          Path(tempfile.mkdtemp(prefix="kakehashi-evidence-")))
    say(f"Kakehashi demo: a Japanese supplier and a Taiwanese buyer exchange signed product carbon footprints\n"
        f"working folder {folder}")
    with StopOnSignal():
        report = asyncio.run(run_demo(folder, evidence_dir=evidence, out=say))
    report.kept = bool(args.keep)
    if report.exchanges:
        say("\n" + summary_tables(report))
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    if report.ok:
        say(f"\nall {len(report.steps)} steps passed in {report.seconds:.1f} s")
        for ex in report.exchanges:
            say(f"evidence bundle ({ex.direction}, agreement {ex.agreement_id}): {ex.evidence}\n"
                f"  check it yourself: kakehashi verify --bundle {ex.evidence}")
    else:
        say(f"\ndemo FAILED after {report.seconds:.1f} s: {report.failure}")
        say(f"logs: {folder}" if args.keep else "run again with --keep to keep the logs and configs")
    if args.json:
        text = json.dumps(report.to_json(), indent=2, ensure_ascii=False)
        if json_to_stdout:
            print(text)
        else:
            Path(args.json).write_text(text + "\n", encoding="utf-8")
            say(f"summary written to {args.json}")
    return 0 if report.ok else 1


def _register_demo(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    demo = sub.add_parser("demo", help="run the JP <-> TW signed-footprint exchange end to end on loopback")
    demo.add_argument("--keep", action="store_true", help="keep the working folder (configs, logs, databases)")
    demo.add_argument("--json", metavar="FILE", help="write a machine-readable summary to FILE (- for stdout)")
    demo.add_argument("--evidence", metavar="DIR", help="where to write the evidence bundles (default: a new temp folder)")
    demo.set_defaults(func=_cmd_demo)


def _registrars() -> list[Callable[[argparse._SubParsersAction], None]]:  # type: ignore[type-arg]
    from . import topology

    found = [_register_demo, topology.register]
    import importlib

    try:
        connectathon_commands = importlib.import_module("connector.connectathon.commands")
    except ModuleNotFoundError as exc:
        if exc.name != "connector.connectathon.commands":
            raise
    else:
        found.append(connectathon_commands.register)
    return found


REGISTRARS = _registrars()
