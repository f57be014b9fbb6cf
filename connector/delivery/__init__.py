"""Footprint delivery between connectors, on top of the control plane and the PACT host.

Provider: the PACT host at ``/api/public`` (EDR tokens and direct PACT clients), each
footprint signed with our DID key, every delivery in the audit log (:mod:`.public_api`).
Consumer: fetch with an EDR, verify every credential, keep the good ones (:mod:`.consumer`).
Both sides' Management API routes live in ``connector.management.footprints``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from connector.config import Settings

from .consumer import ConsumerVerification, FetchRefused, FetchResult, FootprintFetcher
from .public_api import PUBLIC_PATH, SIGNER, create_public_api, mount_public_api

VERIFICATION = web.AppKey("consumer_verification", ConsumerVerification)


def mount_delivery(app: web.Application, settings: Settings) -> None:
    """Mount the PACT host, open the consumer's verifier with the app, register the
    footprint Management API routes (call before the Management sub-app is created)."""
    import connector.management.footprints  # noqa: F401 - registers its routes

    mount_public_api(app, settings)

    async def verification(app: web.Application) -> AsyncIterator[None]:
        app[VERIFICATION] = ConsumerVerification(settings)
        yield
        await app[VERIFICATION].close()

    app.cleanup_ctx.append(verification)


__all__ = [
    "PUBLIC_PATH", "SIGNER", "VERIFICATION", "ConsumerVerification", "FetchRefused", "FetchResult",
    "FootprintFetcher", "create_public_api", "mount_delivery", "mount_public_api",
]
