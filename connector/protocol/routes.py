"""DSP 2025-1 HTTP bindings, provider endpoints and consumer callbacks under one base.

Handlers only translate: authenticate the caller, parse and schema-check the message
(`connector.dsp.messages.parse`, which accepts EDC's forms), hand it to the process manager,
and answer with its ACK. Refusals are `ProtocolError`s, rendered by the app's middleware as
`CatalogError` / `ContractNegotiationError` / `TransferError` bodies.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from aiohttp import web

from ..app import bind_pids, plane, read_json
from ..auth import PENDING_REPLAY, AuthError, Caller
from ..dsp.catalog import parse_filter
from ..dsp.errors import ProtocolError
from ..dsp.messages import (
    CatalogRequestMessage,
    ContractAgreementMessage,
    ContractAgreementVerificationMessage,
    ContractNegotiationEventMessage,
    ContractNegotiationTerminationMessage,
    ContractOfferMessage,
    ContractRequestMessage,
    DspMessage,
    TransferCompletionMessage,
    TransferRequestMessage,
    TransferStartMessage,
    TransferSuspensionMessage,
    TransferTerminationMessage,
    parse,
)

M = TypeVar("M", bound=DspMessage)
log = logging.getLogger(__name__)
MAX_PAGE = 200


_DEFER = web.RequestKey("kakehashi_defer_replay", bool)
_PENDING = web.RequestKey("kakehashi_pending_replay", tuple)


async def caller_of(request: web.Request) -> Caller:
    """The authenticated caller. Under `records_replay_in_tx` the token id is recorded in the
    transaction of the state change the message causes (see `PendingReplay`)."""
    auth = plane(request).authenticator
    try:
        deferring = getattr(auth, "authenticate_deferring_replay", None)
        if deferring is not None and request.get(_DEFER):
            caller, pending = await deferring(request)
            if pending is not None:
                request[_PENDING] = (pending, PENDING_REPLAY.set(pending))
            return caller
        return await auth.authenticate(request)
    except AuthError as exc:
        log.warning("refused %s %s (%d): %s", request.method, request.path, exc.status, exc.reason)
        raise ProtocolError(exc.status, "Unauthorized" if exc.status == 401 else "Forbidden", exc.reason) from None


def records_replay_in_tx(handler: Any) -> Any:
    """For handlers whose message changes a process in one transaction (`run_in_tx`): the
    caller's token id is recorded in that transaction. Whatever path the handler takes, no
    answer leaves before the token id is recorded: if no transaction recorded it, it is
    recorded here, and a success answer to a replayed token becomes a 401."""
    async def wrapped(request: web.Request) -> web.StreamResponse:
        request[_DEFER] = True
        try:
            response = await handler(request)
        except BaseException:
            await _record_pending(request)
            raise
        finally:
            held = request.get(_PENDING)
            if held is not None:
                PENDING_REPLAY.reset(held[1])
        if not await _record_pending(request):
            reason = request[_PENDING][0].reason
            log.warning("refused %s %s (401): %s", request.method, request.path, reason)
            raise ProtocolError(401, "Unauthorized", reason)
        return response

    wrapped.__name__ = getattr(handler, "__name__", "handler")
    return wrapped


async def _record_pending(request: web.Request) -> bool:
    held = request.get(_PENDING)
    if held is None or held[0].recorded:
        return True
    try:
        return bool(await plane(request).authenticator.record_replay(held[0]))  # type: ignore[attr-defined]
    except Exception:
        log.exception("could not record the token id of %s %s", request.method, request.path)
        return False


async def message_of(request: web.Request, expect: type[M]) -> M:
    body = await read_json(request)
    if isinstance(body, dict):
        bind_pids(request, consumerPid=_str(body.get("consumerPid")), providerPid=_str(body.get("providerPid")))
    return parse(body, expect)  # type: ignore[return-value]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def ack(model: DspMessage, status: int = 200) -> web.Response:
    return web.json_response(model.to_dict(), status=status)


def _int_param(request: web.Request, name: str, default: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ProtocolError(400, "BadParameter", f"query parameter {name} must be an integer") from None
    if not 0 <= value <= high:
        raise ProtocolError(400, "BadParameter", f"query parameter {name} must be between 0 and {high}")
    return value


# ---------------------------------------------------------------------- catalog

async def catalog_request(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    message = await message_of(request, CatalogRequestMessage)
    criteria = parse_filter(message.filter)
    offset = _int_param(request, "offset", 0, 10**9)
    limit = _int_param(request, "limit", 50, MAX_PAGE) or 50
    body, more = await plane(request).catalog.catalog(caller, offset=offset, limit=limit, criteria=criteria)
    headers = {}
    links = []
    if more:
        links.append(f'<{request.url.with_query(offset=offset + limit, limit=limit)}>; rel="next"')
    if offset > 0:
        links.append(f'<{request.url.with_query(offset=max(0, offset - limit), limit=limit)}>; rel="previous"')
    if links:
        headers["Link"] = ", ".join(links)
    return web.json_response(body, headers=headers)


async def catalog_dataset(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    return web.json_response(await plane(request).catalog.dataset(caller, request.match_info["id"]))


# ---------------------------------------------------------------------- negotiations

async def negotiation_get(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    pid = request.match_info["pid"]
    bind_pids(request, providerPid=pid)
    return ack(await plane(request).negotiations.peer_view(caller, pid))


async def negotiation_initial_request(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    msg = await message_of(request, ContractRequestMessage)
    if msg.provider_pid is not None:
        raise ProtocolError(400, "MalformedMessage",
                            "a request naming a providerPid belongs at /negotiations/{providerPid}/request")
    answer, created = await plane(request).negotiations.on_initial_request(caller, msg)
    return ack(answer, 201 if created else 200)


async def negotiation_request(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    msg = await message_of(request, ContractRequestMessage)
    return ack(await plane(request).negotiations.on_request(caller, request.match_info["pid"], msg))


async def negotiation_initial_offer(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    msg = await message_of(request, ContractOfferMessage)
    if msg.consumer_pid is not None:
        raise ProtocolError(400, "MalformedMessage",
                            "an offer naming a consumerPid belongs at /negotiations/{consumerPid}/offers")
    answer, created = await plane(request).negotiations.on_initial_offer(caller, msg)
    return ack(answer, 201 if created else 200)


async def negotiation_offer(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    msg = await message_of(request, ContractOfferMessage)
    return ack(await plane(request).negotiations.on_offer(caller, request.match_info["pid"], msg))


async def negotiation_agreement(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    msg = await message_of(request, ContractAgreementMessage)
    return ack(await plane(request).negotiations.on_agreement(caller, request.match_info["pid"], msg))


async def negotiation_event(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    msg = await message_of(request, ContractNegotiationEventMessage)
    return ack(await plane(request).negotiations.on_event(caller, request.match_info["pid"], msg))


async def negotiation_verification(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    msg = await message_of(request, ContractAgreementVerificationMessage)
    return ack(await plane(request).negotiations.on_verification(caller, request.match_info["pid"], msg))


async def negotiation_termination(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    msg = await message_of(request, ContractNegotiationTerminationMessage)
    return ack(await plane(request).negotiations.on_termination(caller, request.match_info["pid"], msg))


# ---------------------------------------------------------------------- transfers

async def transfer_get(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    pid = request.match_info["pid"]
    return ack(await plane(request).transfers.peer_view(caller, pid))


async def transfer_initial_request(request: web.Request) -> web.Response:
    caller = await caller_of(request)
    msg = await message_of(request, TransferRequestMessage)
    answer, created = await plane(request).transfers.on_initial_request(caller, msg)
    return ack(answer, 201 if created else 200)


def _transfer_message(kind: type[M]) -> Any:
    async def handler(request: web.Request) -> web.Response:
        caller = await caller_of(request)
        msg = await message_of(request, kind)
        return ack(await plane(request).transfers.on_message(caller, request.match_info["pid"], msg))

    handler.__name__ = f"transfer_{kind.__name__}"
    return handler


def dsp_routes(base: str) -> list[web.AbstractRouteDef]:
    return [
        web.post(base + "/catalog/request", catalog_request),
        web.get(base + "/catalog/datasets/{id}", catalog_dataset),
        web.get(base + "/negotiations/{pid}", negotiation_get),
        web.post(base + "/negotiations/request", records_replay_in_tx(negotiation_initial_request)),
        web.post(base + "/negotiations/offers", records_replay_in_tx(negotiation_initial_offer)),
        web.post(base + "/negotiations/{pid}/request", records_replay_in_tx(negotiation_request)),
        web.post(base + "/negotiations/{pid}/offers", records_replay_in_tx(negotiation_offer)),
        web.post(base + "/negotiations/{pid}/agreement", records_replay_in_tx(negotiation_agreement)),
        web.post(base + "/negotiations/{pid}/agreement/verification", records_replay_in_tx(negotiation_verification)),
        web.post(base + "/negotiations/{pid}/events", records_replay_in_tx(negotiation_event)),
        web.post(base + "/negotiations/{pid}/termination", records_replay_in_tx(negotiation_termination)),
        web.get(base + "/transfers/{pid}", transfer_get),
        web.post(base + "/transfers/request", records_replay_in_tx(transfer_initial_request)),
        web.post(base + "/transfers/{pid}/start", records_replay_in_tx(_transfer_message(TransferStartMessage))),
        web.post(base + "/transfers/{pid}/completion", records_replay_in_tx(_transfer_message(TransferCompletionMessage))),
        web.post(base + "/transfers/{pid}/suspension", records_replay_in_tx(_transfer_message(TransferSuspensionMessage))),
        web.post(base + "/transfers/{pid}/termination", records_replay_in_tx(_transfer_message(TransferTerminationMessage))),
    ]
