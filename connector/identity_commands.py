"""`kakehashi sign` and `kakehashi verify`: a company signs footprints, an auditor checks them."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from connector.cli import UsageError
from identity.errors import IdentityError
from identity.files import json_problem
from identity.keys import KeyError_, KeyPair

DEFAULT_SUITE = "eddsa-jcs-2022"


def footprint_schema_check(footprint: dict[str, Any]) -> tuple[bool, str]:
    """PACT schema check for the auditor (v2.3 or v3.0, detected)."""
    from connector.footprints import validate_footprint

    check = validate_footprint(footprint)
    if check.ok:
        return True, f"valid PACT v{check.version} footprint"
    return False, "; ".join(check.errors[:5]) + (f" (+{len(check.errors) - 5} more)" if len(check.errors) > 5 else "")


def _read_json(path: str, what: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {what} {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what} {path} is not JSON: {json_problem(exc)}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{what} {path} must be a JSON object")
    return data


def sign_footprint(
    footprint: dict[str, Any], key: KeyPair, *, did: str | None = None, suite: str = DEFAULT_SUITE,
    verification_method: str | None = None, credential_status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Wrap and sign; without a DID the issuer is the key's did:key. ``credential_status``:
    the credential's revocation entry (a ``BitstringStatusListEntry``), if it has one."""
    from identity.did import did_key_from_public, did_key_vm_id
    from identity.footprint_credential import footprint_credential
    from identity.proofs import add_proof

    if did is None:
        issuer, vm = did_key_from_public(key.public), did_key_vm_id(key.public)
    else:
        issuer, vm = did, verification_method or f"{did}#key-1"
    credential = footprint_credential(footprint, issuer, credential_status=credential_status)
    return add_proof(credential, key, verification_method=vm, cryptosuite=suite)


def _cmd_sign(args: argparse.Namespace) -> int:
    from connector.footprints import validate_footprint

    footprint = _read_json(args.footprint, "footprint")
    try:
        key = KeyPair.load(args.key)
    except KeyError_ as exc:
        raise UsageError(str(exc)) from None
    check = validate_footprint(footprint)
    if not check.ok and not args.allow_invalid:
        raise UsageError("footprint is not valid PACT: " + "; ".join(check.errors[:5]) + " (use --allow-invalid to sign anyway)")
    try:
        signed = sign_footprint(footprint, key, did=args.did, suite=args.suite, verification_method=args.verification_method)
    except (IdentityError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    text = json.dumps(signed, indent=2, ensure_ascii=False) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"signed {footprint.get('id')} as {signed['issuer']} ({args.suite}) -> {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


async def _verify_files(args: argparse.Namespace) -> list[Any]:
    from identity.did.resolver import DidResolver, load_did_bundle
    from identity.status import StatusListSource
    from identity.trust import TrustStore
    from identity.verify import FileReport, CheckResult, Verifier, read_credential_file

    try:
        trust = TrustStore.load(args.trust_list) if args.trust_list else None
        bundle = load_did_bundle(args.did_bundle) if args.did_bundle else None
    except IdentityError as exc:
        raise UsageError(str(exc)) from None
    status_bundle: dict[str, Any] = {}
    if args.status_lists:
        data = _read_json(args.status_lists, "status-list bundle")
        status_bundle.update(data)
    resolver = DidResolver(bundle=bundle, offline=args.offline or bool(bundle), allow_http_loopback=args.allow_http_loopback)
    status = StatusListSource(bundle=status_bundle, offline=args.offline or bool(bundle), allow_http_loopback=args.allow_http_loopback)
    verifier = Verifier(resolver, trust=trust, status_lists=status, schema_check=footprint_schema_check)
    reports: list[FileReport] = []
    try:
        for path in args.files:
            try:
                document = read_credential_file(path)
            except IdentityError as exc:
                reports.append(FileReport(path, [CheckResult("proof", False, str(exc))] +
                                          [CheckResult(n, None, "not checked: unreadable file") for n in
                                           ("issuer-key", "trust", "status", "validity", "schema")]))
                continue
            reports.append(await verifier.verify(document, name=path))
    finally:
        await resolver.close()
        await status.close()
    return reports


def _cmd_verify(args: argparse.Namespace) -> int:
    from identity.verify import format_report

    if args.bundle:
        from connector.evidence import verify_bundle_command

        return verify_bundle_command(args)
    if not args.files:
        raise UsageError("name at least one credential file (or --bundle DIR)")
    reports = asyncio.run(_verify_files(args))
    if args.json:
        print(json.dumps({"results": [r.to_json() for r in reports]}, indent=2, ensure_ascii=False))
    else:
        print(format_report(reports))
    return 0 if all(r.valid for r in reports) else 1


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sign = sub.add_parser("sign", help="wrap a PACT footprint as a credential and sign it")
    sign.add_argument("footprint", help="PACT footprint JSON file (v2.3 or v3.0), or - for stdin")
    sign.add_argument("--key", required=True, help="private JWK of the signer")
    sign.add_argument("--did", help="issuer DID (default: the key's did:key)")
    sign.add_argument("--verification-method", help="verification method id (default: DID#key-1)")
    sign.add_argument("--suite", default=DEFAULT_SUITE,
                      choices=["eddsa-jcs-2022", "eddsa-rdfc-2022", "ecdsa-jcs-2019", "ecdsa-rdfc-2019"])
    sign.add_argument("--out", help="write the credential here instead of standard output")
    sign.add_argument("--allow-invalid", action="store_true", help="sign even if the footprint fails the PACT schema")
    sign.set_defaults(func=_cmd_sign)

    verify = sub.add_parser("verify", help="verify signed footprints / credentials (the auditor's verdict)")
    verify.add_argument("files", nargs="*", help="credential files (JSON with a proof, or vc+jwt)")
    verify.add_argument("--trust-list", help="trust list file (TOML or JSON) of data spaces and authorities")
    verify.add_argument("--did-bundle", help="offline DID documents {did: document}; implies --offline")
    verify.add_argument("--status-lists", help="offline status list credentials {url: credential}")
    verify.add_argument("--bundle", help="an evidence bundle directory written by `kakehashi audit export`")
    verify.add_argument("--offline", action="store_true", help="never use the network (did:key still resolves)")
    verify.add_argument("--allow-http-loopback", action="store_true", help="allow http:// did:web on loopback")
    verify.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    verify.set_defaults(func=_cmd_verify)


REGISTRARS = [register]
