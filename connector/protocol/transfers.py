"""Transfer processes, both roles, for `HttpData-PULL`: the same pattern as negotiations.

The provider starts a requested transfer in the same transaction that records the request:
it checks the agreement (ours, finalized, for this consumer), mints an EDR token bound to
the agreement and transfer, and queues a TransferStartMessage whose DataAddress carries the
data plane endpoint and the token. Suspension, completion and termination revoke the token.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from ..auth import Caller
from ..dsp import transfer as machine
from ..dsp.errors import ProtocolError
from ..dsp.messages import (
    DataAddress,
    DspMessage,
    TransferCompletionMessage,
    TransferProcess,
    TransferRequestMessage,
    TransferStartMessage,
    TransferSuspensionMessage,
    TransferTerminationMessage,
)
from ..dsp.states import Direction, NegState, Role, TransferState
from ..logs import bound
from ..store import Edr, Negotiation, OutboxMessage, Store, Transfer
from ..store.errors import AlreadyExists
from . import policy_port, processes
from .client import PeerError, PeerResponse
from .edr import HTTP_ENDPOINT_TYPE, EdrTokens, consumer_edr
from .events import EventNotifier, app_callbacks
from .outbox import Envelope, OutboxSender
from .processes import new_pid

log = logging.getLogger(__name__)

KIND = "transfer"
PULL = "HttpData-PULL"
SUPPORTED_FORMATS = frozenset({PULL, "HttpData-PULL-v3", "HttpData-PULL-v2"})


def ack_of(rec: Transfer, state: TransferState | None = None) -> TransferProcess:
    return machine.ack(consumer_pid=rec.consumer_pid or "", provider_pid=rec.provider_pid or "",
                       state=state or TransferState(rec.state))


class TransferManager:
    def __init__(self, store: Store, *, participant_id: str, protocol_url: str, dataplane_url: str,
                 tokens: EdrTokens, outbox: OutboxSender, events: EventNotifier,
                 on_transition: Callable[[str, str], None] = lambda p, s: None) -> None:
        self.store = store
        self.participant_id = participant_id
        self.protocol_url = protocol_url
        self.dataplane_url = dataplane_url
        self.tokens = tokens
        self.outbox = outbox
        self.events = events
        self._on_transition = on_transition
        outbox.hooks[KIND] = self

    # ------------------------------------------------------------------ helpers (as in negotiations)

    async def _enqueue(self, tx: Store, rec: Transfer, message: DspMessage, path: str) -> None:
        await processes.enqueue(self.outbox, tx, KIND, rec, message, path)

    @staticmethod
    def _peer_path(rec: Transfer, suffix: str) -> str:
        # the peer's pid when known already (sent as queued), else filled in at send time
        pid = (rec.provider_pid or "{providerPid}") if rec.role == Role.CONSUMER else (rec.consumer_pid or "{consumerPid}")
        return f"/transfers/{pid}{suffix}"

    async def _send(self, tx: Store, rec: Transfer, message: DspMessage, suffix: str) -> TransferState:
        new = machine.apply(TransferState(rec.state), Role(rec.role), Direction.SEND, message)
        await self._enqueue(tx, rec, message, self._peer_path(rec, suffix))
        return new

    def _changed(self, rec: Transfer) -> None:
        self._on_transition(KIND, rec.state)
        self.events.transfer_changed(rec)

    async def _in_tx(self, work: Callable[[Store], Awaitable[tuple[Transfer | None, str, Any]]]) -> Any:
        return await processes.run_in_tx(self.store, self.outbox, work, what="transfer", changed=self._changed)

    def _pids(self, rec: Transfer) -> dict[str, str]:
        return {"consumer_pid": rec.consumer_pid or "{consumerPid}", "provider_pid": rec.provider_pid or "{providerPid}"}

    async def _start_message(self, tx: Store, rec: Transfer) -> TransferStartMessage:
        """Provider: a fresh EDR for this transfer and the start message carrying it."""
        agreement = await tx.agreements.get(rec.agreement_id)
        asset_id = agreement.asset_id if agreement is not None else ""
        token, jti, expires = self.tokens.mint(audience=rec.counter_party_id, agreement_id=rec.agreement_id,
                                               transfer_id=rec.id, asset_id=asset_id)
        await tx.edrs.save(Edr(transfer_id=rec.id, agreement_id=rec.agreement_id, token_id=jti,
                               endpoint=self.dataplane_url, expires_at=expires))
        address = DataAddress.with_properties(
            HTTP_ENDPOINT_TYPE, self.dataplane_url, authorization=token, authType="bearer",
            expiresAt=expires.strftime("%Y-%m-%dT%H:%M:%SZ"), agreementId=rec.agreement_id)
        return TransferStartMessage(data_address=address, **self._pids(rec))

    # ------------------------------------------------------------------ management actions

    async def start_pull(self, tx: Store, negotiation: Negotiation) -> Transfer:
        """Consumer, inside the transaction that finalizes ``negotiation``: request a pull
        transfer under its agreement (the EDR flow of ``POST /v3/edrs``). Written and queued in
        that transaction, so a crash cannot leave a finalized negotiation without its transfer."""
        pid = new_pid()
        agreement_id = negotiation.agreement_id or ""
        msg = TransferRequestMessage(consumer_pid=pid, agreement_id=agreement_id, format=PULL,
                                     callback_address=self.protocol_url)
        rec = Transfer(id=pid, role=Role.CONSUMER.value, consumer_pid=pid, provider_pid=None,
                       counter_party_id=negotiation.counter_party_id,
                       counter_party_address=negotiation.counter_party_address, agreement_id=agreement_id,
                       transfer_type=PULL, state=TransferState.REQUESTED.value,
                       callback_addresses=app_callbacks(negotiation.callback_addresses))
        machine.apply(None, Role.CONSUMER, Direction.SEND, msg)
        stored = await tx.transfers.create(rec)
        await self._enqueue(tx, stored, msg, "/transfers/request")
        processes.after_commit(lambda: self._changed(stored))  # metrics and app callbacks: REQUESTED
        log.info("EDR flow: transfer %s requested under agreement %s", pid, agreement_id)
        return stored

    async def initiate(self, *, counter_party_address: str, agreement_id: str, transfer_type: str,
                       callback_addresses: list[dict[str, Any]]) -> Transfer:
        """Consumer: request a transfer under one of our finalized agreements."""
        if transfer_type not in SUPPORTED_FORMATS:
            raise ProtocolError(400, "UnsupportedTransferType",
                                f"transfer type {transfer_type!r} is not supported; use {PULL}")
        agreement = await self.store.agreements.get(agreement_id)
        if agreement is None or agreement.assignee != self.participant_id:
            raise ProtocolError(400, "UnknownAgreement", f"no agreement {agreement_id!r} where we are the consumer")
        negotiation = await self.store.negotiations.get(agreement.negotiation_id)
        if negotiation is None or negotiation.state != NegState.FINALIZED:
            raise ProtocolError(400, "AgreementNotFinalized",
                                f"the negotiation of agreement {agreement_id!r} is not FINALIZED")
        pid = new_pid()
        msg = TransferRequestMessage(consumer_pid=pid, agreement_id=agreement_id, format=transfer_type,
                                     callback_address=self.protocol_url)
        rec = Transfer(id=pid, role=Role.CONSUMER.value, consumer_pid=pid, provider_pid=None,
                       counter_party_id=agreement.assigner, counter_party_address=counter_party_address,
                       agreement_id=agreement_id, transfer_type=transfer_type,
                       state=TransferState.REQUESTED.value, callback_addresses=callback_addresses)

        async def work(tx: Store) -> tuple[Transfer, str, Transfer]:
            machine.apply(None, Role.CONSUMER, Direction.SEND, msg)
            stored = await tx.transfers.create(rec)
            await self._enqueue(tx, stored, msg, "/transfers/request")
            return stored, "", stored

        with bound(consumerPid=pid):
            return await self._in_tx(work)

    async def _act(self, transfer_id: str, build: Callable[[Store, Transfer], Awaitable[tuple[DspMessage, str]]],
                   after: Callable[[Store, Transfer, TransferState], Awaitable[Transfer]] | None = None,
                   detail: str | None = None) -> Transfer:
        async def work(tx: Store) -> tuple[Transfer, str, Transfer]:
            rec = await tx.transfers.get(transfer_id)
            if rec is None:
                raise ProtocolError(404, "NotFound", f"no transfer process {transfer_id!r}")
            message, suffix = await build(tx, rec)
            new = await self._send(tx, rec, message, suffix)
            updated = await tx.transfers.update(replace(rec, state=new.value, error_detail=detail or rec.error_detail))
            if after is not None:
                updated = await after(tx, updated, new)
            return updated, rec.state, updated

        return await self._in_tx(work)

    async def terminate(self, transfer_id: str, reason: str) -> Transfer:
        async def build(tx: Store, rec: Transfer) -> tuple[DspMessage, str]:
            return TransferTerminationMessage(code="Terminated", reason=[reason or "terminated"], **self._pids(rec)), \
                "/termination"
        return await self._act(transfer_id, build, self._revoke, detail=reason or None)

    async def suspend(self, transfer_id: str, reason: str) -> Transfer:
        async def build(tx: Store, rec: Transfer) -> tuple[DspMessage, str]:
            return TransferSuspensionMessage(code="Suspended", reason=[reason or "suspended"], **self._pids(rec)), \
                "/suspension"
        return await self._act(transfer_id, build, self._revoke)

    async def complete(self, transfer_id: str) -> Transfer:
        async def build(tx: Store, rec: Transfer) -> tuple[DspMessage, str]:
            return TransferCompletionMessage(**self._pids(rec)), "/completion"
        return await self._act(transfer_id, build, self._revoke)

    async def resume(self, transfer_id: str) -> Transfer:
        """SUSPENDED -> STARTED. The provider sends a fresh DataAddress; the consumer asks for one."""
        async def build(tx: Store, rec: Transfer) -> tuple[DspMessage, str]:
            if rec.role == Role.PROVIDER:
                return await self._start_message(tx, rec), "/start"
            return TransferStartMessage(**self._pids(rec)), "/start"
        return await self._act(transfer_id, build)

    async def _revoke(self, tx: Store, rec: Transfer, new: TransferState) -> Transfer:
        await tx.edrs.revoke(rec.id)
        return rec

    # ------------------------------------------------------------------ receiving

    async def find_for_caller(self, tx: Store, caller: Caller, pid: str, role: Role | None) -> Transfer:
        rec: Transfer = await processes.find_for_caller(tx.transfers, caller, pid, role, "transfer process")
        return rec

    async def peer_view(self, caller: Caller, pid: str) -> TransferProcess:
        return ack_of(await self.find_for_caller(self.store, caller, pid, None))

    async def on_initial_request(self, caller: Caller, msg: TransferRequestMessage) -> tuple[TransferProcess, bool]:
        """Provider: check the agreement, record the request, and start the transfer at once."""
        machine.apply(None, Role.PROVIDER, Direction.RECEIVE, msg)
        if msg.format not in SUPPORTED_FORMATS:
            raise ProtocolError(400, "UnsupportedTransferType", f"format {msg.format!r} is not supported; use {PULL}")
        agreement = await self.store.agreements.get(msg.agreement_id)
        if agreement is None or agreement.assigner != self.participant_id or agreement.assignee != caller.participant_id:
            raise ProtocolError(404, "UnknownAgreement", f"no agreement {msg.agreement_id!r} with you")
        negotiation = await self.store.negotiations.get(agreement.negotiation_id)
        if negotiation is None or negotiation.state != NegState.FINALIZED:
            raise ProtocolError(400, "AgreementNotFinalized", f"agreement {msg.agreement_id!r} is not finalized")
        verdict = policy_port.evaluate_agreement(agreement.policy, caller, target=agreement.asset_id,
                                                 signed_at=agreement.signed_at)
        if not verdict.permitted:
            raise ProtocolError(403, "PolicyDenied", "the agreement does not permit this transfer now: "
                                + "; ".join(verdict.reasons or ("denied by the agreement policy",)))
        pid = new_pid()
        rec = Transfer(id=pid, role=Role.PROVIDER.value, consumer_pid=msg.consumer_pid, provider_pid=pid,
                       counter_party_id=caller.participant_id, counter_party_address=msg.callback_address.rstrip("/"),
                       agreement_id=msg.agreement_id, transfer_type=msg.format,
                       state=TransferState.REQUESTED.value)

        async def work(tx: Store) -> tuple[Transfer, str, tuple[TransferProcess, bool]]:
            try:
                stored, created = await tx.transfers.create_or_get(rec)
            except AlreadyExists as exc:
                raise ProtocolError(400, "DuplicatePid", str(exc)) from None
            if not created:
                return stored, stored.state, (ack_of(stored), False)
            start = await self._start_message(tx, stored)
            new = await self._send(tx, stored, start, "/start")
            started = await tx.transfers.update(replace(stored, state=new.value))
            await tx.audit.append("transfer.started", {"transferId": pid, "agreementId": msg.agreement_id,
                                                       "role": "provider", "consumer": caller.participant_id})
            return started, "", (ack_of(stored, TransferState.REQUESTED), True)

        with bound(consumerPid=msg.consumer_pid, providerPid=pid):
            return await self._in_tx(work)

    async def on_message(self, caller: Caller, pid: str, msg: DspMessage) -> TransferProcess:
        """Start / completion / suspension / termination about an existing transfer (either role)."""
        async def work(tx: Store) -> tuple[Transfer, str, TransferProcess]:
            rec = await self.find_for_caller(tx, caller, pid, None)
            for name, ours, theirs in (("consumerPid", rec.consumer_pid, getattr(msg, "consumer_pid", None)),
                                       ("providerPid", rec.provider_pid, getattr(msg, "provider_pid", None))):
                if ours and theirs and ours != theirs:
                    raise ProtocolError(404, "NotFound", f"{name} {theirs!r} does not belong to this transfer")
            state, role = TransferState(rec.state), Role(rec.role)
            if isinstance(msg, TransferStartMessage) and state is TransferState.STARTED and role is Role.CONSUMER:
                # The provider's answer to our resumption, or a resend: take the new address.
                updated = await self._consumer_started(tx, rec, msg, state)
                return updated, rec.state, ack_of(updated)
            if machine.is_retry(state, role, Direction.RECEIVE, msg):
                return rec, rec.state, ack_of(rec)
            new = machine.apply(state, role, Direction.RECEIVE, msg)
            if isinstance(msg, TransferStartMessage):
                if role is Role.CONSUMER:
                    updated = await self._consumer_started(tx, rec, msg, new)
                else:  # the consumer resumes: hand it a fresh token
                    rec = await tx.transfers.update(replace(rec, state=new.value))
                    start = await self._start_message(tx, rec)
                    await self._enqueue(tx, rec, start, self._peer_path(rec, "/start"))
                    updated = rec
            else:
                detail = rec.error_detail
                reasons = getattr(msg, "reason", None)
                if isinstance(msg, TransferTerminationMessage):
                    text = "; ".join(r if isinstance(r, str) else str(r) for r in (reasons or []))
                    detail = (f"{msg.code}: " if msg.code else "") + (text or "terminated by the peer")
                    await tx.outbox.cancel_for_process(rec.id, "transfer terminated by the peer")
                await tx.edrs.revoke(rec.id)
                updated = await tx.transfers.update(replace(rec, state=new.value, error_detail=detail,
                                                            provider_pid=rec.provider_pid or getattr(msg, "provider_pid", None)))
            return updated, rec.state, ack_of(updated, new)

        with bound(consumerPid=getattr(msg, "consumer_pid", None), providerPid=getattr(msg, "provider_pid", None)):
            return await self._in_tx(work)

    async def _consumer_started(self, tx: Store, rec: Transfer, msg: TransferStartMessage,
                                new: TransferState) -> Transfer:
        address = msg.data_address.dump() if msg.data_address is not None else rec.data_address
        if address:
            edr = consumer_edr(rec.id, rec.agreement_id, address)
            if edr is not None:
                await tx.edrs.save(edr)
        return await tx.transfers.update(replace(rec, state=new.value, data_address=address,
                                                 provider_pid=rec.provider_pid or msg.provider_pid))

    # ------------------------------------------------------------------ outbox hooks

    async def render(self, row: OutboxMessage, envelope: Envelope) -> tuple[str, dict[str, Any]] | None:
        return await processes.render(self.store.transfers, row, envelope)

    async def delivered(self, tx: Store, row: OutboxMessage, envelope: Envelope, response: PeerResponse) -> None:
        """Remember the providerPid the provider's ACK names."""
        await processes.remember_provider_pid(tx.transfers, row, envelope, response, "TransferRequestMessage")

    async def rejected(self, row: OutboxMessage, envelope: Envelope, error: PeerError) -> None:
        detail = f"peer refused {envelope.message.get('@type')}: {'; '.join(error.peer_reasons())}"

        async def work(tx: Store) -> tuple[Transfer | None, str, None]:
            rec = await tx.transfers.get(row.process_id)
            if rec is None or TransferState(rec.state) in machine.TERMINAL:
                return None, "", None
            if (envelope.message.get("@type") == "TransferStartMessage" and rec.role == "provider"
                    and rec.state == TransferState.STARTED.value):
                # The consumer completed or terminated while our (re)start was in flight: its own
                # completion/termination message decides the final state. Terminating here would
                # leave the two sides disagreeing (consumer COMPLETED, provider TERMINATED).
                await tx.edrs.revoke(rec.id)
                return None, "", None
            await tx.outbox.cancel_for_process(rec.id, detail)
            await tx.edrs.revoke(rec.id)
            updated = await tx.transfers.update(replace(rec, state=TransferState.TERMINATED.value, error_detail=detail))
            return updated, rec.state, None

        await self._in_tx(work)
