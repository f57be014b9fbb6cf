"""Catalog building, filters, paging and the DSP error bodies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.dsp import catalog, schemas
from connector.dsp.errors import ProtocolError, catalog_error, negotiation_error, transfer_error
from connector.dsp.messages import Offer, Rule, parse


def _offer(i: int = 0) -> Offer:
    return Offer(id=f"urn:offer:{i}", permission=[Rule(action="use")])


SERVICE = catalog.data_service("urn:svc:jp", "https://jp.example/api/dsp")
DATASETS = [
    catalog.dataset(f"urn:ds:{i}", [_offer(i)], SERVICE, **{"dct:title": f"PCF battery {i}", "kind": "battery" if i % 2 else "cell"})
    for i in range(6)
]


def test_built_catalog_validates_and_has_the_dsp_shape():
    cat = catalog.build_catalog("urn:cat:jp", "did:web:jp.example", SERVICE, DATASETS[:2])
    body = cat.to_dict()
    schemas.validate(body)
    assert body["participantId"] == "did:web:jp.example"
    assert body["service"] == [{"@type": "DataService", "@id": "urn:svc:jp", "endpointURL": "https://jp.example/api/dsp"}]
    ds = body["dataset"][0]
    assert ds["hasPolicy"][0]["@id"] == "urn:offer:0" and "target" not in ds["hasPolicy"][0]
    assert ds["distribution"] == [{"@type": "Distribution", "format": "HttpData-PULL", "accessService": "urn:svc:jp"}]
    assert parse(body) == cat


def test_an_empty_catalog_omits_dataset_and_still_validates():
    body = catalog.build_catalog("urn:cat:jp", "did:web:jp.example", SERVICE, []).to_dict()
    assert "dataset" not in body
    schemas.validate(body)


def test_dataset_with_several_formats():
    ds = catalog.dataset("urn:ds:x", [_offer()], "urn:svc:jp", formats=["HttpData-PULL", "HttpData-PUSH"])
    assert [d.format for d in ds.distribution] == ["HttpData-PULL", "HttpData-PUSH"]


def test_filters_edc_criteria():
    crit = catalog.parse_filter([
        {"https://w3id.org/edc/v0.0.1/ns/operandLeft": "kind", "edc:operator": "=", "edc:operandRight": "battery"},
        {"operandLeft": "dct:title", "operator": "like", "operandRight": "PCF % 3"},
    ])
    assert [d.id for d in catalog.filter_items(DATASETS, crit)] == ["urn:ds:3"]
    crit = catalog.parse_filter([{"operandLeft": "@id", "operator": "in", "operandRight": ["urn:ds:1", "urn:ds:4"]}])
    assert [d.id for d in catalog.filter_items(DATASETS, crit)] == ["urn:ds:1", "urn:ds:4"]
    crit = catalog.parse_filter([{"operandLeft": "distribution.format", "operator": "=", "operandRight": "HttpData-PULL"}])
    assert len(catalog.filter_items(DATASETS, crit)) == 6
    crit = catalog.parse_filter([{"operandLeft": "dct:title", "operator": "ilike", "operandRight": "pcf battery _"}])
    assert len(catalog.filter_items(DATASETS, crit)) == 6
    crit = catalog.parse_filter([{"operandLeft": "kind", "operator": "!=", "operandRight": "battery"}])
    assert [d.id for d in catalog.filter_items(DATASETS, crit)] == ["urn:ds:0", "urn:ds:2", "urn:ds:4"]
    assert catalog.filter_items(DATASETS, catalog.parse_filter([])) == DATASETS


def test_like_is_literal_apart_from_wildcards():
    crit = catalog.parse_filter([{"operandLeft": "name", "operator": "like", "operandRight": "a.c"}])
    assert catalog.filter_items([{"name": "a.c"}, {"name": "abc"}], crit) == [{"name": "a.c"}]


@pytest.mark.parametrize("bad", [
    ["text"],
    [{"operandLeft": "x", "operator": "="}],
    [{"operandLeft": "x", "operator": "regex", "operandRight": ".*"}],
    [{"operandLeft": "x", "operator": "in", "operandRight": "a"}],
    [{"operandLeft": "", "operator": "=", "operandRight": "a"}],
])
def test_unsupported_filters_are_a_400(bad):
    with pytest.raises(ProtocolError) as info:
        catalog.parse_filter(bad)
    assert (info.value.status, info.value.code) == (400, "UnsupportedFilter")


def test_page_params_from_query():
    assert catalog.page_params({}) == catalog.PageParams(0, catalog.DEFAULT_LIMIT)
    assert catalog.page_params({"offset": "10", "limit": "5000"}) == catalog.PageParams(10, catalog.MAX_LIMIT)
    for bad in ({"offset": "-1"}, {"limit": "0"}, {"limit": "ten"}):
        with pytest.raises(ProtocolError) as info:
            catalog.page_params(bad)
        assert info.value.status == 400


def test_pages_and_link_headers():
    page = catalog.paginate(DATASETS, catalog.PageParams(2, 2))
    assert [d.id for d in page.items] == ["urn:ds:2", "urn:ds:3"] and page.total == 6
    link = catalog.link_header("https://jp.example/api/dsp/catalog/request?offset=2&limit=2&x=1", page)
    assert link == ('<https://jp.example/api/dsp/catalog/request?x=1&offset=0&limit=2>; rel="previous", '
                    '<https://jp.example/api/dsp/catalog/request?x=1&offset=4&limit=2>; rel="next"')
    assert catalog.parse_link_header(link) == {
        "previous": "https://jp.example/api/dsp/catalog/request?x=1&offset=0&limit=2",
        "next": "https://jp.example/api/dsp/catalog/request?x=1&offset=4&limit=2",
    }
    only = catalog.paginate(DATASETS, catalog.PageParams(0, 10))
    assert only.next is None and only.previous is None
    assert catalog.link_header("https://jp.example/c", only) is None
    assert catalog.parse_link_header(None) == {}


@given(n=st.integers(0, 60), limit=st.integers(1, 15))
def test_following_next_links_visits_every_item_once(n, limit):
    items = list(range(n))
    seen: list[int] = []
    params: catalog.PageParams | None = catalog.PageParams(0, limit)
    while params is not None:
        page = catalog.paginate(items, params)
        assert len(page.items) <= limit
        if page.previous is not None:
            assert catalog.paginate(items, page.previous).items == items[max(0, params.offset - limit):params.offset]
        seen.extend(page.items)
        params = page.next
    assert seen == items


def test_error_bodies_validate():
    err = ProtocolError(400, "IllegalTransition", "in state OFFERED only the consumer may send X", details=["more"])
    body = negotiation_error(consumer_pid="c", provider_pid="p", error=err)
    assert body["code"] == "IllegalTransition" and body["reason"] == [err.reason, "more"]
    schemas.validate(body)
    body = transfer_error(consumer_pid="c", provider_pid="p", code="404", reason="unknown transfer")
    assert body["reason"] == ["unknown transfer"]
    schemas.validate(body)
    body = catalog_error(code="403", reason=[{"message": "not a member of a trusted data space"}])
    schemas.validate(body)
    body = catalog_error()
    assert body == {"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@type": "CatalogError"}
    schemas.validate(body)
    assert "reason" not in transfer_error(consumer_pid="c", provider_pid="p", reason=[])
