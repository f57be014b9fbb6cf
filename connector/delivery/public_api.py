"""The provider's data plane inside the connector: the PACT host at ``/api/public``.

``/api/public`` is the endpoint the control plane puts in every pull transfer's
DataAddress. Behind it:

- the PACT v2.3 / v3.0 host over our *published* footprints (``StoreFootprintSource``),
  opened by EDR tokens (:mod:`.edr_access`) and, for PACT-only partners, by OAuth2 client
  credentials from ``settings.pact_clients`` (``/api/public/auth/token``);
- signed delivery: footprints as ProductFootprintCredentials from our DID key
  (:mod:`.signing`), VC by default for EDR holders;
- the Catena-X CX-0136 view (:mod:`.catenax_view`);
- a ``footprint.delivered`` audit entry for every footprint response (:mod:`.recording`);
- PACT events with direct partners (:mod:`.partner_events`): their ``RequestCreated`` is
  kept in the store until answered on their ``/2|3/events`` (:mod:`.pact_requests`), and
  ``Published`` goes to subscribers when we publish;
- our revocation status lists for published footprint credentials at ``/status/footprints/N``
  on the root app (:mod:`.status_lists`; public, as our DID document is).

The control plane (store, EDR tokens) is built at start-up, after the routes are frozen,
so everything here reaches it through ``app[CONTROL_PLANE]`` when a request arrives.

Credentials are only verifiable if partners can resolve our DID: under DCP the app
already serves our did:web document; otherwise it is served here, from the same key.
"""

from __future__ import annotations

import inspect

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from connector.config import Settings
from connector.dataplane import (
    PACT_HOST, ChainedAuth, ClientCredentialsAuth, EdrAuth, StoreFootprintSource, create_pact_app,
)
from identity.keys import KeyPair

from .catenax_view import add_catenax_routes
from .edr_access import EdrAccess
from .pact_requests import StoreRequestLog
from .partner_events import PUBLISHED_NOTIFIER, ConfiguredPartners, PublishedNotifier
from .recording import RememberingAuth, delivery_middleware
from .signing import KEY_FRAGMENT, FootprintSigner
from .status_lists import FootprintStatusLists, mount_status_lists

PUBLIC_PATH = "/api/public"  # == connector.protocol.services.DATAPLANE_PATH
SIGNER = web.AppKey("footprint_signer", FootprintSigner)


class PublishedFootprints:
    """``StoreFootprintSource`` over the running store's published footprints, built on first
    use (the store opens at start-up); stored credentials are unwrapped by ``signer``.

    Every public method of ``StoreFootprintSource`` is forwarded as it is, whatever its
    signature, so the host sees exactly the capabilities the store source has."""

    def __init__(self, root: web.Application, signer: FootprintSigner) -> None:
        self._root, self._signer = root, signer
        self._source: StoreFootprintSource | None = None

    def _get(self) -> StoreFootprintSource:
        if self._source is None:
            from connector.app import CONTROL_PLANE

            self._source = StoreFootprintSource(self._root[CONTROL_PLANE].store.footprints, unwrap=self._signer.unwrap)
        return self._source

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or not callable(getattr(StoreFootprintSource, name, None)):
            raise AttributeError(name)

        if inspect.iscoroutinefunction(getattr(StoreFootprintSource, name)):
            async def forward(*args: Any, **kwargs: Any) -> Any:
                return await getattr(self._get(), name)(*args, **kwargs)
        else:
            def forward(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
                return getattr(self._get(), name)(*args, **kwargs)

        forward.__name__ = name
        return forward


def client_credentials(settings: Settings, key: KeyPair) -> ClientCredentialsAuth | None:
    """The direct PACT host's token issuer, or None when no PACT-only partner is configured.
    Tokens are EdDSA with our key when it is Ed25519, so every replica accepts them."""
    if not settings.pact_clients:
        return None
    private = key.cryptography_key()
    auth = ClientCredentialsAuth(audience=settings.base_url + PUBLIC_PATH, issuer=settings.participant_id,
                                 private_key=private if isinstance(private, Ed25519PrivateKey) else None)
    for client in settings.pact_clients:
        auth.register_client(client.client_id, client.client_secret, scopes=client.scopes,
                             footprint_ids=client.footprint_ids, signed_delivery=client.signed_delivery)
    return auth


def _serve_did_document(app: web.Application, settings: Settings, key: KeyPair) -> None:
    """Serve our did:web document unless DCP already does (it names the key ``#key-1``)."""
    from connector.credential_service import ConnectorIdentity
    from identity.did import did_web_to_url

    if not settings.participant_id.startswith("did:web:"):
        return
    try:
        path = urlsplit(did_web_to_url(settings.participant_id, allow_http_loopback=True)).path
    except Exception:  # noqa: BLE001 - a DID we cannot map to a URL path is simply not served
        return
    if any(r.canonical == path for r in app.router.resources()):
        return
    identity = ConnectorIdentity(settings.participant_id, key, base_url=settings.base_url, key_fragment=KEY_FRAGMENT)
    document = identity.did_document().to_json()

    async def did_document(request: web.Request) -> web.Response:
        return web.json_response(document, content_type="application/did+json")

    app.router.add_get(path, did_document)


def create_public_api(root: web.Application, settings: Settings) -> web.Application:
    """The PACT host sub-application for ``root`` (mount it at ``PUBLIC_PATH``)."""
    from connector.app import CONTROL_PLANE

    key = KeyPair.load(settings.key_file)
    signer = FootprintSigner(key, settings.participant_id)
    members: list[Any] = [EdrAuth(EdrAccess(lambda: root[CONTROL_PLANE]))]
    if (direct := client_credentials(settings, key)) is not None:
        members.append(direct)
    partners = ConfiguredPartners.from_settings(settings)

    def running_store() -> Any:
        plane = root.get(CONTROL_PLANE)
        return plane.store if plane is not None else None

    # RequestCreated events are kept in the store until answered (only partners with an
    # events endpoint can send them)
    requests = (StoreRequestLog(running_store, partners, settings.replica_id)
                if any(c.sends_events for c in settings.pact_clients) else None)
    pact = create_pact_app(PublishedFootprints(root, signer), RememberingAuth(ChainedAuth(members)), signer=signer,
                           partners=partners, public_base_url=settings.base_url + PUBLIC_PATH, requests=requests)
    root[PUBLISHED_NOTIFIER] = PublishedNotifier(pact[PACT_HOST], partners)
    pact.middlewares.append(delivery_middleware(lambda: root[CONTROL_PLANE].store))
    add_catenax_routes(pact)
    root[SIGNER] = signer
    _serve_did_document(root, settings, key)
    # Served even with footprint_status off: credentials published before still point here.
    mount_status_lists(root, FootprintStatusLists(key, settings.participant_id, signer.vm, settings.base_url,
                                                  ttl_seconds=settings.footprint_status_ttl))
    return pact


def mount_public_api(root: web.Application, settings: Settings) -> None:
    root.add_subapp(PUBLIC_PATH, create_public_api(root, settings))
