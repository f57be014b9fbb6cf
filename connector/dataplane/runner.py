"""Run the PACT host on its own (a direct PACT host for partners without a connector).

``python -m connector.dataplane.runner --port 8443 --footprints pfs.json --client id:secret``
serves the footprints in a JSON file (a list of PACT v2.3 footprints) with OAuth2 client
credentials. Put TLS in front of it (or pass --cert/--key); the host never redirects
plain HTTP to HTTPS, as the PACT conformance tests expect.
"""

from __future__ import annotations

import argparse
import json
import logging
import ssl
from pathlib import Path

from aiohttp import web

from .auth import ClientCredentialsAuth
from .pact_app import create_pact_app
from .source import InMemoryFootprintSource


async def start_pact_host(app: web.Application, host: str = "127.0.0.1", port: int = 0,
                          ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, int]:
    """Start ``app`` and return the runner and the bound port (``port=0``: ephemeral)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, bound


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--footprints", type=Path, required=True, help="JSON file: list of PACT v2.3 footprints")
    parser.add_argument("--client", action="append", default=[], help="client_id:client_secret (repeatable)")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    source = InMemoryFootprintSource(json.loads(args.footprints.read_text(encoding="utf-8")))
    auth = ClientCredentialsAuth()
    for pair in args.client:
        client_id, _, secret = pair.partition(":")
        auth.register_client(client_id, secret)
    context = None
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    web.run_app(create_pact_app(source, auth), host=args.host, port=args.port, ssl_context=context)


if __name__ == "__main__":
    main()
