"""The consumer's side of delivery: fetch a provider's footprints with an EDR, verify every
credential, keep only the good ones.

A credential is kept only if all of the auditor's checks pass (proof, issuer key, trust,
status, validity, PACT schema — :class:`identity.verify.Verifier`) *and* its issuer is the
agreement's provider: a footprint signed by someone else, however valid, is not what the
agreement delivers. Failures are logged with their reasons (``footprint.rejected``) and
never stored, so a bad credential cannot replace a good one; good ones are stored as
RECEIVED with a ``footprint.received`` entry (``AuditLog.record_footprints``). When the
provider has revoked a credential we keep (same bytes; its only failing check is the status
bit), the stored footprint's status becomes ``Revoked``, so our own apps stop relying on it.

:func:`judge` is the pure verdict; :class:`FootprintFetcher` does the I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import aiohttp

from connector.audit import RECEIVED_KIND, AuditLog, credential_sha256
from connector.config import Settings
from connector.dataplane.client import PactClient, PactClientError
from connector.identity_commands import footprint_schema_check
from connector.store import Agreement, Criterion, Edr, QuerySpec
from connector.store.footprints import RECEIVED
from identity.did.resolver import DidResolver, load_did_bundle
from identity.footprint_credential import extract_footprint
from identity.status import StatusListSource
from identity.trust import TrustStore
from identity.verify import FileReport, Verifier

PAGE_SIZE = 100
MAX_FOOTPRINTS = 10_000


class FetchRefused(Exception):
    """The fetch cannot start or the provider refused it; ``status`` is the HTTP answer."""

    def __init__(self, status: int, reason: str, type_: str = "InvalidRequest") -> None:
        super().__init__(reason)
        self.status, self.reason, self.type = status, reason, type_


@dataclass
class FetchResult:
    agreement_id: str
    transfer_id: str
    provider: str
    received: list[str] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    truncated: bool = False
    #: Footprints whose credential we held and the provider has since revoked (now "Revoked").
    revoked: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"agreementId": self.agreement_id, "transferProcessId": self.transfer_id, "providerId": self.provider,
                "received": self.received, "rejected": self.rejected, "revoked": self.revoked,
                "truncated": self.truncated}


# -- pure ---------------------------------------------------------------------------------
def judge(report: FileReport, expected_issuer: str) -> str | None:
    """Why a verified credential must be rejected (None: keep it)."""
    failed = [f"{c.name}: {c.reason}" for c in report.checks if c.ok is False]
    if report.issuer != expected_issuer:
        failed.append(f"issuer: {report.issuer or '(none)'} is not the agreement's provider {expected_issuer}")
    if not failed and not report.valid:
        failed.append("no check could be completed")
    return "; ".join(failed) or None


def revoked_only(report: FileReport, expected_issuer: str) -> bool:
    """A genuine credential of the agreement's provider whose one failing check is the status:
    its issuer revoked it (a list that could not be read does not count)."""
    return (report.revoked and report.issuer == expected_issuer
            and all(c.ok is not False for c in report.checks if c.name != "status"))


REVOKED_STATUS = "Revoked"


def label(item: Any) -> str:
    """The footprint id a delivered item claims to be (for reports), whatever its shape."""
    if isinstance(item, Mapping):
        footprint = extract_footprint(dict(item))
        if footprint is not None and isinstance(footprint.get("id"), str):
            return footprint["id"]
        if isinstance(item.get("id"), str):
            return item["id"]
    return "(unknown)"


def pick_edr(edrs: list[Edr], now: datetime) -> Edr | None:
    """The usable EDR among a transfer's or an agreement's: live first, newest first."""
    usable = [e for e in edrs if e.token]
    usable.sort(key=lambda e: (not e.revoked and e.expires_at > now, e.created_at), reverse=True)
    return usable[0] if usable else None


# -- I/O ----------------------------------------------------------------------------------
class ConsumerVerification:
    """The verifier a connector checks received credentials with, from its settings: DIDs
    over did:web (loopback http when allowed) or the pinned bundle, our trust list, status lists."""

    def __init__(self, settings: Settings, session: aiohttp.ClientSession | None = None) -> None:
        bundle = load_did_bundle(settings.did_bundle) if settings.did_bundle else None
        self.resolver = DidResolver(bundle=bundle, allow_http_loopback=settings.allow_http_loopback, session=session)
        self.status = StatusListSource(allow_http_loopback=settings.allow_http_loopback, session=session)
        self.trust = TrustStore.load(settings.trust_file) if settings.trust_file else None

    def verifier(self) -> Verifier:
        return Verifier(self.resolver, trust=self.trust, status_lists=self.status,
                        schema_check=footprint_schema_check)

    async def close(self) -> None:
        await self.resolver.close()
        await self.status.close()


@dataclass
class RecheckResult:
    checked: int = 0
    revoked: list[str] = field(default_factory=list)
    invalid: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"checked": self.checked, "revoked": self.revoked, "invalid": self.invalid}


async def recheck_received(store: Any, verification: ConsumerVerification, *,
                           wanted: Callable[[Any], bool] = lambda rec: True, limit: int = 10_000) -> RecheckResult:
    """Verify the footprints we keep again, as they are stored, without a transfer (the EDR may
    be long gone; status lists are public): a credential its provider has revoked since is
    marked Revoked; any other check that fails now (an expired validity, a trust list that
    changed) is reported, and the stored record is left as it is."""
    result = RecheckResult()
    verifier = verification.verifier()
    providers: dict[str, str | None] = {}
    after: str | None = None
    while result.checked < limit:
        batch = await store.footprints.page(RECEIVED, after_id=after, limit=min(500, limit - result.checked))
        for rec in batch:
            if not wanted(rec) or rec.status == REVOKED_STATUS:
                continue
            agreement_id = rec.source_agreement_id
            if agreement_id is not None and agreement_id not in providers:
                agreement = await store.agreements.get(agreement_id)
                providers[agreement_id] = agreement.assigner if agreement is not None else None
            provider = providers.get(agreement_id) if agreement_id is not None else None
            report = await verifier.verify(rec.credential, name=rec.id)
            result.checked += 1
            expected = provider or report.issuer or ""
            reason = judge(report, expected)
            if reason is None:
                continue
            if revoked_only(report, expected) and await store.footprints.set_status(
                    RECEIVED, rec.id, rec.sha256, REVOKED_STATUS):
                result.revoked.append(rec.id)
            else:
                result.invalid.append({"id": rec.id, "reason": reason})
        if len(batch) < 500:
            break
        after = batch[-1].id
    return result


class FootprintFetcher:
    def __init__(self, store: Any, session: aiohttp.ClientSession, verification: ConsumerVerification) -> None:
        self.store, self.session, self.verification = store, session, verification

    async def edr_for(self, *, transfer_id: str | None, agreement_id: str | None) -> Edr:
        now = datetime.now(timezone.utc)
        if transfer_id:
            edr = await self.store.edrs.get(transfer_id)
            what = f"transfer {transfer_id!r}"
            edr = pick_edr([edr] if edr else [], now)
        else:
            spec = QuerySpec(filters=(Criterion("contractId", "=", agreement_id),), limit=1000)
            edr = pick_edr(await self.store.edrs.query(spec), now)
            what = f"agreement {agreement_id!r}"
        if edr is None:
            raise FetchRefused(404, f"no EDR for {what}: start a pull transfer first", "ObjectNotFound")
        if edr.revoked:
            raise FetchRefused(409, f"the EDR for {what} was revoked: the transfer was suspended, completed or "
                                    "terminated", "ObjectConflict")
        if edr.expires_at <= now:
            raise FetchRefused(409, f"the EDR for {what} expired at {edr.expires_at.isoformat()}", "ObjectConflict")
        return edr

    async def fetch(self, edr: Edr) -> FetchResult:
        agreement: Agreement | None = await self.store.agreements.get(edr.agreement_id)
        if agreement is None:
            raise FetchRefused(409, f"agreement {edr.agreement_id!r} of the EDR is not in the store", "ObjectConflict")
        result = FetchResult(agreement.id, edr.transfer_id, agreement.assigner)
        items = await self._download(edr, result)
        verifier = self.verification.verifier()
        good: dict[str, dict[str, Any]] = {}
        bad: list[tuple[dict[str, Any], str]] = []
        revoked: list[dict[str, Any]] = []
        for item in items:
            if not isinstance(item, dict):
                bad.append(({"value": item}, "not a JSON object"))
                continue
            report = await verifier.verify(item, name=label(item))
            reason = judge(report, agreement.assigner)
            if reason is None:
                good[label(item)] = item
            else:
                bad.append((item, reason))
                if revoked_only(report, agreement.assigner):
                    revoked.append(item)
        log = AuditLog(self.store)
        if good:
            await log.record_footprints(RECEIVED_KIND, agreement.id, list(good.values()),
                                        transfer_id=edr.transfer_id, counter_party=agreement.assigner)
            result.received = list(good)
        if bad:
            await log.record_rejected(agreement.id, bad, transfer_id=edr.transfer_id, counter_party=agreement.assigner)
            result.rejected = [{"id": label(item), "reason": reason} for item, reason in bad]
        for item in revoked:  # the very credential we keep, revoked since: say so in the store
            if await self.store.footprints.set_status(RECEIVED, label(item), credential_sha256(item), REVOKED_STATUS):
                result.revoked.append(label(item))
        return result

    async def _download(self, edr: Edr, result: FetchResult) -> list[Any]:
        """Every footprint of the provider's listing, as VCs, page by page (Link: rel=next)."""
        client = PactClient(self.session, edr.endpoint, token=edr.token)
        items: list[Any] = []
        try:
            async for item in client.iter_footprints("2", params={"limit": str(PAGE_SIZE), "format": "vc"}):
                if len(items) >= MAX_FOOTPRINTS:
                    result.truncated = True
                    break
                items.append(item)
        except PactClientError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            detail = f"{body.get('code', exc.status)}: {body.get('message', exc.body)}"
            status = 409 if exc.status in (401, 403) else 502
            raise FetchRefused(status, f"the provider's data plane refused the EDR ({detail})", "ProviderRefused") from None
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as exc:
            raise FetchRefused(502, f"cannot read footprints from {edr.endpoint}: {type(exc).__name__}: {exc}",
                               "ProviderUnavailable") from None
        return items
