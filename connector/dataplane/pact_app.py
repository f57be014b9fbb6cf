"""The PACT API host (Tech Specs v2.3 and v3.0) as a mountable aiohttp sub-application.

Routes, relative to where it is mounted::

    POST /auth/token                          OAuth2 client credentials (RFC 6749 4.4)
    GET  /.well-known/openid-configuration    discovery of the token endpoint
    GET  /.well-known/jwks.json               token verification keys (EdDSA tokens only)
    GET  /{2,3}/footprints                    ListFootprints (v2 $filter, v3 filters, paging)
    GET  /{2,3}/footprints/{id}               GetFootprint
    GET  /{2,3}/footprints/{id}/credential    the footprint as a signed VC (with a signer)
    POST /{2,3}/events                        CloudEvents: RequestCreated/Fulfilled/Rejected, Published

Footprints as VCs: ``?format=vc`` or ``Accept: application/vc+ld+json`` returns each
footprint in ``data`` as a signed VC, for tokens whose scope allows it
(``footprint:vc``, or an EDR for an agreement with signed delivery, where VC is the
default and ``?format=json`` asks for plain PACT JSON). Plain JSON responses carry
``Content-Digest``, a ``JWS-Signature`` header when a body key is configured, and on
GetFootprint a ``Link`` to the credential.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections import deque
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from .auth import SCOPE_EVENTS, SCOPE_LIST, SCOPE_READ, SCOPE_VC, PactAuth, Principal
from .cloudevents import EventKind, PactEvent, build_event, check_content_type, fragment_matches, parse_event
from .cursor import Cursor, CursorCodec
from .delivery import DeliveryResult, EventSender, Partner, PartnerDirectory, StaticPartners
from .errors import ApiVersion, ErrorKind, PactError, bad_request, not_implemented
from .filters_v2 import parse_filter
from .filters_v3 import V3Criteria
from .oauth import add_oauth_routes
from .signing import (
    SIGNATURE_HEADER,
    VC_MEDIA_TYPE,
    CredentialRenderer,
    DetachedJws,
    Page,
    RenderCache,
    Signer,
    content_digest,
    dumps,
)
from .source import Entry, Footprint, FootprintSource, Predicate

log = logging.getLogger(__name__)

DEFAULT_MAX_PAGE = 1000
PAGES_SEEN = 16_384  # page keys (hashes) remembered for the page cache's admission
LISTINGS_KNOWN = 1_024  # listings whose cached page is known without reading the store
MAX_REQUEST_MATCHES = 1000


class PageKey(tuple):  # type: ignore[type-arg]
    """A page cache key, ``(version, format, rows)``, that hashes its 100-odd rows once."""

    def __new__(cls, version: str, fmt: str, rows: tuple[Any, ...]) -> PageKey:
        self = super().__new__(cls, (version, fmt, rows))
        self._hash = tuple.__hash__(self)
        return self

    def __hash__(self) -> int:
        return self._hash  # type: ignore[no-any-return]


class EventHandler(Protocol):
    """Receives every accepted inbound event (after checks), e.g. to store fulfilled
    footprints or record a Published notification. Raise PactError to refuse one."""

    async def handle(self, event: PactEvent, principal: Principal) -> None: ...


@dataclass(frozen=True)
class PendingRequest:
    """A RequestCreated event accepted earlier and not answered yet (e.g. before a restart)."""

    handle: str
    event: PactEvent
    principal: Principal
    partner: Partner
    source: str


class RequestLog(Protocol):
    """Where accepted RequestCreated events are kept until they are answered. A durable one
    (the connector's store) makes the 200 we return a promise that survives a restart."""

    async def accepted(self, event: PactEvent, principal: Principal, partner: Partner, source: str) -> str | None:
        """Record the event before it is acknowledged; a handle for :meth:`outcome`, or None
        when this very event (same partner, same id) was accepted before: it is answered once."""
        ...

    async def outcome(self, handle: str, result: DeliveryResult) -> None:
        """The answer was delivered, or the delivery failed (to be retried later or given up)."""
        ...

    async def due(self) -> list[PendingRequest]:
        """Requests to answer now: left by a restart, or whose retry time has come."""
        ...


Mapper = Callable[[Footprint], Footprint]


def _default_to_v3(fp: Footprint) -> Footprint:
    from connector.footprints import to_v3

    return to_v3(fp)


class PactHost:
    """Everything behind the routes; reachable from the app as ``app[PACT_HOST]``."""

    def __init__(
        self,
        source: FootprintSource,
        auth: PactAuth,
        *,
        events: EventHandler | None,
        partners: PartnerDirectory | None,
        signer: Signer | None,
        body_signer: DetachedJws | None,
        cursors: CursorCodec,
        to_v3: Mapper,
        max_page: int,
        base_url_from_request: bool,
        public_base_url: str | None,
        session: aiohttp.ClientSession | None,
        delivery_attempts: int,
        delivery_base_delay: float,
        v3_cache_size: int,
        vc_cache_size: int,
        vc_cache_bytes: int = 48 * 1024 * 1024,
        plain_cache_bytes: int = 16 * 1024 * 1024,
        sign_executor: Executor | None = None,
        sign_workers: int = 2,
        page_cache_bytes: int = 16 * 1024 * 1024,
        page_cache_size: int = 1_000,
        requests: RequestLog | None = None,
        resume_interval: float = 2.0,
    ) -> None:
        self.source, self.auth, self.events = source, auth, events
        self.requests, self._resume_interval = requests, resume_interval
        self.partners = partners or StaticPartners()
        self.renderer = (
            CredentialRenderer(signer, maxsize=vc_cache_size, cache=vc_cache_size > 0, max_bytes=vc_cache_bytes,
                               executor=sign_executor, workers=sign_workers)
            if signer else None
        )
        self.body_signer = body_signer
        self.cursors = cursors
        self.to_v3 = to_v3
        self.max_page = max_page
        self.base_url_from_request = base_url_from_request
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        # plain renderings that cost a decode + encode: v3 mappings, and v2 documents
        # stored in a form other than the one served (e.g. inside a VC)
        self.plain_cache = RenderCache(v3_cache_size, plain_cache_bytes) if v3_cache_size > 0 else None
        self._has_entries = callable(getattr(source, "entries", None)) and callable(getattr(source, "get_entry", None))
        self._has_listing = callable(getattr(source, "listing", None)) and callable(getattr(source, "entry_from_row", None))
        # whole ListFootprints bodies (+ Content-Digest, + JWS) by the page's version keys:
        # a page whose footprints have not changed is served without rendering a thing
        self.page_cache = (
            RenderCache(page_cache_size, page_cache_bytes, sizeof=Page.size)
            if page_cache_bytes > 0 and page_cache_size > 0 else None
        )
        # admission: a page enters the cache on its second rendering, so a partner crawling
        # every page once (the usual PACT pattern) does not flush the pages others repeat
        self._pages_seen: dict[int, None] = {}
        # (version, format, after, limit, ids) -> (the source's listing version, the page's
        # key, more, last id) for cached pages: with the version unchanged, a cached page
        # is found without reading the listing again (sources that can tell, e.g. SQLite)
        version_of = getattr(source, "listing_version", None)
        self._listing_version: Callable[[], Any] | None = version_of if callable(version_of) else None
        self._listings: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self._session = session
        self._own_session = session is None
        self.sender: EventSender | None = None
        self._delivery = (delivery_attempts, delivery_base_delay)
        self.tasks: set[asyncio.Task[Any]] = set()
        self.deliveries: deque[DeliveryResult] = deque(maxlen=1000)
        self._seen_base: str | None = None

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30, connect=5))
        attempts, delay = self._delivery
        self.sender = EventSender(self._session, attempts=attempts, base_delay=delay)
        if self.requests is not None:
            self.spawn(self._resume())

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def drain(self) -> None:
        """Wait for background deliveries (used by tests and orderly shutdowns)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    # ---- addressing ------------------------------------------------------------------

    def base_url(self, request: web.Request, relative: str) -> str:
        """This API's root URL as the caller reached it (Host header and scheme)."""
        if not self.base_url_from_request and self.public_base_url:
            return self.public_base_url
        path = request.path
        prefix = path[: len(path) - len(relative)] if relative and path.endswith(relative) else ""
        base = f"{request.scheme}://{request.host}{prefix}".rstrip("/")
        self._seen_base = base
        return base

    def event_source(self, version: ApiVersion) -> str:
        base = self.public_base_url or self._seen_base or ""
        return f"{base}/{version}/events"

    # ---- rendering -------------------------------------------------------------------

    def as_version(self, version: ApiVersion, fp: Footprint) -> Footprint | None:
        if version == "2":
            return fp
        try:
            return self.to_v3(fp)
        except Exception as exc:  # noqa: BLE001 - a footprint v3 cannot express is skipped, not a 500
            log.warning("footprint %s has no v3 form: %s", fp.get("id"), exc)
            return None

    async def entries(
        self, *, after: str | None, limit: int, where: Predicate | None, ids: Collection[str] | None, documents: bool
    ) -> list[Entry]:
        if self._has_entries:
            return await self.source.entries(  # type: ignore[attr-defined]
                after=after, limit=limit, where=where, ids=ids, documents=documents)
        return [Entry.of(fp) for fp in await self.source.page(after=after, limit=limit, where=where, ids=ids)]

    async def _loaded(self, entries: list[Entry]) -> dict[str, Entry]:
        """Loaded entries for these (listed without documents): re-read, so a footprint
        that changed since the listing is rendered, and cached, under its new key."""
        if self._has_entries:
            return await self.source.documents([e.id for e in entries])  # type: ignore[attr-defined]
        found = {}
        for e in entries:
            if (fp := await self.source.get(e.id)) is not None:
                found[e.id] = Entry.of(fp)
        return found

    async def get_entry(self, footprint_id: str) -> Entry | None:
        if self._has_entries:
            return await self.source.get_entry(footprint_id)  # type: ignore[attr-defined]
        fp = await self.source.get(footprint_id)
        return Entry.of(fp) if fp is not None else None

    def _render_plain(self, version: ApiVersion, entry: Entry) -> bytes | None:
        if version == "2":
            if (stored := entry.plain_bytes()) is not None:
                return stored  # the stored bytes are the response: nothing to decode
            if entry.raw is None:
                return dumps(entry.footprint())  # a live dict (in-memory source): never cached
        cache, key = self.plain_cache, (version, "json", entry.key)
        if cache is not None and (hit := cache.get(key)) is not None:
            return hit
        mapped = self.as_version(version, entry.footprint())
        if mapped is None:
            return None
        rendered = dumps(mapped)
        if cache is not None:
            cache.put(key, rendered)
        return rendered

    async def render_entries(self, version: ApiVersion, fmt: str, entries: list[Entry]) -> list[bytes | None]:
        """Each entry rendered in ``version`` and ``fmt`` (None: no form in that version).

        Cached renderings are used as they are; a page's missing VCs are signed as one
        batch (in the signing executor, when one is configured)."""
        if fmt == "json":
            cache = self.plain_cache
        else:
            assert self.renderer is not None
            cache = self.renderer.cache
        out: list[bytes | None] = [None] * len(entries)
        missing: list[int] = []
        for i, entry in enumerate(entries):
            if fmt == "json" and entry.loaded:
                out[i] = self._render_plain(version, entry)
            elif cache is not None and (hit := cache.get((version, fmt, entry.key))) is not None:
                out[i] = hit
            else:
                missing.append(i)
        if not missing:
            return out
        unloaded = [entries[i] for i in missing if not entries[i].loaded]
        fresh = await self._loaded(unloaded) if unloaded else {}
        todo: list[tuple[int, tuple[Any, ...], Footprint | bytes]] = []
        raw_ok = version == "2" and fmt == "vc" and self.renderer is not None and self.renderer.takes_bytes
        for i in missing:
            entry = entries[i] if entries[i].loaded else fresh.get(entries[i].id)
            if entry is None:
                continue  # gone since it was listed
            if fmt == "json":
                out[i] = self._render_plain(version, entry)
                continue
            # a stored v2 footprint goes to the signer as its JSON bytes: decoded once, there
            body: Footprint | bytes | None = entry.plain_bytes() if raw_ok else None
            if body is None:
                body = self.as_version(version, entry.footprint())
            if body is not None:
                todo.append((i, (version, fmt, entry.key), body))
        if todo:
            assert self.renderer is not None
            signed = await self.renderer.sign_many([body for _, _, body in todo])
            for (i, key, _), rendered in zip(todo, signed):
                out[i] = rendered
                if cache is not None:
                    cache.put(key, rendered)
        return out

    def _items_cached(self, fmt: str) -> bool:
        """Whether renderings in ``fmt`` (other than stored v2 JSON) are cached per item."""
        if fmt == "vc":
            return self.renderer is not None and self.renderer.cache is not None
        return self.plain_cache is not None

    def _page_cacheable(self, version: ApiVersion, fmt: str) -> bool:
        """Whether whole pages in this rendering may be cached: only where each item's
        rendering is itself cached by its entry key (so a page cache changes nothing but
        speed), i.e. not for signing on the fly (VC cache off) or uncached plain renderings."""
        if self.page_cache is None:
            return False
        if fmt == "vc":
            return self.renderer is not None and self.renderer.cache is not None
        return version == "2" or self.plain_cache is not None

    async def list_page(
        self, version: ApiVersion, fmt: str, *, after: str | None, limit: int, where: Predicate | None,
        ids: Collection[str] | None,
    ) -> tuple[Page, bool, str | None]:
        """One ``ListFootprints`` page: (the page, whether more follow, the last id on it).

        With the page cache, the listing is read as key rows only (no documents, no
        entries) when the source offers it and nothing filters on content; the page is
        served from the cache when the same footprints, in the same stored versions, make
        it up in the same rendering (version, format). Otherwise it is rendered and, when
        every item on it came from the store (v2 JSON) or a rendering cache, cached.

        A source with ``listing_version()`` (SQLite: ``PRAGMA data_version``) saves the
        listing itself: for a cached page the host remembers the version it read before
        the listing, and while the version is the same the page is taken from the cache
        under the key it was found or admitted with. Any commit to the store in between,
        or the page leaving the cache, means the full path again."""
        cache = self.page_cache if self._page_cacheable(version, fmt) else None
        key: tuple[Any, ...] | None = None
        items: list[Entry]
        memo: tuple[Any, ...] | None = None
        token: Any = None
        if cache is not None and where is None and self._has_listing:
            # an unchanged store lists the same rows: while the source's version says
            # nothing was committed since, the page's key from the last time stands
            if self._listing_version is not None and (ids is None or ids.__class__ is frozenset):
                token = self._listing_version()
                if token is not None:
                    memo = (version, fmt, after, limit, ids)
                    known = self._listings.get(memo)
                    if known is not None:
                        if known[0] == token and (hit := cache.get(known[1])) is not None:
                            return hit, known[2], known[3]
                        del self._listings[memo]
            rows = await self.source.listing(after=after, limit=limit + 1, ids=ids)  # type: ignore[attr-defined]
        else:
            rows = None
        if rows is not None:
            more = len(rows) > limit
            rows = rows[:limit]
            last = rows[-1][0] if rows else None
            key = PageKey(version, fmt, tuple(rows))
            if (hit := cache.get(key)) is not None:  # type: ignore[union-attr]
                if memo is not None:
                    self._remember_listing(memo, (token, key, more, last))
                return hit, more, last
            entry_from_row = self.source.entry_from_row  # type: ignore[attr-defined]
            items = [entry_from_row(r) for r in rows]
        else:
            # v2 plain JSON is served from the stored documents; other renderings are cached
            # by the listing's keys, so the listing needs documents only for cache misses
            # (and always when nothing is cached: signing on the fly reads them in one query)
            items = await self.entries(after=after, limit=limit + 1, where=where, ids=ids,
                                       documents=fmt == "json" and version == "2" or not self._items_cached(fmt))
            more = len(items) > limit
            items = items[:limit]
            last = items[-1].id if items else None
            if cache is not None and (fmt != "json" or version != "2" or all(e.raw is not None for e in items)):
                key = PageKey(version, fmt, tuple(e.key for e in items))
                if (hit := cache.get(key)) is not None:
                    return hit, more, last
        parts = [r for r in await self.render_entries(version, fmt, items) if r is not None]
        body = b'{"data":[' + b",".join(parts) + b"]}"
        page = Page(body, content_digest(body), self.body_signer.sign(body) if self.body_signer else None,
                    len(items) if key is not None else 0)
        if key is not None:
            seen, h = self._pages_seen, hash(key)
            if h in seen:
                cache.put(key, page)  # type: ignore[union-attr]
                if memo is not None:
                    self._remember_listing(memo, (token, key, more, last))
            else:
                if len(seen) >= PAGES_SEEN:
                    del seen[next(iter(seen))]
                seen[h] = None
        return page, more, last

    def _remember_listing(self, memo: tuple[Any, ...], known: tuple[Any, ...]) -> None:
        listings = self._listings
        if len(listings) >= LISTINGS_KNOWN:
            del listings[next(iter(listings))]
        listings[memo] = known

    async def render(self, version: ApiVersion, fmt: str, fp: Footprint | Entry) -> bytes | None:
        entry = fp if isinstance(fp, Entry) else Entry.of(fp)
        return (await self.render_entries(version, fmt, [entry]))[0]

    def choose_format(self, request: web.Request, principal: Principal, requested: str | None = None) -> str:
        asked = requested or request.query.get("format")
        if asked is None and VC_MEDIA_TYPE in request.headers.get("Accept", ""):
            asked = "vc"
        if asked is None:
            return "vc" if principal.signed_delivery and self.renderer is not None else "json"
        if asked not in ("json", "vc"):
            raise bad_request(f"format must be 'json' or 'vc', got {asked!r}")
        if asked == "vc":
            if self.renderer is None:
                raise not_implemented("this host does not deliver footprints as verifiable credentials")
            if not (principal.signed_delivery or SCOPE_VC in principal.scopes):
                raise PactError(ErrorKind.ACCESS_DENIED, f"token lacks scope {SCOPE_VC!r} for signed delivery")
        return asked

    def respond_json(self, body: bytes, *, headers: dict[str, str] | None = None, page: Page | None = None) -> web.Response:
        """A JSON response with ``Content-Digest`` (and ``JWS-Signature``); ``page``: a
        rendered page whose digest and signature are already known (``body`` unused)."""
        if page is not None:
            body = page.body
            out = {"Content-Digest": page.digest}
            if page.signature is not None:
                out[SIGNATURE_HEADER] = page.signature
        else:
            out = {"Content-Digest": content_digest(body)}
            if self.body_signer is not None:
                out[SIGNATURE_HEADER] = self.body_signer.sign(body)
        if headers:
            out.update(headers)
        return web.Response(body=body, content_type="application/json", charset="utf-8", headers=out)

    # ---- events out ------------------------------------------------------------------

    async def answer(self, event: PactEvent, principal: Principal, partner: Partner, source: str,
                     handle: str | None = None) -> DeliveryResult:
        """`answer_request`, then tell the request log how it went (when the event is in one)."""
        try:
            result = await self.answer_request(event, principal, partner, source)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # finding the footprints failed: retried from the log, if any
            log.exception("answering %s event %s failed", event.kind.value, event.id)
            result = DeliveryResult(partner.name, event.id, False, 0, None, f"local error: {type(exc).__name__}")
        if handle is not None and self.requests is not None:
            try:
                await self.requests.outcome(handle, result)
            except Exception:  # noqa: BLE001 - the row stays leased; it is retried when the lease ends
                log.exception("could not record the outcome of request %s", handle)
        return result

    async def _resume(self) -> None:
        """Answer what the request log holds: what a restart left, and retries that are due."""
        assert self.requests is not None
        while True:
            try:
                for pending in await self.requests.due():
                    self.spawn(self.answer(pending.event, pending.principal, pending.partner, pending.source,
                                           pending.handle))
            except asyncio.CancelledError:
                raise
            except Exception:  # the store is not ready yet, or hiccuped: try again next round
                log.warning("could not read pending PACT requests; retrying", exc_info=True)
            await asyncio.sleep(self._resume_interval)

    async def answer_request(self, event: PactEvent, principal: Principal, partner: Partner, source: str) -> DeliveryResult:
        """Find what a RequestCreated event asks for and send Fulfilled or Rejected."""
        version = event.version
        fragment = event.data.get("pf") if isinstance(event.data.get("pf"), dict) else None
        criteria = V3Criteria.from_event_data({k: v for k, v in event.data.items() if k != "pf"}) if version == "3" else V3Criteria()

        def wanted(fp: Footprint) -> bool:
            return (fragment is None or fragment_matches(fragment, fp)) and criteria.matches(fp)

        found: list[Footprint] = []
        after: str | None = None
        while len(found) < MAX_REQUEST_MATCHES:
            batch = await self.source.page(after=after, limit=200, where=wanted, ids=principal.footprint_ids)
            for fp in batch:
                mapped = self.as_version(version, fp)
                if mapped is not None:
                    found.append(mapped)
            if len(batch) < 200:
                break
            after = batch[-1]["id"]
        if found:
            data: dict[str, Any] = {"requestEventId": event.id, "pfs": found[:MAX_REQUEST_MATCHES]}
            reply = build_event(version, EventKind.REQUEST_FULFILLED, source, data)
        else:
            error = {"code": "NotFound", "message": "no footprint matches the request's criteria"}
            reply = build_event(version, EventKind.REQUEST_REJECTED, source, {"requestEventId": event.id, "error": error})
        assert self.sender is not None
        result = await self.sender.deliver(partner, version, reply)
        self.deliveries.append(result)
        return result

    async def publish(self, footprint_ids: Iterable[str], versions: Iterable[ApiVersion] = ("2", "3")) -> list[DeliveryResult]:
        """Notify subscribed partners that these footprints were published or changed."""
        ids = list(dict.fromkeys(footprint_ids))
        if not ids or self.sender is None:
            return []
        jobs = []
        for version in versions:
            event_source = self.event_source(version)
            for partner in self.partners.subscribers(version):
                event = build_event(version, EventKind.PUBLISHED, event_source, {"pfIds": ids})
                jobs.append(self.sender.deliver(partner, version, event))
        results = list(await asyncio.gather(*jobs))
        self.deliveries.extend(results)
        return results


PACT_HOST = web.AppKey("pact_host", PactHost)


_VERSIONED = re.compile(r"/([23])/(?:footprints|events)(?:/|$)")


def _version_of(request: web.Request) -> ApiVersion:
    match = _VERSIONED.search(request.path)
    return "3" if match and match.group(1) == "3" else "2"


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except PactError as exc:
        return exc.response(_version_of(request))
    except web.HTTPNotFound:
        return PactError(ErrorKind.NOT_FOUND if "/footprints/" in request.path else ErrorKind.BAD_REQUEST,
                         f"no such resource: {request.path}").response(_version_of(request))
    except web.HTTPMethodNotAllowed as exc:
        resp = PactError(ErrorKind.BAD_REQUEST, f"method {request.method} not allowed here").response(_version_of(request))
        resp.set_status(405)
        resp.headers["Allow"] = ",".join(sorted(exc.allowed_methods))
        return resp
    except web.HTTPException:
        raise
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise
    except Exception:
        ref = uuid.uuid4().hex[:12]
        log.exception("internal error serving %s %s (ref %s)", request.method, request.path, ref)
        return PactError(ErrorKind.INTERNAL, f"internal error (reference {ref})").response(_version_of(request))


async def _principal(request: web.Request, host: PactHost) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise bad_request("missing Authorization: Bearer <access token>")
    if scheme.lower() != "bearer" or not token.strip():
        raise bad_request("Authorization must be 'Bearer <access token>'")
    return await host.auth.authenticate(token.strip())


def _parse_limit(raw: str | None, max_page: int) -> int:
    if raw is None or raw == "":
        return max_page
    if not raw.isdigit() or len(raw) > 30:
        raise bad_request(f"limit must be a positive integer, got {raw[:40]!r}")
    value = int(raw)
    if value < 1:
        raise bad_request("limit must be at least 1")
    return min(value, max_page)  # the host MAY return fewer; the Link header gives the rest


def _routes(version: ApiVersion) -> list[web.RouteDef]:
    async def list_footprints(request: web.Request) -> web.StreamResponse:
        host = request.app[PACT_HOST]
        principal = await _principal(request, host)
        principal.require(SCOPE_LIST)
        token = request.query.get("cursor")
        if token is not None:
            cur = host.cursors.decode(token, version=version)
            limit = _parse_limit(request.query.get("limit"), host.max_page) if "limit" in request.query else cur.limit
            query, after, fmt = cur.query, cur.after, host.choose_format(request, principal, cur.fmt)
        else:
            limit = _parse_limit(request.query.get("limit"), host.max_page)
            after, fmt = None, host.choose_format(request, principal)
            if version == "2":
                query = request.query.get("$filter", "")
            else:
                query = V3Criteria.from_query(request.query).to_pairs()
        if version == "2":
            where = parse_filter(query)
        else:
            criteria = V3Criteria.from_pairs(query)
            where = criteria.matches if criteria else None
        page, more, last = await host.list_page(version, fmt, after=after, limit=limit, where=where,
                                                ids=principal.footprint_ids)
        headers = {}
        if more and last is not None:
            next_cursor = host.cursors.encode(Cursor(version, last, limit, query, fmt))
            base = host.base_url(request, f"/{version}/footprints")
            # the cursor is base64url text and a dot: nothing in this query needs escaping
            link = f"{base}/{version}/footprints?limit={limit}&cursor={next_cursor}"
            headers["Link"] = f'<{link}>; rel="next"'
        return host.respond_json(b"", headers=headers, page=page)

    async def _load(request: web.Request, host: PactHost, principal: Principal) -> Entry:
        fid = request.match_info["id"]
        fp = await host.get_entry(fid) if len(fid) <= 200 else None
        if fp is None:
            raise PactError(ErrorKind.NOT_FOUND, f"no footprint with id {fid[:80]!r}")
        if not principal.may_read(fid):
            raise PactError(ErrorKind.ACCESS_DENIED, "this token does not grant access to that footprint")
        return fp

    async def get_footprint(request: web.Request) -> web.StreamResponse:
        host = request.app[PACT_HOST]
        principal = await _principal(request, host)
        principal.require(SCOPE_READ)
        fp = await _load(request, host, principal)
        fmt = host.choose_format(request, principal)
        rendered = await host.render(version, fmt, fp)
        if rendered is None:
            raise PactError(ErrorKind.NOT_FOUND, f"footprint {fp.id} cannot be represented in the v{version} data model")
        headers = {}
        if host.renderer is not None:
            base = host.base_url(request, f"/{version}/footprints/{fp.id}")
            headers["Link"] = f'<{base}/{version}/footprints/{fp.id}/credential>; rel="alternate"; type="{VC_MEDIA_TYPE}"'
        return host.respond_json(b'{"data":' + rendered + b"}", headers=headers)

    async def get_credential(request: web.Request) -> web.StreamResponse:
        host = request.app[PACT_HOST]
        principal = await _principal(request, host)
        principal.require(SCOPE_READ)
        fp = await _load(request, host, principal)
        host.choose_format(request, principal, "vc")
        rendered = await host.render(version, "vc", fp)
        if rendered is None:
            raise PactError(ErrorKind.NOT_FOUND, f"footprint {fp.id} cannot be represented in the v{version} data model")
        return web.Response(body=rendered, content_type=VC_MEDIA_TYPE, headers={"Content-Digest": content_digest(rendered)})

    async def post_event(request: web.Request) -> web.StreamResponse:
        host = request.app[PACT_HOST]
        principal = await _principal(request, host)
        principal.require(SCOPE_EVENTS)
        check_content_type(request.content_type)
        event = parse_event(await request.read(), version)
        if event.kind is EventKind.REQUEST_CREATED:
            partner = host.partners.for_request(event.source, principal.subject)
            if partner is None:
                raise bad_request(
                    f"cannot answer: no events endpoint is configured for requester {principal.subject!r} "
                    f"or source {event.source[:100]!r}"
                )
            if host.events is not None:
                await host.events.handle(event, principal)
            source = f"{host.base_url(request, f'/{version}/events')}/{version}/events"
            handle = None
            if host.requests is not None:  # kept before the 200, so the answer survives a restart
                handle = await host.requests.accepted(event, principal, partner, source)
                if handle is None:
                    log.info("RequestCreated %s from %s again: already accepted, answered once",
                             event.id, principal.subject)
                    return web.Response(status=200)
            host.spawn(host.answer(event, principal, partner, source, handle))
        elif host.events is not None:
            await host.events.handle(event, principal)
        else:
            log.info("accepted %s event %s from %s (no handler)", event.kind.value, event.id, principal.subject)
        return web.Response(status=200)

    prefix = f"/{version}"
    return [
        web.get(f"{prefix}/footprints", list_footprints, allow_head=False),
        web.get(f"{prefix}/footprints/", list_footprints, allow_head=False),
        web.get(f"{prefix}/footprints/{{id}}", get_footprint, allow_head=False),
        web.get(f"{prefix}/footprints/{{id}}/credential", get_credential, allow_head=False),
        web.post(f"{prefix}/events", post_event),
    ]


def create_pact_app(
    source: FootprintSource,
    auth: PactAuth,
    *,
    events: EventHandler | None = None,
    base_url_from_request: bool = True,
    public_base_url: str | None = None,
    partners: PartnerDirectory | None = None,
    signer: Signer | None = None,
    body_signer: DetachedJws | None = None,
    cursor_key: bytes | None = None,
    cursor_ttl: float = 3600.0,
    to_v3: Mapper | None = None,
    max_page: int = DEFAULT_MAX_PAGE,
    session: aiohttp.ClientSession | None = None,
    delivery_attempts: int = 5,
    delivery_base_delay: float = 0.5,
    v3_cache_size: int = 5_000,
    vc_cache_size: int = 20_000,
    vc_cache_bytes: int = 48 * 1024 * 1024,
    plain_cache_bytes: int = 16 * 1024 * 1024,
    sign_executor: Executor | None = None,
    sign_workers: int = 2,
    page_cache_bytes: int = 16 * 1024 * 1024,
    page_cache_size: int = 1_000,
    requests: RequestLog | None = None,
    resume_interval: float = 2.0,
) -> web.Application:
    """A PACT v2.3 + v3.0 host, mountable (``app.add_subapp('/api/pact', ...)``) or standalone.

    ``auth`` validates bearer tokens; if it can also issue them (``issue_token``, e.g.
    :class:`~connector.dataplane.auth.ClientCredentialsAuth`) the app serves
    ``/auth/token`` and OpenID discovery. ``partners`` says where RequestCreated answers
    and Published notifications go. ``cursor_key`` must be shared by replicas behind one
    load balancer so pagination links work on any of them.

    Render caches are LRUs bounded by count and bytes: ``vc_cache_size``/``vc_cache_bytes``
    for signed credentials, ``v3_cache_size``/``plain_cache_bytes`` for plain renderings
    that need a decode (v3 mappings, v2 bodies stored inside VCs). ``sign_executor``
    (with ``sign_workers`` batches per page) runs a synchronous signer off the event loop.
    ``page_cache_bytes``/``page_cache_size`` bound the cache of whole ``ListFootprints``
    bodies (with their digests), keyed by the page's footprint ids and stored versions and
    the rendering; 0 turns it off. Pages are cached only in renderings whose items are
    cached anyway (never when signing on the fly). ``requests`` keeps accepted
    ``RequestCreated`` events until answered (checked for due ones every ``resume_interval``
    seconds); without it answers live in memory only.
    """
    if not base_url_from_request and not public_base_url:
        raise ValueError("public_base_url is required when base_url_from_request is False")
    host = PactHost(
        source,
        auth,
        events=events,
        partners=partners,
        signer=signer,
        body_signer=body_signer,
        cursors=CursorCodec(cursor_key, ttl=cursor_ttl),
        to_v3=to_v3 or _default_to_v3,
        max_page=max_page,
        base_url_from_request=base_url_from_request,
        public_base_url=public_base_url,
        session=session,
        delivery_attempts=delivery_attempts,
        delivery_base_delay=delivery_base_delay,
        v3_cache_size=v3_cache_size,
        vc_cache_size=vc_cache_size,
        vc_cache_bytes=vc_cache_bytes,
        plain_cache_bytes=plain_cache_bytes,
        sign_executor=sign_executor,
        sign_workers=sign_workers,
        page_cache_bytes=page_cache_bytes,
        page_cache_size=page_cache_size,
        requests=requests,
        resume_interval=resume_interval,
    )
    app = web.Application(middlewares=[_errors])
    app[PACT_HOST] = host

    async def lifecycle(_: web.Application) -> Any:
        await host.start()
        yield
        await host.stop()

    app.cleanup_ctx.append(lifecycle)
    add_oauth_routes(app, auth)
    for version in ("2", "3"):
        app.add_routes(_routes(version))  # type: ignore[arg-type]
    return app
