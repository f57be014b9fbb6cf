"""The `kakehashi` command.

Each sub-command lives in its own small function; this module only parses arguments, turns
expected errors into one readable line on stderr (exit 2 for usage errors, 1 for failures),
and never shows a traceback for bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Sequence

from identity.keys import KeyError_, KeyPair, normalise_key_type


# Modules that define sub-commands in a `REGISTRARS` list, each next to the code it drives.
COMMAND_MODULES = (
    "connector.identity_commands",  # sign, verify
    "connector.commands",  # run
    "connector.authority_commands",  # authority run / issue / revoke
    "connector.audit_commands",  # audit verify / export
    "connector.demo",  # demo
)


class UsageError(Exception):
    """Wrong arguments or unreadable input files: exit code 2."""


def _cmd_keys_new(args: argparse.Namespace) -> int:
    try:
        key_type = normalise_key_type(args.type)
    except KeyError_ as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.out)
    if out.exists() and not args.force:
        raise UsageError(f"{out} exists; pass --force to overwrite it")
    pair = KeyPair.generate(key_type)
    pair.save(out)
    from identity.did import did_key_from_public  # local import: DID code is only needed here

    print(f"wrote {key_type} private key to {out} (mode 0600)")
    print(f"public key (Multikey): {pair.public.multibase()}")
    print(f"did:key: {did_key_from_public(pair.public)}")
    return 0


def _cmd_keys_show(args: argparse.Namespace) -> int:
    import json

    from identity.did import did_key_from_public

    try:
        pair = KeyPair.load(args.key)
    except KeyError_ as exc:
        raise UsageError(str(exc)) from None
    print(json.dumps({"type": pair.key_type, "publicKeyJwk": pair.public.jwk(),
                      "publicKeyMultibase": pair.public.multibase(),
                      "didKey": did_key_from_public(pair.public)}, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kakehashi",
        description="Kakehashi: a data-space connector for signed product carbon footprints (JP <-> TW).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    keys = sub.add_parser("keys", help="create and inspect key pairs")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION")
    keys_sub.required = True
    new = keys_sub.add_parser("new", help="generate a key pair and write its private JWK (0600)")
    new.add_argument("--type", default="ed25519", help="ed25519 (default), p256 or p384")
    new.add_argument("--out", required=True, help="file to write the private JWK to")
    new.add_argument("--force", action="store_true", help="overwrite an existing file")
    new.set_defaults(func=_cmd_keys_new)
    show = keys_sub.add_parser("show", help="print the public key, Multikey and did:key of a key file")
    show.add_argument("key", help="private JWK file")
    show.set_defaults(func=_cmd_keys_show)

    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands() -> list[Callable[[argparse._SubParsersAction], None]]:  # type: ignore[type-arg]
    """Sub-commands defined beside the code they drive (sign/verify, run, demo, audit, ...)."""
    registrars: list[Callable[[argparse._SubParsersAction], None]] = []  # type: ignore[type-arg]
    import importlib

    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        registrars.extend(getattr(module, "REGISTRARS", []))
    return registrars


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"kakehashi {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # Run through the imported module so sub-command modules share its UsageError class.
    from connector.cli import main as _main

    sys.exit(_main())
