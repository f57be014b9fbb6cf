"""`kakehashi connectathon run|matrix|cases` (registered through connector/demo.py's REGISTRARS).

    kakehashi connectathon run --partner URL --partner-did DID --management URL --api-key KEY
                               [--asset ID] [--denied-asset ID] [--case NAME ...] [--out DIR]
    kakehashi connectathon run                      # local topology: TW connector tests JP
    kakehashi connectathon matrix [--out DIR]       # local topology: JP x TW, both directions
    kakehashi connectathon cases                    # list the cases

Exit 0 when no case failed, 1 when any did, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

API_KEY_ENV = "KAKEHASHI_API_KEY"


def _say(line: str) -> None:
    print(line, flush=True)


def _progress(label: str, result: Any) -> None:
    _say(f"  {label:<28} {result.status.upper():<4} {result.name:<26} {result.seconds:6.2f} s  {result.reason[:110]}")


def _finish(reports: list[Any], out: Path) -> int:
    from .report import terminal_table, write_reports

    json_path, html_path = write_reports(reports, out)
    _say("\n" + terminal_table(reports))
    _say(f"\nreport: {json_path}\n        {html_path}")
    return 0 if reports and all(r.ok for r in reports) else 1


def _check_cases(names: list[str] | None) -> list[str]:
    from ..cli import UsageError
    from .runner import case_names

    unknown = sorted(set(names or []) - set(case_names()))
    if unknown:
        raise UsageError(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(case_names())}")
    return names or []


def _out_dir(args: argparse.Namespace) -> Path:
    return Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="kakehashi-connectathon-"))


async def _run_remote(args: argparse.Namespace, only: list[str]) -> list[Any]:
    from .cases import Context, Partner
    from .client import ManagementClient
    from .runner import run_suite

    key = args.api_key or os.environ.get(API_KEY_ENV, "")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        ctx = Context(session=session, ours=ManagementClient(session, args.management, key),
                      partner=Partner(did=args.partner_did, url=args.partner.rstrip("/")),
                      asset=args.asset, denied_asset=args.denied_asset)
        label = f"us → {args.partner_did}"
        return [await run_suite(ctx, label=label, consumer=args.management, only=only,
                                progress=lambda r: _progress(label, r))]


def _topology_started(topology: Any) -> None:
    _say(f"local JP/TW topology running in {topology.directory}")


def _local(args: argparse.Namespace, *, matrix: bool) -> int:
    from ..topology import StopOnSignal, TopologyError
    from .runner import run_matrix

    only = _check_cases(args.case)
    out = _out_dir(args)
    folder = Path(tempfile.mkdtemp(prefix="kakehashi-connectathon-topology-"))
    try:
        with StopOnSignal():
            reports = asyncio.run(run_matrix(folder, both_directions=matrix, only=only, progress=_progress,
                                             on_ready=_topology_started))
    except TopologyError as exc:
        print(f"kakehashi connectathon: the local topology did not start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            _say(f"topology kept in {folder}")
    return _finish(reports, out)


def _cmd_run(args: argparse.Namespace) -> int:
    from ..cli import UsageError

    if not args.partner:
        if args.partner_did or args.management:
            raise UsageError("--partner-did and --management go with --partner (without it the local topology is used)")
        return _local(args, matrix=False)
    if not args.partner.startswith(("http://", "https://")):
        raise UsageError("--partner must be an http(s) URL (the partner's root or DSP base)")
    if not args.partner_did or not args.partner_did.startswith("did:"):
        raise UsageError("--partner-did must be the partner's DID (e.g. did:web:partner.example)")
    if not args.management:
        raise UsageError("--management is our connector's Management API base (…/api/management/v3)")
    if not (args.api_key or os.environ.get(API_KEY_ENV)):
        raise UsageError(f"our Management API key: --api-key or {API_KEY_ENV}")
    only = _check_cases(args.case)
    out = _out_dir(args)
    reports = asyncio.run(_run_remote(args, only))
    return _finish(reports, out)


def _cmd_matrix(args: argparse.Namespace) -> int:
    return _local(args, matrix=True)


def _cmd_cases(args: argparse.Namespace) -> int:
    from .cases import CASES

    for case in CASES:
        _say(f"{case.name:<26} {case.title}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cat = sub.add_parser("connectathon", help="conformance cases against a partner connector; the JP x TW matrix")
    actions = cat.add_subparsers(dest="connectathon_command", metavar="ACTION")
    actions.required = True
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--case", action="append", metavar="NAME", help="run only this case (repeatable)")
    common.add_argument("--out", metavar="DIR", help="where to write connectathon.json and .html (default: a temp folder)")
    common.add_argument("--keep", action="store_true", help="keep the local topology's folder (configs, logs)")

    run = actions.add_parser("run", parents=[common], help="test one partner (default: the local JP connector)")
    run.add_argument("--partner", metavar="URL", help="the partner connector's root or DSP base URL")
    run.add_argument("--partner-did", metavar="DID", help="the partner's DID (its DSP participantId)")
    run.add_argument("--management", metavar="URL", help="our connector's Management API, …/api/management/v3")
    run.add_argument("--api-key", help=f"our Management API key (default: ${API_KEY_ENV})")
    run.add_argument("--asset", help="partner asset to negotiate (default: the first in its catalog)")
    run.add_argument("--denied-asset", help="partner asset whose policy must refuse us (policy-denial case)")
    run.set_defaults(func=_cmd_run)

    matrix = actions.add_parser("matrix", parents=[common], help="JP x TW both directions on a local topology")
    matrix.set_defaults(func=_cmd_matrix)

    cases = actions.add_parser("cases", help="list the test cases")
    cases.set_defaults(func=_cmd_cases)
