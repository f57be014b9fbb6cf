"""The SQL repositories offer exactly what the interface protocols promise (same names, same parameters)."""

from __future__ import annotations

import inspect

import pytest

from connector.store import interfaces
from connector.store.agreements import AgreementRepository
from connector.store.auditlog import AuditRepository
from connector.store.documents import AssetRepository, ContractDefinitionRepository
from connector.store.edrs import EdrRepository
from connector.store.facade import Store
from connector.store.footprints import FootprintRepository
from connector.store.outbox import OutboxRepository
from connector.store.pact_requests import PactRequestRepository
from connector.store.processes import NegotiationRepository
from connector.store.replay import ReplayCache
from connector.store.status_entries import FootprintStatusRepository

PAIRS = [
    (interfaces.ProcessStore, NegotiationRepository),
    (interfaces.DocumentStore, AssetRepository),
    (interfaces.ContractDefinitionStore, ContractDefinitionRepository),
    (interfaces.AgreementStore, AgreementRepository),
    (interfaces.EdrStore, EdrRepository),
    (interfaces.OutboxStore, OutboxRepository),
    (interfaces.FootprintStore, FootprintRepository),
    (interfaces.FootprintStatusStore, FootprintStatusRepository),
    (interfaces.PactRequestStore, PactRequestRepository),
    (interfaces.AuditStore, AuditRepository),
    (interfaces.ReplayStore, ReplayCache),
]


def _methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(fn)
        for name, fn in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


@pytest.mark.parametrize(("protocol", "impl"), PAIRS, ids=[p.__name__ for p, _ in PAIRS])
def test_implementation_matches_protocol(protocol: type, impl: type) -> None:
    promised, offered = _methods(protocol), _methods(impl)
    missing = set(promised) - set(offered)
    assert not missing, f"{impl.__name__} lacks {sorted(missing)}"
    for name, sig in promised.items():
        got = offered[name]
        assert list(sig.parameters) == list(got.parameters), f"{impl.__name__}.{name}{got} != {sig}"
        assert inspect.iscoroutinefunction(getattr(impl, name)) == inspect.iscoroutinefunction(
            getattr(protocol, name)
        ) or name == "iterate", f"{impl.__name__}.{name}: async-ness differs"


async def test_store_facade_has_every_repository(store: Store) -> None:
    for name in interfaces.StoreProtocol.__annotations__:
        assert hasattr(store, name), f"Store lacks {name}"
    async with store.transaction() as tx:
        for name in interfaces.StoreProtocol.__annotations__:
            assert hasattr(tx, name), f"Store.transaction() view lacks {name}"
        async with tx.transaction() as nested:  # joining, not nesting
            assert nested is tx
    assert await store.ping()
