"""The verify fast paths stay exact and safe: C-encoder JCS, @json literals, memoised checks."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import orjson
import pyoxigraph as ox
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.footprints.samples import make_footprints
from identity.canon import _jcs_fast, canonicalize_quads, check_limits, jcs, limits_mode, parse_nquads, rdfc
from identity.errors import CanonicalizationError, DocumentLimitError
from identity.footprint_credential import footprint_credential
from identity.jsonld import (
    JCS_EXACT,
    JCS_INTEGRAL,
    JCS_SLOW,
    _json_literal,
    jcs_float_mode,
    jcs_mode,
    jcs_text,
    literal,
    to_rdf,
)
from identity.keys import KeyPair
from identity.proofs import add_proof, verify_proofs

SUITES = ("eddsa-jcs-2022", "eddsa-rdfc-2022")

# -- JCS through the C encoder ------------------------------------------------------------------
FLOATS = [
    0.9, 46.6, -2.5, 2.0, -0.0, 0.0, 84.0, 1e-7, 1.5e-5, 0.0001, 1e16, 1.5e16, 1e21, 1e22, 123456789012345.6,
    9007199254740992.0, 9007199254740994.0, 0.30000000000000004, 5e-324, 1.7976931348623157e308, -1e-300,
]


@pytest.mark.parametrize("value", FLOATS)
def test_float_serialisation_matches_rfc8785(value: float) -> None:
    for doc in (value, [value], {"x": value, "a": [1, value, "2.0,"]}):
        assert jcs(doc) == rfc8785.dumps(doc)


def test_float_modes() -> None:
    assert jcs_float_mode(0.9) == JCS_EXACT
    assert jcs_float_mode(2.0) == JCS_INTEGRAL
    assert jcs_float_mode(-0.0) == JCS_INTEGRAL
    assert jcs_float_mode(1e-7) == JCS_SLOW
    assert jcs_float_mode(1e16) == JCS_SLOW
    assert jcs_float_mode(float(2**53)) == JCS_SLOW
    assert jcs_mode({"a": [1, {"b": 2.0}]}) == JCS_INTEGRAL
    assert jcs_mode({"\U0001f600": 1}) == JCS_SLOW
    assert jcs_mode({"a": 2**60}) == JCS_SLOW
    assert limits_mode({"a": [1.5, {"b": 2.0}]}) == JCS_INTEGRAL
    assert check_limits({"a": 2.0}) is False and check_limits({"a": 2.5}) is True


def test_integral_float_fix_never_mutates_the_input() -> None:
    doc = {"a": [2.0, {"b": 3.0, "c": "x"}], "d": {"e": 1}}
    before = copy.deepcopy(doc)
    assert jcs(doc) == b'{"a":[2,{"b":3,"c":"x"}],"d":{"e":1}}'
    assert doc == before and isinstance(doc["a"][0], float)  # type: ignore[index]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(min_value=-(10**6), max_value=10**6).map(float)
    | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_jcs_equals_rfc8785(value: Any) -> None:
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:  # lone surrogates
        with pytest.raises(CanonicalizationError):
            jcs(value)
        return
    assert jcs(value) == expected


# -- JCS through orjson: same bytes as rfc8785 wherever the mode lets it serialise ---------------
# Characters where escaping or key order could differ: every control character, quote,
# backslash, slash, DEL, U+2028/2029, the surrogate boundary, U+E000-U+FFFF and non-BMP.
_TRICKY = [chr(c) for c in range(0x20)] + [
    '"', "\\", "/", "\x7f", "\x80", "\xff", "\u2028", "\u2029", "\ud7ff", "\ue000", "\uff61", "\ufeff",
    "\uffff", "\U00010000", "\U0001f600", "\U0001f9ea", "\U0010ffff", "a", "A", "0", "~",
]
_tricky_text = st.text(st.sampled_from(_TRICKY) | st.characters(exclude_categories=("Cs",)), max_size=8)
orjson_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.sampled_from([2**53 - 1, -(2**53) + 1, 0, -1])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=1e-7, max_value=1e17)
    | st.integers(min_value=-(10**6), max_value=10**6).map(float)
    | _tricky_text,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_tricky_text, children, max_size=6),
    max_leaves=40,
)


@settings(max_examples=1500, deadline=None)
@given(orjson_values)
def test_orjson_fast_path_equals_rfc8785(value: Any) -> None:
    expected = rfc8785.dumps(value)
    mode = limits_mode(value)
    assert _jcs_fast(value, mode) == expected
    assert jcs(value) == expected
    if mode == JCS_EXACT:  # the fast path is orjson's own output, unaltered
        assert orjson.dumps(value, option=orjson.OPT_SORT_KEYS) == expected


def test_orjson_differs_where_the_mode_routes_around_it() -> None:
    # orjson sorts keys by code point: a non-BMP key sorts after U+E000-U+FFFF, but before them in
    # UTF-16 (RFC 8785). Such keys, integral floats and big ints are JCS_SLOW / JCS_INTEGRAL.
    keys = {"\uffff": 1, "\U0001f600": 2, "\ue000": 3, "a": 4}
    assert orjson.dumps(keys, option=orjson.OPT_SORT_KEYS) != rfc8785.dumps(keys)
    assert limits_mode(keys) == JCS_SLOW and jcs(keys) == rfc8785.dumps(keys)
    assert orjson.dumps(2.0) != rfc8785.dumps(2.0) and jcs({"x": [2.0, -0.0]}) == b'{"x":[2,0]}'
    assert limits_mode({"a": 2**53}) == JCS_SLOW
    mixed = [0.0, 5.714057776621725e16]  # JCS_INTEGRAL | JCS_SLOW: slow, not integral
    assert limits_mode(mixed) == JCS_INTEGRAL | JCS_SLOW and jcs(mixed) == rfc8785.dumps(mixed)
    bmp = {"\uffff": 1, "\ue000": 2, "\ud7ff": 3, "\u2028": 4, "\x7f": 5}  # all within the BMP
    assert limits_mode(bmp) == JCS_EXACT and jcs(bmp) == rfc8785.dumps(bmp)


def test_orjson_escapes_every_control_character_like_rfc8785() -> None:
    text = "".join(chr(c) for c in range(0x80)) + "\u2028\u2029\U0001f600"
    assert jcs({"k": text, text[:0x20]: text}) == rfc8785.dumps({"k": text, text[:0x20]: text})
    assert jcs("\b\f\n\r\t\x00\x1f/") == b'"\\b\\f\\n\\r\\t\\u0000\\u001f/"'


def test_orjson_refusals_take_the_general_path() -> None:
    with pytest.raises(CanonicalizationError):
        jcs({"a": "\ud800"})  # lone surrogate: orjson refuses, the general path reports it
    with pytest.raises(CanonicalizationError):
        _jcs_fast({"a": "\udfff"}, JCS_EXACT)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_json_literal_equals_the_general_escaping(value: Any) -> None:
    try:
        text = rfc8785.dumps(value).decode("utf-8")
    except rfc8785.CanonicalizationError:
        return
    expected = literal(text, "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON")
    assert _json_literal(value, None) == expected
    assert _json_literal(value, jcs_mode(value)) == expected


def test_json_literal_escapes_del_backslash_and_quote() -> None:
    value = {"k": 'a"b\\c\x7fd\ne'}
    assert _json_literal(value, None) == literal(jcs_text(value), "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON")


def test_limits_still_hold() -> None:
    deep: Any = {}
    inner = deep
    for _ in range(100):
        inner["p"] = {}
        inner = inner["p"]
    with pytest.raises(DocumentLimitError, match="nests deeper"):
        limits_mode(deep)
    with pytest.raises(DocumentLimitError, match="non-string object key"):
        limits_mode({"a": {1: "x"}})
    with pytest.raises(DocumentLimitError, match="non-JSON value"):
        limits_mode({"a": (1, 2)})
    with pytest.raises(DocumentLimitError, match="more than"):
        limits_mode({"a": list(range(300_000))})
    with pytest.raises(DocumentLimitError, match="string longer"):
        limits_mode(["a" * 1_000_001])
    assert limits_mode("x") == JCS_EXACT and limits_mode(2.0) == JCS_INTEGRAL
    assert limits_mode([[[[]]]], max_depth=4) == JCS_EXACT
    with pytest.raises(DocumentLimitError):
        limits_mode([[[[[]]]]], max_depth=4)


# -- RDFC: one blank node -----------------------------------------------------------------------
def test_single_blank_node_fast_path_matches_oxigraph() -> None:
    text = (
        '_:x <http://example.com/p> "b" .\n'
        "_:x <http://example.com/q> <http://example.com/o> .\n"
        '<http://example.com/s> <http://example.com/r> _:x <http://example.com/g> .\n'
    )
    dataset = ox.Dataset(ox.parse(text, format=ox.RdfFormat.N_QUADS))
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    expected = sorted(str(q) + " .\n" for q in dataset)
    assert canonicalize_quads(parse_nquads(text)) == "".join(expected)
    assert "_:c14n0" in canonicalize_quads(parse_nquads(text))


# -- signed footprint credentials ----------------------------------------------------------------
@pytest.fixture(scope="module")
def signer() -> tuple[KeyPair, str, str]:
    key = KeyPair.generate("ed25519")
    did = "did:key:" + key.public.multibase()
    return key, did, f"{did}#{key.public.multibase()}"


def _signed(signer: tuple[KeyPair, str, str], suite: str, n: int = 0) -> dict[str, Any]:
    key, did, vm = signer
    footprint = make_footprints("jp", n + 1)[n]
    credential = footprint_credential(footprint, did, valid_from="2025-01-01T00:00:00Z")
    return add_proof(credential, key, verification_method=vm, cryptosuite=suite, created="2025-01-01T00:00:00Z")


@pytest.mark.parametrize("suite", SUITES)
def test_footprint_credentials_verify_and_tampering_fails(signer: tuple[KeyPair, str, str], suite: str) -> None:
    key = signer[0].public
    for n in range(6):  # some footprints hold integral floats (2.0), some do not
        signed = _signed(signer, suite, n)
        assert verify_proofs(signed, lambda _vm: key).ok
        fp = signed["credentialSubject"]["productFootprint"]
        for path, value in (("pcf.dqi.coveragePercent", 85.0), ("pcf.primaryDataShare", 12.5), ("comment", "x")):
            tampered = copy.deepcopy(signed)
            target = tampered["credentialSubject"]["productFootprint"]
            *parents, leaf = path.split(".")
            for p in parents:
                target = target[p]
            target[leaf] = value
            assert not verify_proofs(tampered, lambda _vm: key).ok, path
        # a footprint field no vocabulary defines is still covered (opaque @json literal)
        tampered = copy.deepcopy(signed)
        tampered["credentialSubject"]["productFootprint"]["undefinedField"] = "x"
        assert not verify_proofs(tampered, lambda _vm: key).ok
        # an integral float written as an integer is the same JSON number (RFC 8785)
        same = json.loads(json.dumps(fp))
        assert json.loads(jcs(same)) == json.loads(jcs(fp))


@pytest.mark.parametrize("suite", SUITES)
def test_undefined_terms_in_the_envelope_are_still_refused(signer: tuple[KeyPair, str, str], suite: str) -> None:
    key = signer[0].public
    good = _signed(signer, suite)
    assert verify_proofs(good, lambda _vm: key).ok  # warms the plan and IRI caches
    for mutate in (
        lambda d: d.__setitem__("undefinedTerm", "x"),
        lambda d: d["credentialSubject"].__setitem__("undefinedTerm", "x"),
        lambda d: d.__setitem__("issuer", "relative-issuer"),
        lambda d: d["credentialSubject"].__setitem__("id", "not-absolute"),
        lambda d: d["credentialSubject"].__setitem__("type", "UndefinedType"),
        lambda d: d["proof"].__setitem__("undefinedProofTerm", "x"),
        lambda d: d["proof"].__setitem__("verificationMethod", "relative#key"),
    ):
        bad = copy.deepcopy(good)
        mutate(bad)
        result = verify_proofs(bad, lambda _vm: key)
        assert not result.ok
    # the same shape with a defined term afterwards still verifies (nothing cached wrongly)
    assert verify_proofs(good, lambda _vm: key).ok


def test_undefined_term_check_matches_between_walks(signer: tuple[KeyPair, str, str]) -> None:
    doc = {k: v for k, v in _signed(signer, "eddsa-rdfc-2022").items() if k != "proof"}
    doc["credentialSubject"] = {**doc["credentialSubject"], "extra": {"nested": 1}}
    assert to_rdf(doc, emit=False).undefined == to_rdf(doc).undefined
    assert any("extra" in u for u in to_rdf(doc, emit=False).undefined)


def test_rdfc_with_known_mode_equals_rdfc_without(signer: tuple[KeyPair, str, str]) -> None:
    for n in range(4):
        doc = {k: v for k, v in _signed(signer, "eddsa-rdfc-2022", n).items() if k != "proof"}
        assert rdfc(doc, mode=limits_mode(doc)) == rdfc(doc) == rdfc(doc, mode=JCS_SLOW)


@pytest.mark.parametrize("suite", SUITES)
def test_lone_surrogate_is_a_reported_failure_not_a_crash(signer: tuple[KeyPair, str, str], suite: str) -> None:
    key = signer[0].public
    bad = _signed(signer, suite)
    bad["credentialSubject"]["productFootprint"]["comment"] = "\ud800"
    result = verify_proofs(bad, lambda _vm: key)
    assert not result.ok and result.reason


def test_nan_in_a_footprint_is_refused() -> None:
    with pytest.raises(CanonicalizationError):
        jcs({"a": math.nan})


# -- jcs_checked: RFC 8785 without a Python walk over every value --------------------------------
from identity.canon import MAX_DEPTH, jcs_checked  # noqa: E402


@settings(max_examples=1500, deadline=None)
@given(orjson_values)
def test_jcs_checked_is_rfc8785_or_declines(value: Any) -> None:
    fast = jcs_checked(value)
    if fast is not None:
        assert fast == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "doc",
    [
        {"a": 5.0, "s": "x:5.0,"},  # a look-alike in a string: the count of removals differs
        {"a": "[1.0]", "b": 2.0},
        {"s": "1.0}", "t": [3.0, "4.0]"]},
    ],
)
def test_look_alike_integral_floats_in_strings_are_never_rewritten(doc: dict[str, Any]) -> None:
    assert jcs_checked(doc) is None  # declined: the general path decides
    assert jcs(doc) == rfc8785.dumps(doc)


def test_integral_and_fixed_floats_take_the_fast_path() -> None:
    doc = {"a": [2.0, 1.3, {"b": 100.0, "c": "PACT-2.0"}], "d": 0.00001}
    assert jcs_checked(doc) == rfc8785.dumps(doc) == b'{"a":[2,1.3,{"b":100,"c":"PACT-2.0"}],"d":0.00001}'


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_never_written_as_null(bad: float) -> None:
    assert jcs_checked({"x": bad}) is None  # orjson would write null
    with pytest.raises(CanonicalizationError):
        jcs({"x": bad})


@pytest.mark.parametrize(
    "doc",
    [
        {"x": -0.0},
        {"x": 1e16},
        {"x": 1e-7},
        {"x": 2**53},
        {"\U0001f600": 1, "\uffff": 2},
        {"x": "\U0001f600"},
        {"x": object()},
        {1: "x"},
        {"x": "\ud800"},
    ],
)
def test_declines_what_orjson_writes_differently_or_refuses(doc: dict[Any, Any]) -> None:
    assert jcs_checked(doc) is None


def test_depth_limit_matches_the_walk() -> None:
    def nested(depth: int) -> Any:
        value: Any = 1.5
        for _ in range(depth):
            value = [value]
        return value

    assert jcs_checked(nested(MAX_DEPTH)) == rfc8785.dumps(nested(MAX_DEPTH))
    limits_mode(nested(MAX_DEPTH))
    assert jcs_checked(nested(MAX_DEPTH + 1)) is None
    with pytest.raises(DocumentLimitError):
        limits_mode(nested(MAX_DEPTH + 1))


def test_large_documents_take_the_walk() -> None:
    big = {"x": ["a" * 1000] * 300}
    assert jcs_checked(big) is None
    assert jcs(big) == rfc8785.dumps(big)


def test_footprint_credential_takes_the_fast_path() -> None:
    fp = make_footprints("jp", 2)[1]
    vc = footprint_credential(fp, "did:example:issuer")
    fast = jcs_checked(vc)
    assert fast is not None and fast == rfc8785.dumps(vc)
