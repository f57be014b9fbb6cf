"""`kakehashi authority ...`: run a data-space authority, issue and revoke membership credentials.

    kakehashi authority run --config authority.toml
    kakehashi authority issue --config authority.toml --subject DID [--claims JSON] [--format jwt|di] [--out FILE]
    kakehashi authority issue --url http://host:port --subject DID ...      (through the admin API)
    kakehashi authority revoke --config authority.toml --id CREDENTIAL_ID
    kakehashi authority revoke --url http://host:port --id CREDENTIAL_ID
    kakehashi authority did --config authority.toml                         (print the DID document)

With `--config` the state file is changed directly (offline); a running authority re-reads it
before its next request. With `--url` the running authority does the work; the admin API key
comes from `--api-key` or `KAKEHASHI_AUTHORITY_ADMIN_API_KEY`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

API_KEY_ENV = "KAKEHASHI_AUTHORITY_ADMIN_API_KEY"
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)


def _settings(path: str) -> Any:
    from .authority_app import AuthorityConfigError, load_authority_settings
    from .cli import UsageError

    try:
        return load_authority_settings(path)
    except AuthorityConfigError as exc:
        raise UsageError(str(exc)) from None


def _cmd_run(args: argparse.Namespace) -> int:
    from .authority_app import AuthorityConfigError
    from .cli import UsageError
    from .logs import setup_logging

    from .eventloop import run

    settings = _settings(args.config)
    setup_logging(settings.log_level, service="kakehashi-authority")
    try:
        run(_serve(settings))
    except AuthorityConfigError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        print(f"kakehashi authority run: error: cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
              file=sys.stderr)
        return 1
    return 0


async def _serve(settings: Any) -> None:
    from .authority_app import create_authority_app, listening_socket, start_app
    from .commands import serve_until_signalled

    sock = listening_socket(settings.host, settings.port)
    port = sock.getsockname()[1]
    try:
        authority = settings.open_authority(port)
    except BaseException:
        sock.close()
        raise
    if authority.state_file is not None and not authority.state_file.exists():
        authority.save()
    app = create_authority_app(authority, admin_api_key=settings.admin_api_key,
                               credential_format=settings.credential_format, max_body_bytes=settings.max_body_bytes)
    runner = await start_app(app, sock)
    # One machine-readable line on stdout: scripts and tests learn the URL and DID from it.
    print(json.dumps({"event": "listening", "url": f"http://{settings.host}:{port}", "baseUrl": authority.base_url,
                      "did": authority.did, "dataSpace": authority.data_space}), flush=True)
    logging.getLogger("connector.authority").info("authority listening", extra={"fields": {
        "did": authority.did, "port": port, "dataSpace": authority.data_space}})
    await serve_until_signalled(runner)


def _claims(text: str | None) -> dict[str, Any]:
    from .cli import UsageError

    if not text:
        return {}
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read claims file {text[1:]}: {exc.strerror}") from None
    try:
        claims = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--claims is not JSON: {exc}") from None
    if not isinstance(claims, dict):
        raise UsageError("--claims must be a JSON object")
    return claims


def _api_key(args: argparse.Namespace) -> str:
    from .cli import UsageError

    key = args.api_key or os.environ.get(API_KEY_ENV, "")
    if not key:
        raise UsageError(f"--url needs the admin API key (--api-key or {API_KEY_ENV})")
    return key


async def _admin_call(url: str, api_key: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
    from .cli import UsageError

    async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session:
        try:
            async with session.post(url.rstrip("/") + path, json=body, headers={"X-Api-Key": api_key},
                                    allow_redirects=False) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UsageError(f"cannot reach the authority at {url}: {type(exc).__name__}: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError:
        data = {"error": text[:300]}
    if status >= 400:
        raise UsageError(f"authority answered HTTP {status}: {data.get('error', data) if isinstance(data, dict) else data}")
    return data  # type: ignore[no-any-return]


def _cmd_issue(args: argparse.Namespace) -> int:
    from identity.authority import AuthorityError, write_credential

    from .authority_app import AuthorityConfigError
    from .cli import UsageError

    claims = _claims(args.claims)
    if args.url:
        body: dict[str, Any] = {"subjectDid": args.subject, "claims": claims}
        if args.format:
            body["format"] = args.format
        if args.valid_days:
            body["validDays"] = args.valid_days
        result = asyncio.run(_admin_call(args.url, _api_key(args), "/api/admin/credentials", body))
        credential, cred_id = result.get("credential"), result.get("id")
    else:
        settings = _settings(args.config)
        try:
            authority = settings.open_authority()
            issued = authority.issue_membership(
                args.subject, claims, format=args.format or settings.credential_format,
                validity=timedelta(days=args.valid_days) if args.valid_days else None)
            authority.save()
        except (AuthorityError, AuthorityConfigError) as exc:
            raise UsageError(str(exc)) from None
        credential, cred_id = issued.credential, issued.record.id
    if not isinstance(credential, (str, dict)):
        print("kakehashi authority issue: error: the authority returned no credential", file=sys.stderr)
        return 1
    if args.out:
        write_credential(args.out, credential)
        print(f"issued {cred_id} to {args.subject}; wrote {args.out}", file=sys.stderr)
    else:
        print(credential if isinstance(credential, str) else json.dumps(credential, indent=2, ensure_ascii=False))
        print(f"issued {cred_id} to {args.subject}", file=sys.stderr)
    return 0


def _cmd_revoke(args: argparse.Namespace) -> int:
    from identity.authority import AuthorityError

    from .authority_app import AuthorityConfigError
    from .cli import UsageError

    if args.url:
        result = asyncio.run(_admin_call(args.url, _api_key(args), f"/api/admin/credentials/{args.id}/revoke", None))
        print(f"revoked {result.get('id')} (bit {result.get('statusListIndex')} of {result.get('statusListCredential')})")
        return 0
    settings = _settings(args.config)
    try:
        authority = settings.open_authority()
        record = authority.revoke(args.id)
        authority.save()
    except (AuthorityError, AuthorityConfigError) as exc:
        raise UsageError(str(exc)) from None
    print(f"revoked {record.id} (bit {record.index} of {authority.status_list_url(record.list_id)})")
    return 0


def _cmd_did(args: argparse.Namespace) -> int:
    from .authority_app import AuthorityConfigError
    from .cli import UsageError

    settings = _settings(args.config)
    try:
        authority = settings.open_authority()
    except AuthorityConfigError as exc:
        raise UsageError(str(exc)) from None
    print(json.dumps(authority.did_document().to_json(), indent=2))
    return 0


def _register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    authority = sub.add_parser("authority", help="run a data-space authority; issue and revoke membership credentials")
    actions = authority.add_subparsers(dest="authority_command", metavar="ACTION")
    actions.required = True

    run = actions.add_parser("run", help="serve the DID document, status lists and admin API")
    run.add_argument("--config", required=True, help="TOML file with an [authority] table")
    run.set_defaults(func=_cmd_run)

    def target(p: argparse.ArgumentParser) -> None:
        where = p.add_mutually_exclusive_group(required=True)
        where.add_argument("--config", help="work offline on the authority's state file")
        where.add_argument("--url", help="ask a running authority (admin API)")
        p.add_argument("--api-key", help=f"admin API key for --url (default: ${API_KEY_ENV})")

    issue = actions.add_parser("issue", help="issue a MembershipCredential")
    target(issue)
    issue.add_argument("--subject", required=True, help="the member's DID")
    issue.add_argument("--claims", help="extra credentialSubject claims: JSON object or @FILE")
    issue.add_argument("--format", choices=["jwt", "di"], help="vc+jwt or Data Integrity (default: config)")
    issue.add_argument("--valid-days", type=int, help="validity in days (default: config)")
    issue.add_argument("--out", help="write the credential here instead of standard output")
    issue.set_defaults(func=_cmd_issue)

    revoke = actions.add_parser("revoke", help="revoke a credential by id (sets its status list bit)")
    target(revoke)
    revoke.add_argument("--id", required=True, help="credential id (urn:uuid:...)")
    revoke.set_defaults(func=_cmd_revoke)

    did = actions.add_parser("did", help="print the authority's DID document (e.g. for an auditor's bundle)")
    did.add_argument("--config", required=True, help="TOML file with an [authority] table")
    did.set_defaults(func=_cmd_did)


REGISTRARS = [_register]
