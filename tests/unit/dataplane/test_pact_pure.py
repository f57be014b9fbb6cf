"""Pure parts of the PACT host: v2 $filter, v3 criteria, cursors, event checks."""

from __future__ import annotations

import json
import uuid

import pytest

from connector.dataplane.cloudevents import EventKind, fragment_matches, parse_event
from connector.dataplane.cursor import Cursor, CursorCodec
from connector.dataplane.errors import ErrorKind, PactError
from connector.dataplane.filters_v2 import parse_filter
from connector.dataplane.filters_v3 import V3Criteria

FP = {
    "id": "3a6c14a7-4deb-498a-b5ea-16ce2535b576",
    "created": "2024-01-10T00:00:00Z",
    "status": "Active",
    "productIds": ["urn:gtin:4712345060507", "urn:x:Part-1"],
    "companyIds": ["urn:jp:cn:1"],
    "productClassifications": ["urn:eclass:1"],
    "productCategoryCpc": "46410",
    "pcf": {"geographyCountry": "JP", "referencePeriodEnd": "2024-01-01T00:00:00Z", "primaryDataShare": 46.6},
}


@pytest.mark.parametrize(("text", "expected"), [
    ("created ge '2024-01-01T00:00:00Z'", True),
    ("created ge '2024-01-10T00:00:00.000Z'", True),
    ("created gt '2024-01-10T00:00:00+00:00'", False),
    ("created lt 2025-01-01T00:00:00Z", True),
    ("pcf/geographyCountry eq 'JP'", True),
    ("pcf/geographyCountry ne 'JP'", False),
    ("pcf/primaryDataShare gt 40", True),
    ("productIds/any(p:(p eq 'urn:x:Part-1'))", True),
    ("productIds/any(productId:(productId eq 'urn:x:other'))", False),
    ("(pcf/geographyCountry eq 'JP') and (status eq 'Active') and productCategoryCpc eq '46410'", True),
    ("(pcf/geographyCountry eq 'JP') and (status eq 'Deprecated')", False),
    ("comment eq 'it''s'", False),
    ("", None),
])
def test_v2_filter(text, expected):
    matcher = parse_filter(text)
    assert (matcher(FP) if matcher else None) is expected


@pytest.mark.parametrize(("text", "kind"), [
    ("status eq 'Active' or status eq 'Deprecated'", ErrorKind.NOT_IMPLEMENTED),
    ("not (status eq 'Active')", ErrorKind.NOT_IMPLEMENTED),
    ("contains(productNameCompany, 'x')", ErrorKind.NOT_IMPLEMENTED),
    ("productIds/all(p:(p eq 'x'))", ErrorKind.NOT_IMPLEMENTED),
    ("((", ErrorKind.BAD_REQUEST),
    ("status eq", ErrorKind.BAD_REQUEST),
    ("status foo 'x'", ErrorKind.BAD_REQUEST),
    ("status eq 'x' )", ErrorKind.BAD_REQUEST),
    ("x eq 'a' and " * 60 + "x eq 'b'", ErrorKind.BAD_REQUEST),
    ("a" * 3000, ErrorKind.BAD_REQUEST),
])
def test_v2_filter_errors(text, kind):
    with pytest.raises(PactError) as info:
        parse_filter(text)
    assert info.value.kind is kind


def test_v3_criteria_or_within_and_across_case_insensitive():
    c = V3Criteria.from_pairs([("productid", "URN:GTIN:4712345060507"), ("productId", "urn:none"),
                               ("GEOGRAPHY", "jp"), ("status", "active"), ("x-acme-foo", "1")])
    assert c.matches(FP)
    assert not V3Criteria.from_pairs([("productId", "urn:none"), ("geography", "JP")]).matches(FP)
    assert V3Criteria.from_pairs([("classification", "urn:pact:productclassification:un-cpc:46410")]).matches(FP)
    # validity defaults to referencePeriodEnd .. +3 years
    assert V3Criteria.from_pairs([("validOn", "2026-12-31T00:00Z")]).matches(FP)
    assert not V3Criteria.from_pairs([("validOn", "2027-01-02T00:00:00Z")]).matches(FP)
    assert V3Criteria.from_pairs([("validAfter", "2023-12-31T00:00:00Z")]).matches(FP)
    assert V3Criteria.from_pairs([("validBefore", "2027-01-02T00:00:00Z")]).matches(FP)
    assert not V3Criteria.from_pairs([("status", "Bogus")]).matches(FP)
    assert not V3Criteria()  # empty criteria are falsy: match all
    round_trip = V3Criteria.from_pairs(c.to_pairs())
    assert round_trip == c


@pytest.mark.parametrize("pairs", [[("validOn", "nope")], [("validAfter", "")], [("status", "a"), ("status", "b")],
                                   [("productId", 5)], [("geography", "x" * 2000)]])
def test_v3_criteria_bad_values(pairs):
    with pytest.raises(PactError) as info:
        V3Criteria.from_pairs(pairs)
    assert info.value.kind is ErrorKind.BAD_REQUEST


def test_cursor_round_trip_expiry_and_tamper():
    codec = CursorCodec(b"k" * 32, ttl=180)
    cur = Cursor("3", FP["id"], 100, [["geography", "JP"]], "json")
    token = codec.encode(cur, now=1000)
    assert codec.decode(token, version="3", now=1179) == Cursor("3", FP["id"], 100, [["geography", "JP"]], "json")
    for bad, version, now in ((token, "3", 1181), (token, "2", 1000), (token[:-2] + "xx", "3", 1000),
                              ("a.b.c", "3", 1000), ("", "3", 1000)):
        with pytest.raises(PactError):
            codec.decode(bad, version=version, now=now)
    with pytest.raises(PactError):
        CursorCodec(b"other-key", ttl=180).decode(token, version="3", now=1000)
    with pytest.raises(ValueError):
        CursorCodec(ttl=60)


def _ev(**kw):
    base = {"type": "org.wbcsd.pact.ProductFootprint.PublishedEvent.3", "specversion": "1.0", "id": "e1",
            "source": "//api.example.com/3/events", "time": "2022-05-31T17:31:00Z",
            "data": {"pfIds": [str(uuid.uuid4())]}}
    base.update(kw)
    return json.dumps(base).encode()


def test_parse_event_kinds_and_rejections():
    assert parse_event(_ev(), "3").kind is EventKind.PUBLISHED
    created = _ev(type="org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3",
                  data={"productId": ["urn:x"], "validAfter": "2025-01-01T00:00:00Z"})
    assert parse_event(created, "3").kind is EventKind.REQUEST_CREATED
    for body, version in ((_ev(), "2"), (_ev(data={"pfIds": ["x"]}), "3"), (_ev(specversion="1.1"), "3"),
                          (_ev(data=[]), "3"), (b"[]", "3"), (b"\xff", "3"), (_ev(time="2022-13-01"), "3"),
                          (_ev(type="org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3",
                               data={"validOn": "soon"}), "3")):
        with pytest.raises(PactError):
            parse_event(body, version)


def test_fragment_matching():
    assert fragment_matches({"productIds": ["URN:GTIN:4712345060507"]}, FP)
    assert fragment_matches({"pcf": {"geographyCountry": "JP"}, "status": "Active"}, FP)
    assert not fragment_matches({"productIds": ["urn:pact:null"]}, FP)
    assert not fragment_matches({"pcf": {"geographyCountry": "DE"}}, FP)
