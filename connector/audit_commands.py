"""`kakehashi audit verify` and `kakehashi audit export`: check a log, hand an auditor a bundle."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from connector.cli import UsageError


async def _open(url: str) -> Any:
    """Open an existing store without migrating it: a typo must not create an empty database."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from connector.store import open_store

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsageError(f"--db {url!r} is not a database URL (e.g. sqlite:///kakehashi.db)") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).is_file():
            raise UsageError(f"no SQLite database at {parsed.database}")
    try:
        return await open_store(url, migrate=False)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _db_error(exc: Exception, url: str) -> UsageError:
    reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return UsageError(f"cannot read the audit log in {url}: {reason}")


async def _verify_db(url: str) -> dict[str, Any]:
    from sqlalchemy.exc import SQLAlchemyError

    store = await _open(url)
    try:
        broken = await store.audit.verify()
        head = await store.audit.head()
    except (SQLAlchemyError, OSError) as exc:
        raise _db_error(exc, url) from None
    finally:
        await store.close()
    return {"source": url, "ok": broken is None, "entries": head.seq if head else 0,
            "first_seq": 1 if head else None, "last_seq": head.seq if head else None,
            "head_hash": head.hash if head else None,
            "broken": None if broken is None else {"seq": broken.seq, "reason": broken.reason}}


def _verify_file(path: str, prev_hash: str | None) -> dict[str, Any]:
    from connector.audit import AuditError, check_segment, read_log_file

    try:
        entries = read_log_file(path)
    except AuditError as exc:
        raise UsageError(str(exc)) from None
    check = check_segment(entries, expected_prev=prev_hash)
    result = {"source": path, **check.to_json()}
    if entries and entries[0].seq != 1 and prev_hash is None:
        result["note"] = (f"the excerpt starts at seq {entries[0].seq}; its link to {entries[0].prev_hash[:16]}… "
                          "is taken on trust (pass --prev-hash to pin it)")
    return result


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    if bool(args.db) == bool(args.log):
        raise UsageError("give exactly one of --db URL or --log FILE.jsonl")
    if args.prev_hash and not args.log:
        raise UsageError("--prev-hash applies to --log excerpts only")
    result = asyncio.run(_verify_db(args.db)) if args.db else _verify_file(args.log, args.prev_hash)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    elif result["ok"]:
        span = f"seq {result['first_seq']}..{result['last_seq']}" if result["last_seq"] else "empty log"
        print(f"{result['source']}: chain intact ({span}, {result['entries']} entries), head {result['head_hash']}")
        if result.get("note"):
            print(f"note: {result['note']}")
    else:
        broken = result["broken"]
        print(f"{result['source']}: BROKEN at seq {broken['seq']}: {broken['reason']}")
    return 0 if result["ok"] else 1


async def _export(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy.exc import SQLAlchemyError

    from connector.evidence import EvidenceError, export_bundle
    from identity.did.resolver import DidResolver, load_did_bundle
    from identity.errors import IdentityError
    from identity.status import StatusListSource
    from identity.trust import TrustStore

    try:
        trust = TrustStore.load(args.trust_list) if args.trust_list else None
        dids = load_did_bundle(args.did_bundle) if args.did_bundle else None
    except IdentityError as exc:
        raise UsageError(str(exc)) from None
    status_bundle: dict[str, Any] = {}
    if args.status_lists:
        try:
            status_bundle = json.loads(Path(args.status_lists).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"cannot read status-list bundle {args.status_lists}: {exc}") from None
        if not isinstance(status_bundle, dict):
            raise UsageError(f"status-list bundle {args.status_lists} must be a JSON object {{url: credential}}")
    signer, db = _signer_and_db(args)
    store = await _open(db)
    resolver = DidResolver(bundle=dids, offline=args.offline, allow_http_loopback=args.allow_http_loopback)
    status = StatusListSource(bundle=status_bundle, offline=args.offline, allow_http_loopback=args.allow_http_loopback)
    try:
        return await export_bundle(store, args.agreement, args.out, resolver=resolver, status_lists=status,
                                   trust=trust, exporter_did=args.exporter_did, allow_missing=args.allow_missing,
                                   signer=signer)
    except EvidenceError as exc:
        raise _ExportFailed(str(exc)) from None
    except (SQLAlchemyError, OSError) as exc:
        raise _db_error(exc, db) from None
    finally:
        await resolver.close()
        await status.close()
        await store.close()


def _signer_and_db(args: argparse.Namespace) -> tuple[Any, str]:
    """With --config, the connector's own key signs the manifest and its database is the
    default --db; without it the bundle is unsigned."""
    if not args.config:
        if not args.db:
            raise UsageError("give --db (an unsigned bundle) or --config (the connector's, to sign it)")
        return None, args.db
    from connector.config import ConfigError, load_settings
    from connector.delivery.signing import verification_method
    from connector.evidence import ManifestSigner
    from identity.errors import IdentityError
    from identity.keys import KeyPair

    try:
        settings = load_settings(args.config)
        key = KeyPair.load(settings.key_file)
    except (ConfigError, IdentityError, OSError) as exc:
        raise UsageError(f"cannot use {args.config} to sign: {exc}") from None
    did = settings.participant_id
    return ManifestSigner(key, did, verification_method(did)), args.db or settings.database


class _ExportFailed(Exception):
    """The store cannot back a bundle (no such agreement, broken chain, missing credential): exit 1."""


def _cmd_audit_export(args: argparse.Namespace) -> int:
    try:
        manifest = asyncio.run(_export(args))
    except _ExportFailed as exc:
        print(f"kakehashi audit export: {exc}", file=sys.stderr)
        return 1
    log = manifest["log"]
    print(f"wrote evidence bundle for agreement {manifest['agreementId']} to {args.out}: "
          f"{len(manifest['credentials'])} credential(s), {len(manifest['didDocuments'])} DID document(s), "
          f"{len(manifest['statusLists'])} status list(s), log seq {log['firstSeq']}..{log['lastSeq']}")
    for missing in manifest["missing"]:
        print(f"  not included: seq {missing['seq']} footprint {missing['footprintId']}: {missing['reason']}")
    print(f"verify it offline with: kakehashi verify --bundle {args.out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    audit = sub.add_parser("audit", help="check the hash-chained audit log; export evidence bundles")
    actions = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    actions.required = True

    verify = actions.add_parser("verify", help="verify the hash chain of a store's log or of a JSONL excerpt")
    verify.add_argument("--db", help="store URL, e.g. sqlite:///kakehashi.db or postgresql://...")
    verify.add_argument("--log", help="a JSONL log excerpt (e.g. audit-log.jsonl from a bundle)")
    verify.add_argument("--prev-hash", help="the hash the excerpt's first entry must link to")
    verify.add_argument("--json", action="store_true", help="print one JSON document")
    verify.set_defaults(func=_cmd_audit_verify)

    export = actions.add_parser("export", help="write the evidence bundle of one agreement")
    export.add_argument("--db", help="store URL (default with --config: the connector's database)")
    export.add_argument("--config", help="the connector's configuration: its key signs the manifest (manifest.jws)")
    export.add_argument("--agreement", required=True, help="contract agreement id")
    export.add_argument("--out", required=True, help="directory to create (must not exist or be empty)")
    export.add_argument("--trust-list", help="trust list to include (TOML or JSON)")
    export.add_argument("--exporter-did", help="this connector's DID, recorded in the manifest")
    export.add_argument("--did-bundle", help="DID documents {did: document} to use instead of fetching")
    export.add_argument("--status-lists", help="status list credentials {url: credential} to use instead of fetching")
    export.add_argument("--offline", action="store_true", help="never use the network")
    export.add_argument("--allow-http-loopback", action="store_true", help="allow http:// did:web on loopback")
    export.add_argument("--allow-missing", action="store_true",
                        help="export even if some delivered credentials are no longer stored (listed as missing)")
    export.set_defaults(func=_cmd_audit_export)


REGISTRARS = [register]
