"""Sub-commands that run the connector (`kakehashi run --config FILE`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from aiohttp import web


def _cmd_run(args: argparse.Namespace) -> int:
    from .cli import UsageError
    from .config import ConfigError, load_settings
    from .logs import setup_logging

    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    setup_logging(settings.log_level)
    from .eventloop import run

    try:
        run(_serve(settings), settings.event_loop)
    except RuntimeError as exc:  # e.g. no authenticator configured: one readable line
        print(f"kakehashi run: error: {exc}")
        return 1
    return 0


async def _serve(settings: object) -> None:
    from .app import create_app

    app = create_app(settings)  # type: ignore[arg-type]
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, reuse_address=True)  # type: ignore[attr-defined]
    await site.start()
    logging.getLogger("connector").info("listening", extra={"fields": {
        "host": settings.host, "port": settings.port, "participantId": settings.participant_id}})  # type: ignore[attr-defined]
    await serve_until_signalled(runner)


async def serve_until_signalled(runner: web.AppRunner) -> None:
    """Serve until SIGINT or SIGTERM, then shut ``runner`` down."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def _register_run(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    run = sub.add_parser("run", help="run one connector (DSP + Management API) from a TOML config")
    run.add_argument("--config", required=True, help="TOML file with a [connector] table")
    run.set_defaults(func=_cmd_run)


REGISTRARS = [_register_run]
