"""The provider's DCAT catalog: assets x contract definitions, filtered by access policy.

A dataset is an asset some contract definition selects *and* whose access policy the caller
satisfies; each such definition contributes one ODRL offer (its contract policy). Offer ids
encode the definition, the asset and a digest of the contract policy, so a later contract
request can be traced back to exactly what was offered — and an offer made under a policy
that has since changed is recognised as stale.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any

from policies.errors import PolicyError
from policies.model import Policy

from ..auth import Caller
from ..dsp.catalog import Criterion
from ..dsp.errors import ProtocolError
from ..store import ContractDefinition, Document, QuerySpec, Store
from . import policy_port

EDC_NS = "https://w3id.org/edc/v0.0.1/ns/"
PULL_FORMAT = "HttpData-PULL"
MAX_ITEMS = 10_000


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def _unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")


def policy_digest(body: dict[str, Any]) -> str:
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()[:16]


def offer_id(definition_id: str, asset_id: str, digest: str) -> str:
    return f"{_b64(definition_id)}:{_b64(asset_id)}:{digest}"


def parse_offer_id(value: str) -> tuple[str, str, str] | None:
    """(definition id, asset id, policy digest) of one of our offer ids, else None."""
    parts = value.split(":")
    if len(parts) != 3:
        return None
    try:
        return _unb64(parts[0]), _unb64(parts[1]), parts[2]
    except (ValueError, UnicodeDecodeError):
        return None


def _unprefix(key: str) -> str:
    for prefix in (EDC_NS, "edc:"):
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def _scalar(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict):
        return value.get("@value", value.get("@id"))
    return value


def asset_property(asset: Document, name: str) -> Any:
    """An asset's ``@id`` or property, in compact, ``edc:``-prefixed or full-IRI form."""
    if name in ("id", "@id", EDC_NS + "id"):
        return asset.id
    props = {_unprefix(k): v for k, v in (asset.body.get("properties") or {}).items()} if isinstance(
        asset.body.get("properties"), dict) else {}
    return _scalar(props.get(_unprefix(name)))


def asset_view(asset: Document) -> dict[str, Any]:
    """What a catalog filter sees of an asset: its id and its (unprefixed) properties."""
    props = asset.body.get("properties")
    view = {_unprefix(k): _scalar(v) for k, v in props.items()} if isinstance(props, dict) else {}
    return {**view, "@id": asset.id, "id": asset.id}


def selects(selector: list[dict[str, Any]], asset: Document) -> bool:
    """EDC ``assetsSelector``: every criterion must hold; an empty selector selects everything."""
    for raw in selector:
        c = {_unprefix(k): _scalar(v) if k not in ("operandRight",) else v for k, v in raw.items()}
        left, op, right = c.get("operandLeft"), c.get("operator", "="), c.get("operandRight")
        value = asset_property(asset, str(left))
        right_values = [_scalar(r) for r in right] if isinstance(right, list) else [_scalar(right)]
        if op in ("=", "eq") and value != right_values[0]:
            return False
        if op == "in" and value not in right_values:
            return False
        if op not in ("=", "eq", "in"):
            return False  # unknown operators select nothing rather than everything
    return True


def definition_selector(definition: ContractDefinition) -> list[dict[str, Any]]:
    body = {_unprefix(k): v for k, v in definition.body.items()}
    selector = body.get("assetsSelector") or []
    return selector if isinstance(selector, list) else [selector]


@dataclass(frozen=True)
class OfferedContract:
    """One offer of one dataset, with what the provider needs to negotiate it."""

    definition: ContractDefinition
    asset: Document
    policy: Policy
    offer_id: str

    def dsp_offer(self, *, target: bool = False, assigner: str | None = None) -> dict[str, Any]:
        return policy_port.dsp_offer(self.policy, self.offer_id, target=self.asset.id if target else None,
                                     assigner=assigner)


class CatalogService:
    def __init__(self, store: Store, participant_id: str, protocol_url: str) -> None:
        self.store = store
        self.participant_id = participant_id
        self.protocol_url = protocol_url
        self.service_id = f"{participant_id}#dsp"
        self._parsed: dict[tuple[str, str], Policy] = {}  # (policy id, digest) -> parsed policy

    async def _policy(self, policy_id: str) -> tuple[Policy, str] | None:
        return self._parse_policy(await self.store.policies.get(policy_id))

    def _parse_policy(self, doc: Document | None) -> tuple[Policy, str] | None:
        """A stored policy definition, parsed (once per content), and its digest."""
        if doc is None:
            return None
        policy_id = doc.id
        digest = policy_digest(doc.body)
        cached = self._parsed.get((policy_id, digest))
        if cached is not None:
            return cached, digest
        try:
            policy = policy_port.policy_from_definition(doc.body)
        except PolicyError:
            return None  # a broken definition offers nothing (the Management API refuses them on input)
        if len(self._parsed) > 1024:
            self._parsed.clear()
        self._parsed[(policy_id, digest)] = policy
        return policy, digest

    async def offers_for(self, caller: Caller, asset_id: str | None = None) -> list[OfferedContract]:
        """Every offer the caller may see (all assets, or one)."""
        # The definitions, their policies and the asset asked for come in one statement (read
        # afresh on every request: another replica may have changed the catalog).
        rows = await self.store.contract_defs.with_policies(MAX_ITEMS, asset_id)
        if asset_id is None:
            assets = await self.store.assets.query(QuerySpec(limit=MAX_ITEMS)) if rows else []
        else:
            one = rows[0].asset if rows else None
            assets = [one] if one is not None else []
        found: list[OfferedContract] = []
        for row in rows:
            definition = row.definition
            access = self._parse_policy(row.access_policy)
            contract = self._parse_policy(row.contract_policy)
            if access is None or contract is None:
                continue
            selector = definition_selector(definition)
            chosen = [a for a in assets if selects(selector, a)]
            if not chosen:
                continue
            if not policy_port.evaluate(access[0], caller, target=None, scope="catalog").permitted:
                continue
            for asset in chosen:
                found.append(OfferedContract(definition, asset, contract[0],
                                             offer_id(definition.id, asset.id, contract[1])))
        return found

    async def offer_by_id(self, offer: str) -> OfferedContract | None:
        """The current offer behind one of our offer ids (None if unknown or stale)."""
        parsed = parse_offer_id(offer)
        if parsed is None:
            return None
        definition_id, asset_id, digest = parsed
        definition = await self.store.contract_defs.get(definition_id)
        asset = await self.store.assets.get(asset_id)
        if definition is None or asset is None or not selects(definition_selector(definition), asset):
            return None
        contract = await self._policy(definition.contract_policy_id)
        if contract is None or contract[1] != digest:
            return None
        return OfferedContract(definition, asset, contract[0], offer)

    def _dataset(self, asset_id: str, offers: list[OfferedContract]) -> dict[str, Any]:
        return {
            "@id": asset_id,
            "@type": "Dataset",
            "hasPolicy": [o.dsp_offer() for o in offers],
            "distribution": [{"@type": "Distribution", "format": PULL_FORMAT, "accessService": self.service_id}],
        }

    def _service(self) -> dict[str, Any]:
        return {"@id": self.service_id, "@type": "DataService", "endpointURL": self.protocol_url}

    async def catalog(self, caller: Caller, *, offset: int = 0, limit: int = 50,
                      criteria: Sequence[Criterion] = ()) -> tuple[dict[str, Any], bool]:
        """The caller's catalog page and whether more datasets follow; ``criteria`` (the
        request's ``filter``) match the asset's id and properties."""
        offers = await self.offers_for(caller)
        by_asset: dict[str, list[OfferedContract]] = {}
        views: dict[str, dict[str, Any]] = {}
        for o in offers:
            by_asset.setdefault(o.asset.id, []).append(o)
            views.setdefault(o.asset.id, asset_view(o.asset))
        ids = sorted(a for a in by_asset if all(c.matches(views[a]) for c in criteria))
        page = ids[offset: offset + limit]
        body: dict[str, Any] = {
            "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
            "@id": f"urn:kakehashi:catalog:{_b64(self.participant_id)}",
            "@type": "Catalog",
            "participantId": self.participant_id,
            "service": [self._service()],
        }
        if page:
            body["dataset"] = [self._dataset(a, by_asset[a]) for a in page]
        return body, offset + limit < len(ids)

    async def dataset(self, caller: Caller, dataset_id: str) -> dict[str, Any]:
        offers = await self.offers_for(caller, dataset_id)
        if not offers:
            # Unknown and not-visible look the same: existence is not disclosed.
            raise ProtocolError(404, "DatasetNotFound", f"no dataset {dataset_id!r} is offered to you")
        return {"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], **self._dataset(dataset_id, offers)}
