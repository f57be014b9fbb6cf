"""Run the connect-a-thon cases against one partner, or the JP x TW matrix on a local topology.

A partner is judged case by case: every case gets pass / fail / skip, a reason and its time,
and a failing case never stops the others (a later case that needs what it would have produced
is skipped, saying so). Against the local topology the runner also provisions the provider
side (footprints, an open asset, an asset our policy must refuse), because it holds both
connectors' API keys; against a remote partner the organiser names the assets instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp

from .cases import CASES, Case, CaseFailed, CaseSkipped, Context, Partner
from .client import ApiError, EDC_CONTEXT, ManagementClient

OPEN_ASSET = "connectathon-footprints"
DENIED_ASSET = "connectathon-denied"
FOOTPRINT_COUNT = 4


@dataclass
class CaseResult:
    name: str
    title: str
    status: str  # "pass" | "fail" | "skip"
    reason: str
    seconds: float


@dataclass
class SuiteReport:
    """One run: who tested whom, and every case's outcome."""

    label: str
    consumer: str
    partner: str
    partner_url: str
    started: str
    seconds: float = 0.0
    results: list[CaseResult] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(1 for r in self.results if r.status == s) for s in ("pass", "fail", "skip")}

    @property
    def ok(self) -> bool:
        return self.counts["fail"] == 0 and bool(self.results)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.counts, "ok": self.ok}


async def run_case(case: Case, ctx: Context) -> CaseResult:
    began = time.monotonic()
    try:
        detail = await asyncio.wait_for(case.run(ctx), timeout=60)
        status, reason = "pass", detail
    except CaseSkipped as exc:
        status, reason = "skip", str(exc)
    except (CaseFailed, ApiError, AssertionError) as exc:
        status, reason = "fail", str(exc) or type(exc).__name__
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        status, reason = "fail", f"network: {type(exc).__name__}: {exc}"
    except (KeyError, TypeError, ValueError) as exc:  # an answer of the wrong shape
        status, reason = "fail", f"unexpected answer shape ({type(exc).__name__}: {exc})"
    return CaseResult(case.name, case.title, status, reason, round(time.monotonic() - began, 3))


async def run_suite(ctx: Context, *, label: str, consumer: str, cases: Sequence[Case] = CASES,
                    only: Sequence[str] = (), progress: Callable[[CaseResult], None] | None = None) -> SuiteReport:
    report = SuiteReport(label=label, consumer=consumer, partner=ctx.partner.did, partner_url=ctx.partner.url,
                         started=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    began = time.monotonic()
    for case in cases:
        if only and case.name not in only:
            continue
        result = await run_case(case, ctx)
        report.results.append(result)
        if progress is not None:
            progress(result)
    report.seconds = round(time.monotonic() - began, 2)
    return report


def case_names() -> list[str]:
    return [c.name for c in CASES]


# -- the local topology ----------------------------------------------------------------------------
async def provision_provider(api: ManagementClient, company: str) -> set[str]:
    """Give a local provider what the cases need: signed footprints, an asset anyone in the two
    data spaces may negotiate, and one whose contract requires a data space nobody is in."""
    from ..demo import membership_access_policy
    from ..footprints.samples import make_footprints

    footprints = make_footprints(company, FOOTPRINT_COUNT, seed=7, gxd=True)  # type: ignore[arg-type]
    await api.call("POST", "/footprints", {"footprints": footprints})
    access = membership_access_policy()
    await api.offer(OPEN_ASSET, name="connect-a-thon footprints", access=access, contract=access)
    refused = {"@context": EDC_CONTEXT, "@type": "odrl:Set", "odrl:permission": [{
        "odrl:action": {"@id": "odrl:use"},
        "odrl:constraint": [{"odrl:leftOperand": {"@id": "https://w3id.org/kakehashi/2025/policy/DataSpaceMembership"},
                             "odrl:operator": {"@id": "odrl:isAnyOf"}, "odrl:rightOperand": "catena-x"}]}]}
    await api.offer(DENIED_ASSET, name="connect-a-thon: members of another data space only",
                    access=access, contract=refused)
    return {f["id"] for f in footprints}


async def run_local_pair(session: aiohttp.ClientSession, provider: Any, consumer: Any, *, company: str,
                         only: Sequence[str] = (), progress: Callable[[CaseResult], None] | None = None,
                         provision: bool = True) -> SuiteReport:
    """`consumer` (a topology Node) tests `provider` (another Node) after provisioning it."""
    supplier = ManagementClient(session, provider.management, provider.secret)
    expected = await provision_provider(supplier, company) if provision else set()
    ctx = Context(session=session, ours=ManagementClient(session, consumer.management, consumer.secret),
                  partner=Partner(did=provider.did, url=provider.url, name=provider.name),
                  asset=OPEN_ASSET, denied_asset=DENIED_ASSET, expected_footprints=expected)
    label = f"{consumer.id} → {provider.id}"
    return await run_suite(ctx, label=label, consumer=consumer.did, only=only, progress=progress)


async def run_matrix(folder: Path, *, both_directions: bool = True, only: Sequence[str] = (),
                     progress: Callable[[str, CaseResult], None] | None = None,
                     on_ready: Callable[[Any], None] | None = None) -> list[SuiteReport]:
    """JP x TW on a fresh local topology in `folder` (started and stopped here): TW tests JP, and
    with `both_directions` JP tests TW too."""
    from ..topology import Launcher, generate, jp_tw_spec

    topology = generate(jp_tw_spec(), folder / "topology", free_ports=True)
    launcher = Launcher(topology)
    await launcher.start()
    try:
        if on_ready is not None:
            on_ready(topology)
        jp, tw = topology.node("jp-connector"), topology.node("tw-connector")
        reports = []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
            pairs = [(jp, tw, "jp"), (tw, jp, "tw")] if both_directions else [(jp, tw, "jp")]
            for provider, consumer, company in pairs:
                label = f"{consumer.id} → {provider.id}"
                report = await run_local_pair(
                    session, provider, consumer, company=company, only=only,
                    progress=(lambda r, label=label: progress(label, r)) if progress else None)  # type: ignore[misc]
                reports.append(report)
        return reports
    finally:
        launcher.stop()
