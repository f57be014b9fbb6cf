"""Contract negotiations, both roles: apply the pure state machine, persist, queue, move on.

Every incoming message is handled in one store transaction: look the process up, check the
transition (`connector.dsp.negotiation`), take the next step our role owes right away (the
provider agrees or refuses after a request, the consumer verifies after an agreement, the
provider finalizes after a verification), and queue the resulting message in the outbox.
The commit makes the decision durable together with the message it causes; the outbox sender
is then kicked, so a negotiation between two idle connectors runs at message speed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..auth import Caller
from ..dsp import negotiation as machine
from ..dsp.errors import ProtocolError
from ..dsp.messages import (
    ContractAgreementMessage,
    ContractAgreementVerificationMessage,
    ContractNegotiation,
    ContractNegotiationEventMessage,
    ContractNegotiationTerminationMessage,
    ContractOfferMessage,
    ContractRequestMessage,
    DspMessage,
    Offer,
    timestamp_now,
)
from ..dsp.states import Direction, NegState, Role
from ..logs import bound
from ..store import Agreement, Negotiation, OutboxMessage, Store, utcnow
from ..store.errors import AlreadyExists
from . import policy_port, processes
from .catalog import CatalogService
from .client import PeerError, PeerResponse
from .events import EventNotifier, auto_pull
from .outbox import Envelope, OutboxSender
from .processes import new_pid

log = logging.getLogger(__name__)

KIND = "negotiation"


@dataclass
class Plan:
    """What the provider will do about a request: agree, counter-offer or refuse."""

    kind: str  # "agree" | "counter" | "refuse"
    code: str = ""
    reasons: list[str] = field(default_factory=list)
    offer: Offer | None = None
    policy: Any = None
    asset_id: str = ""
    offer_id: str = ""


def ack_of(rec: Negotiation, state: NegState | None = None) -> ContractNegotiation:
    return machine.ack(consumer_pid=rec.consumer_pid or "", provider_pid=rec.provider_pid or "",
                       state=state or NegState(rec.state))


class NegotiationManager:
    def __init__(self, store: Store, *, participant_id: str, protocol_url: str, catalog: CatalogService,
                 outbox: OutboxSender, events: EventNotifier,
                 on_transition: Callable[[str, str], None] = lambda p, s: None) -> None:
        self.store = store
        self.participant_id = participant_id
        self.protocol_url = protocol_url
        self.catalog = catalog
        self.outbox = outbox
        self.events = events
        self._on_transition = on_transition
        #: Consumer: called inside the transaction that finalizes a negotiation carrying the
        #: AUTO_PULL callback (the EDR flow: TransferManager.start_pull).
        self.after_finalized: Callable[[Store, Negotiation], Awaitable[Any]] | None = None
        outbox.hooks[KIND] = self

    # ------------------------------------------------------------------ helpers

    async def _enqueue(self, tx: Store, rec: Negotiation, message: DspMessage, path: str) -> None:
        await processes.enqueue(self.outbox, tx, KIND, rec, message, path)

    def _peer_path(self, rec: Negotiation, suffix: str) -> str:
        """Where the peer takes a message about this negotiation: the peer's pid if we know it
        already (the message is then sent as queued), else a placeholder filled in at send time."""
        if rec.role == Role.CONSUMER:
            return "/negotiations/" + (rec.provider_pid or "{providerPid}") + suffix
        return "/negotiations/" + (rec.consumer_pid or "{consumerPid}") + suffix

    async def _send(self, tx: Store, rec: Negotiation, message: DspMessage, path: str) -> NegState:
        """Check that our role may send ``message`` now, queue it, and return the new state."""
        new = machine.apply(NegState(rec.state), Role(rec.role), Direction.SEND, message)
        await self._enqueue(tx, rec, message, path)
        return new

    def _changed(self, rec: Negotiation) -> None:
        """After a commit that changed the state: tell subscribers."""
        self._on_transition(KIND, rec.state)
        self.events.negotiation_changed(rec)

    async def _in_tx(self, work: Callable[[Store], Awaitable[tuple[Negotiation | None, str, Any]]]) -> Any:
        """Run ``work`` in a transaction, retried when a replica updated the row first."""
        return await processes.run_in_tx(self.store, self.outbox, work, what="negotiation", changed=self._changed)

    # ------------------------------------------------------------------ consumer: start, accept, terminate

    async def initiate(self, *, counter_party_address: str, counter_party_id: str, offer: dict[str, Any],
                       callback_addresses: list[dict[str, Any]]) -> Negotiation:
        """Consumer: send a ContractRequestMessage for ``offer`` (DSP compact, with ``@id`` and
        ``target``) to the provider whose DSP base is ``counter_party_address``."""
        try:
            parsed_offer = Offer.model_validate(offer)
        except ValueError as exc:
            raise ProtocolError(400, "InvalidOffer", f"the offer is not a valid ODRL offer: {exc}") from None
        if not parsed_offer.target:
            raise ProtocolError(400, "InvalidOffer", "the offer must name its target (the dataset/asset id)")
        pid = new_pid()
        message = ContractRequestMessage(consumer_pid=pid, offer=parsed_offer, callback_address=self.protocol_url)
        rec = Negotiation(id=pid, role=Role.CONSUMER.value, consumer_pid=pid, provider_pid=None,
                          counter_party_id=counter_party_id, counter_party_address=counter_party_address,
                          state=NegState.REQUESTED.value, offer=parsed_offer.dump(),
                          callback_addresses=callback_addresses)

        async def work(tx: Store) -> tuple[Negotiation, str, Negotiation]:
            machine.apply(None, Role.CONSUMER, Direction.SEND, message)
            stored = await tx.negotiations.create(rec)
            await self._enqueue(tx, stored, message, "/negotiations/request")
            return stored, "", stored

        with bound(consumerPid=pid):
            created = await self._in_tx(work)
            log.info("contract request queued", extra={"fields": {"target": parsed_offer.target}})
        return created

    async def accept(self, negotiation_id: str) -> Negotiation:
        """Consumer: accept the provider's current offer (OFFERED -> ACCEPTED)."""
        async def work(tx: Store) -> tuple[Negotiation, str, Negotiation]:
            rec = await self._own(tx, negotiation_id)
            if rec.role != Role.CONSUMER:
                raise ProtocolError(400, "WrongRole", "only the consumer accepts an offer")
            event = ContractNegotiationEventMessage(consumer_pid=rec.consumer_pid or "",
                                                    provider_pid="{providerPid}", event_type="ACCEPTED")
            new = await self._send(tx, rec, event, self._peer_path(rec, "/events"))
            updated = await tx.negotiations.update(replace(rec, state=new.value))
            return updated, rec.state, updated

        return await self._in_tx(work)

    async def terminate(self, negotiation_id: str, reason: str) -> Negotiation:
        """Either role: end the negotiation and tell the peer why."""
        async def work(tx: Store) -> tuple[Negotiation, str, Negotiation]:
            rec = await self._own(tx, negotiation_id)
            msg = ContractNegotiationTerminationMessage(
                consumer_pid=rec.consumer_pid or "{consumerPid}", provider_pid=rec.provider_pid or "{providerPid}",
                code="Terminated", reason=[reason or "terminated by the participant"])
            new = await self._send(tx, rec, msg, self._peer_path(rec, "/termination"))
            updated = await tx.negotiations.update(replace(rec, state=new.value, error_detail=reason or None))
            return updated, rec.state, updated

        return await self._in_tx(work)

    async def _own(self, tx: Store, negotiation_id: str) -> Negotiation:
        rec = await tx.negotiations.get(negotiation_id)
        if rec is None:
            raise ProtocolError(404, "NotFound", f"no contract negotiation {negotiation_id!r}")
        return rec

    # ------------------------------------------------------------------ receiving

    async def find_for_caller(self, tx: Store, caller: Caller, pid: str, role: Role | None) -> Negotiation:
        """The negotiation ``pid`` names if ``caller`` is its peer (else 404, see processes)."""
        rec: Negotiation = await processes.find_for_caller(tx.negotiations, caller, pid, role, "contract negotiation")
        return rec

    @staticmethod
    def _check_pids(rec: Negotiation, consumer_pid: str | None, provider_pid: str | None) -> None:
        for name, ours, theirs in (("consumerPid", rec.consumer_pid, consumer_pid),
                                   ("providerPid", rec.provider_pid, provider_pid)):
            if ours and theirs and ours != theirs:
                raise ProtocolError(404, "NotFound", f"{name} {theirs!r} does not belong to this negotiation")

    async def peer_view(self, caller: Caller, provider_pid: str) -> ContractNegotiation:
        rec = await self.find_for_caller(self.store, caller, provider_pid, Role.PROVIDER)
        return ack_of(rec)

    async def _receive(self, caller: Caller, pid: str, role: Role | None, message: DspMessage,
                       step: Callable[[Store, Negotiation, NegState], Awaitable[Negotiation]]) -> ContractNegotiation:
        """The common path of every message about an existing negotiation."""
        result_state: list[NegState] = []

        async def work(tx: Store) -> tuple[Negotiation, str, ContractNegotiation]:
            rec = await self.find_for_caller(tx, caller, pid, role)
            self._check_pids(rec, getattr(message, "consumer_pid", None), getattr(message, "provider_pid", None))
            state = NegState(rec.state)
            if machine.is_retry(state, Role(rec.role), Direction.RECEIVE, message):
                return rec, rec.state, ack_of(rec)  # a resend after a lost ACK: same answer, no new step
            new = machine.apply(state, Role(rec.role), Direction.RECEIVE, message)
            result_state[:] = [new]
            updated = await step(tx, rec, new)
            return updated, rec.state, ack_of(updated, new)

        with bound(consumerPid=getattr(message, "consumer_pid", None), providerPid=getattr(message, "provider_pid", None)):
            return await self._in_tx(work)

    # provider: initial request
    async def on_initial_request(self, caller: Caller, msg: ContractRequestMessage) -> tuple[ContractNegotiation, bool]:
        """Provider: a consumer starts a negotiation. Idempotent on (consumer, consumerPid)."""
        machine.apply(None, Role.PROVIDER, Direction.RECEIVE, msg)
        pid = new_pid()
        rec = Negotiation(id=pid, role=Role.PROVIDER.value, consumer_pid=msg.consumer_pid, provider_pid=pid,
                          counter_party_id=caller.participant_id,
                          counter_party_address=(msg.callback_address or "").rstrip("/"),
                          state=NegState.REQUESTED.value, offer=msg.offer.dump())
        plan = await self._plan(caller, msg.offer)

        async def work(tx: Store) -> tuple[Negotiation, str, tuple[ContractNegotiation, bool]]:
            existing: list[Negotiation] = []

            async def create(decided: Negotiation) -> Negotiation | None:
                # The negotiation is written once, already decided, before anything else the
                # decision writes: a resent request (same consumerPid) writes nothing more.
                try:
                    stored, created = await tx.negotiations.create_or_get(decided)
                except AlreadyExists as exc:
                    raise ProtocolError(400, "DuplicatePid", str(exc)) from None
                if not created:
                    existing.append(stored)
                    return None
                return stored

            decided = await self._carry_out(tx, rec, caller, plan, write=create)
            if decided is None:
                stored = existing[0]
                return stored, stored.state, (ack_of(stored), False)
            return decided, "", (ack_of(decided, NegState.REQUESTED), True)

        with bound(consumerPid=msg.consumer_pid, providerPid=pid):
            return await self._in_tx(work)

    async def on_request(self, caller: Caller, provider_pid: str, msg: ContractRequestMessage) -> ContractNegotiation:
        """Provider: the consumer's counter-request in an existing negotiation."""
        if msg.provider_pid and msg.provider_pid != provider_pid:
            raise ProtocolError(400, "PidMismatch", "providerPid in the body differs from the one in the path")

        plan = await self._plan(caller, msg.offer)

        async def step(tx: Store, rec: Negotiation, new: NegState) -> Negotiation:
            # REQUESTED and the decision are written by one update
            return await self._decided(tx, replace(rec, state=new.value, offer=msg.offer.dump()), caller, plan)

        return await self._receive(caller, provider_pid, Role.PROVIDER, msg, step)

    async def _plan(self, caller: Caller, requested: Offer) -> Plan:
        """Provider, on a request: decide outside the write transaction (reads and policy
        evaluation only), so the SQLite writer lock is held just for the writes."""
        target = requested.target or ""
        candidates = await self.catalog.offers_for(caller, target) if target else []
        if not candidates:
            return Plan("refuse", code="OfferUnavailable",
                        reasons=[f"no offer for dataset {target!r} is available to {caller.participant_id}"])
        chosen = next((c for c in candidates if c.offer_id == requested.id), None)
        if chosen is None or not policy_port.offers_match(chosen.policy, requested.dump()).permitted:
            counter = chosen or candidates[0]
            reason = "offer id unknown or stale" if chosen is None else "requested terms differ from the offer"
            log.info("counter-offering %s: %s", counter.offer_id, reason)
            return Plan("counter", offer=Offer.model_validate(counter.dsp_offer(target=True,
                                                                                assigner=self.participant_id)))
        return self._agreement_plan(caller, chosen.policy, chosen.asset.id, chosen.offer_id)

    def _agreement_plan(self, caller: Caller, policy: Any, asset_id: str, offer_id: str) -> Plan:
        verdict = policy_port.evaluate(policy, caller, target=asset_id, scope="negotiation")
        if not verdict.permitted:
            return Plan("refuse", code="PolicyDenied", reasons=list(verdict.reasons) or ["contract policy not satisfied"])
        return Plan("agree", policy=policy, asset_id=asset_id, offer_id=offer_id)

    async def _decided(self, tx: Store, rec: Negotiation, caller: Caller, plan: Plan) -> Negotiation:
        """``_carry_out`` on a stored negotiation (``rec`` may carry unwritten changes of this
        transaction: they are written by the same update as the decision)."""
        decided = await self._carry_out(tx, rec, caller, plan, write=tx.negotiations.update)
        assert decided is not None
        return decided

    async def _carry_out(self, tx: Store, rec: Negotiation, caller: Caller, plan: Plan, *,
                         write: Callable[[Negotiation], Awaitable[Negotiation | None]]) -> Negotiation | None:
        """Take the step ``plan`` says. The negotiation is written once, by ``write`` (an update,
        or the insert of a new one), before the message, agreement and audit entry the step
        causes; if ``write`` returns None (nothing written) the step stops there."""
        if plan.kind == "refuse":
            return await self._refuse(tx, rec, plan.code, plan.reasons, write=write)
        if plan.kind == "counter":
            assert plan.offer is not None
            msg = ContractOfferMessage(provider_pid=rec.provider_pid or "", consumer_pid=rec.consumer_pid,
                                       offer=plan.offer)
            new = machine.apply(NegState(rec.state), Role(rec.role), Direction.SEND, msg)
            stored = await write(replace(rec, state=new.value, offer=plan.offer.dump()))
            if stored is not None:
                await self._enqueue(tx, stored, msg, self._peer_path(stored, "/offers"))
            return stored
        return await self._agree(tx, rec, caller, plan.policy, plan.asset_id, plan.offer_id, write=write)

    async def _agree(self, tx: Store, rec: Negotiation, caller: Caller, policy: Any, asset_id: str,
                     offer_id: str, *, write: Callable[[Negotiation], Awaitable[Negotiation | None]]) -> Negotiation | None:
        offer = policy_port.dsp_offer(policy, offer_id)
        agreement_body = {k: v for k, v in offer.items() if k not in ("@id", "@type", "target", "assigner", "assignee")}
        agreement_id = new_pid()
        agreement = {"@id": agreement_id, "@type": "Agreement", "target": asset_id, "timestamp": timestamp_now(),
                     "assigner": self.participant_id, "assignee": caller.participant_id, **agreement_body}
        msg = ContractAgreementMessage.model_validate({"consumerPid": rec.consumer_pid, "providerPid": rec.provider_pid,
                                                       "agreement": agreement})
        new = machine.apply(NegState(rec.state), Role(rec.role), Direction.SEND, msg)
        stored = await write(replace(rec, state=new.value, agreement_id=agreement_id))
        if stored is None:
            return None
        await self._enqueue(tx, stored, msg, self._peer_path(stored, "/agreement"))
        await tx.agreements.create(Agreement(id=agreement_id, negotiation_id=stored.id, asset_id=asset_id,
                                             policy=msg.agreement.dump(), assigner=self.participant_id,
                                             assignee=caller.participant_id))
        # Last in the transaction: on PostgreSQL the audit chain's lock is held until commit.
        await tx.audit.append("contract.agreed", {"agreementId": agreement_id, "negotiationId": stored.id,
                                                  "role": stored.role, "assetId": asset_id,
                                                  "assignee": caller.participant_id})
        return stored

    async def _refuse(self, tx: Store, rec: Negotiation, code: str, reasons: list[str], *,
                      write: Callable[[Negotiation], Awaitable[Negotiation | None]] | None = None) -> Negotiation:
        log.info("refusing negotiation: %s", "; ".join(reasons))
        msg = ContractNegotiationTerminationMessage(consumer_pid=rec.consumer_pid or "",
                                                    provider_pid=rec.provider_pid or "", code=code, reason=reasons)
        new = machine.apply(NegState(rec.state), Role(rec.role), Direction.SEND, msg)
        stored = await (write or tx.negotiations.update)(
            replace(rec, state=new.value, error_detail=f"{code}: " + "; ".join(reasons)))
        if stored is not None:
            await self._enqueue(tx, stored, msg, self._peer_path(stored, "/termination"))
        return stored  # type: ignore[return-value]  # None only from a create that found the negotiation

    # provider: ACCEPTED event, verification
    async def on_event(self, caller: Caller, pid: str, msg: ContractNegotiationEventMessage) -> ContractNegotiation:
        """ACCEPTED reaches the provider; FINALIZED reaches the consumer."""
        role = Role.PROVIDER if msg.event_type == "ACCEPTED" else Role.CONSUMER

        async def step(tx: Store, rec: Negotiation, new: NegState) -> Negotiation:
            if new is NegState.ACCEPTED:
                # ACCEPTED and the decision are written by one update
                rec = replace(rec, state=new.value)
                offered = await self.catalog.offer_by_id((rec.offer or {}).get("@id", ""))
                if offered is None:
                    return await self._refuse(tx, rec, "OfferUnavailable", ["the accepted offer is no longer offered"])
                return await self._decided(tx, rec, caller, self._agreement_plan(
                    caller, offered.policy, offered.asset.id, offered.offer_id))
            rec = await tx.negotiations.update(replace(rec, state=new.value))
            if new is NegState.FINALIZED:
                if self.after_finalized is not None and auto_pull(rec.callback_addresses):
                    await self.after_finalized(tx, rec)  # the transfer is queued with the FINALIZED state
                await tx.audit.append("contract.finalized", {"negotiationId": rec.id, "role": rec.role,
                                                             "agreementId": rec.agreement_id})
            return rec

        return await self._receive(caller, pid, role, msg, step)

    async def on_verification(self, caller: Caller, provider_pid: str,
                              msg: ContractAgreementVerificationMessage) -> ContractNegotiation:
        async def step(tx: Store, rec: Negotiation, new: NegState) -> Negotiation:
            # VERIFIED and FINALIZED are written by one update
            rec = replace(rec, state=new.value)
            event = ContractNegotiationEventMessage(consumer_pid=rec.consumer_pid or "",
                                                    provider_pid=rec.provider_pid or "", event_type="FINALIZED")
            final = await self._send(tx, rec, event, self._peer_path(rec, "/events"))
            rec = await tx.negotiations.update(replace(rec, state=final.value))
            # Last in the transaction: on PostgreSQL the audit chain's lock is held until commit.
            await tx.audit.append("contract.finalized", {"negotiationId": rec.id, "role": rec.role,
                                                         "agreementId": rec.agreement_id})
            return rec

        return await self._receive(caller, provider_pid, Role.PROVIDER, msg, step)

    # consumer: offers, agreement
    async def on_offer(self, caller: Caller, consumer_pid: str, msg: ContractOfferMessage) -> ContractNegotiation:
        async def step(tx: Store, rec: Negotiation, new: NegState) -> Negotiation:
            return await tx.negotiations.update(replace(rec, state=new.value, offer=msg.offer.dump(),
                                                        provider_pid=rec.provider_pid or msg.provider_pid))

        return await self._receive(caller, consumer_pid, Role.CONSUMER, msg, step)

    async def on_initial_offer(self, caller: Caller, msg: ContractOfferMessage) -> tuple[ContractNegotiation, bool]:
        """Consumer: a provider starts a negotiation with an offer. Waits for our acceptance."""
        machine.apply(None, Role.CONSUMER, Direction.RECEIVE, msg)
        pid = new_pid()
        rec = Negotiation(id=pid, role=Role.CONSUMER.value, consumer_pid=pid, provider_pid=msg.provider_pid,
                          counter_party_id=caller.participant_id,
                          counter_party_address=(msg.callback_address or "").rstrip("/"),
                          state=NegState.OFFERED.value, offer=msg.offer.dump())

        async def work(tx: Store) -> tuple[Negotiation, str, tuple[ContractNegotiation, bool]]:
            try:
                stored, created = await tx.negotiations.create_or_get(rec)
            except AlreadyExists as exc:
                raise ProtocolError(400, "DuplicatePid", str(exc)) from None
            return stored, "" if created else stored.state, (ack_of(stored), created)

        return await self._in_tx(work)

    async def on_agreement(self, caller: Caller, consumer_pid: str, msg: ContractAgreementMessage) -> ContractNegotiation:
        async def step(tx: Store, rec: Negotiation, new: NegState) -> Negotiation:
            agreement = msg.agreement
            problems = []
            if agreement.assignee != self.participant_id:
                problems.append(f"agreement assignee {agreement.assignee!r} is not us ({self.participant_id})")
            if agreement.assigner != rec.counter_party_id:
                problems.append(f"agreement assigner {agreement.assigner!r} is not the provider {rec.counter_party_id!r}")
            wanted = (rec.offer or {}).get("target")
            if wanted and agreement.target != wanted:
                problems.append(f"agreement target {agreement.target!r} is not the requested {wanted!r}")
            rec = replace(rec, state=new.value, provider_pid=rec.provider_pid or msg.provider_pid)
            if problems:
                return await self._refuse(tx, rec, "InvalidAgreement", problems)  # AGREED + refusal: one update
            verification = ContractAgreementVerificationMessage(consumer_pid=rec.consumer_pid or "",
                                                                provider_pid=rec.provider_pid or "")
            verified = machine.apply(new, Role(rec.role), Direction.SEND, verification)
            # AGREED, the agreement id and VERIFIED are written by one update, before the agreement
            # row (it refers to the negotiation) and the verification message
            rec = await tx.negotiations.update(replace(rec, state=verified.value, agreement_id=agreement.id))
            await tx.agreements.create(Agreement(id=agreement.id, negotiation_id=rec.id, asset_id=agreement.target,
                                                 policy=agreement.dump(), assigner=agreement.assigner,
                                                 assignee=agreement.assignee))
            await self._enqueue(tx, rec, verification, self._peer_path(rec, "/agreement/verification"))
            # Last in the transaction: on PostgreSQL the audit chain's lock is held until commit.
            await tx.audit.append("contract.agreed", {"agreementId": agreement.id, "negotiationId": rec.id,
                                                      "role": rec.role, "assetId": agreement.target,
                                                      "assigner": agreement.assigner})
            return rec

        return await self._receive(caller, consumer_pid, Role.CONSUMER, msg, step)

    async def on_termination(self, caller: Caller, pid: str,
                             msg: ContractNegotiationTerminationMessage) -> ContractNegotiation:
        async def step(tx: Store, rec: Negotiation, new: NegState) -> Negotiation:
            reasons = [r if isinstance(r, str) else str(r) for r in (msg.reason or [])]
            detail = (f"{msg.code}: " if msg.code else "") + ("; ".join(reasons) or "terminated by the peer")
            await tx.outbox.cancel_for_process(rec.id, "negotiation terminated by the peer")
            return await tx.negotiations.update(replace(rec, state=new.value, error_detail=detail))

        return await self._receive(caller, pid, None, msg, step)

    # ------------------------------------------------------------------ outbox hooks

    async def render(self, row: OutboxMessage, envelope: Envelope) -> tuple[str, dict[str, Any]] | None:
        return await processes.render(self.store.negotiations, row, envelope)

    async def delivered(self, tx: Store, row: OutboxMessage, envelope: Envelope, response: PeerResponse) -> None:
        """The provider's ACK to our request names its providerPid: remember it."""
        await processes.remember_provider_pid(tx.negotiations, row, envelope, response, "ContractRequestMessage")

    async def rejected(self, row: OutboxMessage, envelope: Envelope, error: PeerError) -> None:
        reasons = "; ".join(error.peer_reasons())
        detail = f"peer refused {envelope.message.get('@type')}: {reasons}"

        async def work(tx: Store) -> tuple[Negotiation | None, str, None]:
            rec = await tx.negotiations.get(row.process_id)
            if rec is None or NegState(rec.state) in machine.TERMINAL:
                return None, "", None
            await tx.outbox.cancel_for_process(rec.id, detail)
            updated = await tx.negotiations.update(replace(rec, state=NegState.TERMINATED.value, error_detail=detail))
            return updated, rec.state, None

        await self._in_tx(work)
