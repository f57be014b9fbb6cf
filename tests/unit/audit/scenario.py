"""A small, real exchange recorded in a real SQLite store: two agreements, signed footprints
(a JP supplier on did:web with a status list, a TW supplier on did:key), interleaved log entries.

Shared by the audit unit tests and the evidence integration tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.audit import RECEIVED_KIND, AuditLog
from connector.footprints.samples import make_footprints
from connector.identity_commands import sign_footprint
from connector.store import Agreement, Negotiation, Store, open_store
from identity.credentials import sign_credential_di
from identity.did import did_key_from_public, did_web_document
from identity.did.resolver import DidResolver
from identity.footprint_credential import footprint_credential
from identity.keys import KeyPair
from identity.proofs import add_proof
from identity.status import StatusList, StatusListSource, status_entry, status_list_credential
from identity.trust import TrustList, TrustStore

JP_DID = "did:web:supplier.jp.example"
TW_BUYER = "did:web:buyer.tw.example"
STATUS_URL = "https://supplier.jp.example/status/1"
AGREEMENT_JP = "urn:uuid:agreement-jp-1"
AGREEMENT_TW = "urn:uuid:agreement-tw-1"


@dataclass
class Scenario:
    store: Store
    url: str
    jp_key: KeyPair
    jp_document: dict[str, Any]
    tw_key: KeyPair
    tw_did: str
    jp_credentials: list[dict[str, Any]]
    tw_credentials: list[dict[str, Any]]
    status_list: dict[str, Any]
    trust: TrustStore

    def exporter_resolver(self) -> DidResolver:
        """What the exporting connector knows: the JP document (as if fetched earlier)."""
        return DidResolver(bundle={JP_DID: self.jp_document}, offline=True)

    def exporter_status(self) -> StatusListSource:
        return StatusListSource(bundle={STATUS_URL: self.status_list}, offline=True)


def _agreement(agreement_id: str, assigner: str) -> Agreement:
    return Agreement(id=agreement_id, negotiation_id=f"neg-{agreement_id}", asset_id="pcf-asset",
                     policy={"@type": "Agreement", "uid": agreement_id, "permission": []},
                     assigner=assigner, assignee=TW_BUYER)


def jp_credential(footprint: dict[str, Any], key: KeyPair, index: int) -> dict[str, Any]:
    unsigned = footprint_credential(footprint, JP_DID, credential_status=status_entry(STATUS_URL, index))
    return add_proof(unsigned, key, verification_method=f"{JP_DID}#key-1", cryptosuite="eddsa-jcs-2022")


async def build(tmp: Path) -> Scenario:
    url = f"sqlite+aiosqlite:///{tmp / 'connector.db'}"
    store = await open_store(url)
    jp_key, tw_key = KeyPair.generate("ed25519"), KeyPair.generate("ed25519")
    tw_did = did_key_from_public(tw_key.public)
    jp_doc = did_web_document(JP_DID, jp_key.public).to_json()
    lst = StatusList.new()
    lst.set(99)  # someone else's footprint was revoked; ours stay valid
    status_vc = sign_credential_di(status_list_credential(list_url=STATUS_URL, issuer=JP_DID, status_list=lst),
                                   jp_key, verification_method=f"{JP_DID}#key-1")
    jp_fps = make_footprints("jp", 3)
    jp_creds = [jp_credential(fp, jp_key, i) for i, fp in enumerate(jp_fps)]
    tw_creds = [sign_footprint(fp, tw_key) for fp in make_footprints("tw", 1)]
    trust = TrustStore([
        TrustList(name="ouranos-jp", issuers=[{"did": JP_DID, "types": ["ProductFootprintCredential"]}]),  # type: ignore[list-item]
        TrustList(name="taiwan-tw", issuers=[{"did": tw_did, "types": ["ProductFootprintCredential"]}]),  # type: ignore[list-item]
    ])
    for agreement_id, provider in ((AGREEMENT_JP, JP_DID), (AGREEMENT_TW, tw_did)):
        await store.negotiations.create(Negotiation(
            id=f"neg-{agreement_id}", role="consumer", consumer_pid=f"c-{agreement_id}", provider_pid=f"p-{agreement_id}",
            counter_party_id=provider, counter_party_address="http://127.0.0.1:1/dsp", state="FINALIZED"))
        await store.agreements.create(_agreement(agreement_id, provider))
    log = AuditLog(store)
    await log.append("negotiation.finalized", {"agreementId": AGREEMENT_JP, "negotiationId": "neg-1", "role": "consumer"})
    await log.append("transfer.started", {"agreementId": AGREEMENT_JP, "transferId": "tp-1", "role": "consumer"})
    await log.record_footprints(RECEIVED_KIND, AGREEMENT_JP, jp_creds[:2], transfer_id="tp-1", counter_party=JP_DID)
    await log.append("negotiation.finalized", {"agreementId": AGREEMENT_TW, "negotiationId": "neg-2", "role": "consumer"})
    await log.record_footprints(RECEIVED_KIND, AGREEMENT_TW, tw_creds, transfer_id="tp-2", counter_party=tw_did)
    await log.record_footprints(RECEIVED_KIND, AGREEMENT_JP, jp_creds[2:], transfer_id="tp-1", counter_party=JP_DID)
    await log.append("transfer.completed", {"agreementId": AGREEMENT_JP, "transferId": "tp-1", "role": "consumer"})
    await log.append("transfer.started", {"agreementId": "urn:uuid:later", "transferId": "tp-9", "role": "consumer"})
    return Scenario(store, url, jp_key, jp_doc, tw_key, tw_did, jp_creds, tw_creds, status_vc, trust)
