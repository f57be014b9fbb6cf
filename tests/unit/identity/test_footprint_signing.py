"""The byte-level footprint credential signer (`identity.footprint_signing`) against the
general path: ``footprint_credential`` + ``add_proof`` + compact JSON.

Ed25519 and (RFC 6979) ECDSA are deterministic, so for the same second the fast path must
give the very same bytes, from a footprint dict and from its stored JSON; where orjson is
not provably RFC 8785 (exponent floats, big integers, keys outside the BMP, deep documents)
it must fall back and still give them, and every credential it makes must verify.
"""

from __future__ import annotations

import json
import pickle
import struct
import uuid
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.footprints import make_footprints, to_v3
from identity.errors import DocumentLimitError
from identity.footprint_credential import credential_ids, footprint_credential
from identity.footprint_signing import FootprintCredentialSigner
from identity.keys import KeyPair, PublicKey
from identity.proofs import add_proof, verify_proofs

ISSUER = "did:web:jp.example"
VM = ISSUER + "#key-1"
AT = 1_767_225_600  # 2026-01-01T00:00:00Z
KEY = KeyPair.from_raw("Ed25519", bytes(range(32)))
SIGNER = FootprintCredentialSigner(KEY, ISSUER, VM)
FOOTPRINTS = make_footprints("jp", 12, seed=21) + make_footprints("tw", 12, seed=22)
UUID = "8b05f859-9d7d-422d-ba82-46a4f3c7c6e1"


def dumps(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def reference(fp: dict[str, Any], key: KeyPair = KEY, suite: str = "eddsa-jcs-2022") -> bytes:
    """What the connector served before the fast path, signed in the second `AT`."""
    stamp = "2026-01-01T00:00:00Z"
    credential = footprint_credential(fp, ISSUER, valid_from=stamp)
    return dumps(add_proof(credential, key, verification_method=VM, cryptosuite=suite, created=stamp))


def resolve(public: PublicKey) -> Any:
    def resolver(vm: str) -> PublicKey:
        assert vm == VM
        return public
    return resolver


def took_fast_path(signer: FootprintCredentialSigner, fp: dict[str, Any], raw: bytes) -> tuple[bool, bool]:
    return signer._canonical_from_dict(fp) is not None, signer._canonical_from_json(raw)[1] is not None


# --------------------------------------------------------------------------------------
# the sample footprints: byte-identical, fast, verifiable
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["2", "3"])
def test_sample_footprints_are_byte_identical_from_dict_and_from_stored_json(version: str) -> None:
    assert SIGNER.fast
    for fp in FOOTPRINTS:
        fp = to_v3(fp) if version == "3" else fp
        raw = dumps(fp)
        expected = reference(fp)
        assert SIGNER.render(fp, at=AT) == expected
        assert SIGNER.render(raw, at=AT) == expected
        assert took_fast_path(SIGNER, fp, raw) == (True, True)  # floats, integral floats, Japanese text
        assert SIGNER.sign(fp, at=AT) == json.loads(expected)


@pytest.mark.parametrize(("key_type", "suite"), [("P-256", "ecdsa-jcs-2019"), ("P-384", "ecdsa-jcs-2019")])
def test_ecdsa_jcs_suites_take_the_same_path(key_type: str, suite: str) -> None:
    key = KeyPair.generate(key_type)
    signer = FootprintCredentialSigner(key, ISSUER, VM, cryptosuite=suite)
    assert signer.fast
    for fp in FOOTPRINTS[:4]:
        expected = reference(fp, key, suite)
        assert signer.render(fp, at=AT) == expected and signer.render(dumps(fp), at=AT) == expected
        assert verify_proofs(json.loads(expected), resolve(key.public)).ok


def test_rendered_credentials_verify_and_pass_the_auditor_pipeline() -> None:
    import asyncio

    from connector.identity_commands import footprint_schema_check
    from identity.did import did_web_document
    from identity.did.resolver import DidResolver
    from identity.verify import Verifier

    verifier = Verifier(DidResolver(bundle={ISSUER: did_web_document(ISSUER, [("key-1", KEY.public)])}, offline=True),
                        schema_check=footprint_schema_check)
    for fp in FOOTPRINTS[:6]:
        for rendered in (SIGNER.render(fp), SIGNER.render(dumps(fp))):
            credential = json.loads(rendered)
            assert verify_proofs(credential, resolve(KEY.public)).ok
            report = asyncio.run(verifier.verify(credential))
            assert report.valid, report
            tampered = json.loads(rendered)
            tampered["credentialSubject"]["productFootprint"]["pcf"]["pCfExcludingBiogenic"] = "0.001"
            assert not verify_proofs(tampered, resolve(KEY.public)).ok


def test_stored_json_is_served_as_stored() -> None:
    fp = FOOTPRINTS[0]
    raw = json.dumps(fp, ensure_ascii=True, indent=1).encode()  # e.g. another store's text form
    rendered = SIGNER.render(raw, at=AT)
    assert raw in rendered
    credential = json.loads(rendered)
    assert credential == json.loads(reference(fp)) and verify_proofs(credential, resolve(KEY.public)).ok


def test_created_and_valid_from_follow_the_clock_second() -> None:
    first = json.loads(SIGNER.render(FOOTPRINTS[0], at=AT))
    later = json.loads(SIGNER.render(FOOTPRINTS[0], at=AT + 61))
    assert first["proof"]["created"] == first["validFrom"] == "2026-01-01T00:00:00Z"
    assert later["proof"]["created"] == later["validFrom"] == "2026-01-01T00:01:01Z"
    assert verify_proofs(later, resolve(KEY.public)).ok
    now = json.loads(SIGNER.render(dumps(FOOTPRINTS[1])))  # the current second
    assert now["proof"]["created"] == now["validFrom"] and verify_proofs(now, resolve(KEY.public)).ok


def test_picklable_for_a_process_pool() -> None:
    clone = pickle.loads(pickle.dumps(SIGNER))
    assert clone.fast and clone.render(FOOTPRINTS[0], at=AT) == SIGNER.render(FOOTPRINTS[0], at=AT)


# --------------------------------------------------------------------------------------
# fall back where orjson is not provably RFC 8785, with the same result
# --------------------------------------------------------------------------------------
def _with(**members: Any) -> dict[str, Any]:
    return {**FOOTPRINTS[0], **members}


@pytest.mark.parametrize(("fp", "fast_dict", "fast_raw"), [
    (_with(x=2.0, y=-0.0, z=[1.5, 3.0]), True, True),  # integral floats: written as integers
    (_with(x=1e16), False, False),  # exponent in repr
    (_with(x=1e-7), False, False),
    (_with(x=0.00001), False, False),  # plain in orjson, exponent in repr: not trusted
    (_with(x=float(2**53)), False, False),  # integral, but beyond 2^53
    (_with(x=2**53 - 1, y=-(2**53 - 1)), True, True),
    (_with(x=2**53), False, False),
    (_with(x=2**70), False, False),  # orjson reads this as a float
    (_with(**{"\U0001f600": 1, "\uffff": 2}), False, False),  # UTF-16 order differs from code point order
    (_with(comment="絵文字 \U0001f600"), True, False),  # non-BMP value: the raw check is conservative
    (_with(comment='quote " backslash \\ control \x01 \u2028'), True, True),
    (_with(version=1.0), True, False),  # str(version) must not see an int
    (_with(version="1"), True, True),
    (_with(version=None), True, True),
    ({k: v for k, v in FOOTPRINTS[0].items() if k != "version"}, True, True),
    (_with(specVersion=3.0), True, False),
    (_with(id=UUID.upper()), True, True),  # the subject id is the canonical form
    (_with(id="{" + UUID + "}"), True, True),
])
def test_fast_path_or_fallback_gives_the_general_result(fp: dict[str, Any], fast_dict: bool, fast_raw: bool) -> None:
    raw = dumps(fp)
    assert took_fast_path(SIGNER, fp, raw) == (fast_dict, fast_raw)
    assert_same_as_general(fp)


def assert_same_as_general(fp: dict[str, Any]) -> None:
    """render(fp) and render(its stored JSON) give the general path's bytes, or its error."""
    try:
        expected = reference(fp)
    except ValueError as exc:  # limits, canonicalisation (e.g. integers beyond 2^53)
        with pytest.raises(type(exc)):
            SIGNER.render(fp, at=AT)
        with pytest.raises(type(exc)):
            SIGNER.render(dumps(fp), at=AT)
        return
    assert SIGNER.render(fp, at=AT) == expected
    raw = dumps(fp)
    assert SIGNER.render(raw, at=AT) == reference(json.loads(raw))
    assert verify_proofs(json.loads(expected), resolve(KEY.public)).ok


def test_nesting_limit_is_the_general_paths() -> None:
    def nested(depth: int) -> dict[str, Any]:
        value: Any = 1
        for _ in range(depth):
            value = [value]
        return _with(deep=value)

    ok = nested(60)  # 60 lists below the footprint + footprint + subject + credential: within 64
    assert SIGNER.render(ok, at=AT) == reference(ok) and SIGNER.render(dumps(ok), at=AT) == reference(ok)
    deep = nested(62)
    with pytest.raises(DocumentLimitError):
        reference(deep)
    for arg in (deep, dumps(deep)):
        with pytest.raises(DocumentLimitError):
            SIGNER.render(arg, at=AT)


@pytest.mark.parametrize("fp", [{"specVersion": "2.3.0"}, {"id": 7}, {"id": "not-a-uuid"}, [1, 2]])
def test_invalid_footprints_raise_as_the_general_path_does(fp: Any) -> None:
    with pytest.raises(ValueError) as general:
        footprint_credential(fp, ISSUER)
    for arg in (fp, dumps(fp)):
        with pytest.raises(ValueError) as fast:
            SIGNER.render(arg)
        assert type(fast.value) is type(general.value) and str(fast.value) == str(general.value)


def test_lone_surrogates_and_bad_json_fail_like_the_general_path() -> None:
    fp = _with(comment="\ud800")
    with pytest.raises(ValueError):
        reference(fp)
    with pytest.raises(ValueError):
        SIGNER.render(fp, at=AT)
    raw = dumps(_with(comment="x")).replace(b'"x"', b'"\\ud800"')
    with pytest.raises(ValueError):
        SIGNER.render(raw, at=AT)
    with pytest.raises(json.JSONDecodeError):
        SIGNER.render(b'{"id": NaN', at=AT)


def test_an_issuer_the_general_path_refuses_disables_the_fast_path() -> None:
    assert not FootprintCredentialSigner(KEY, "not an iri", "x#key-1").fast


# --------------------------------------------------------------------------------------
# generated footprints
# --------------------------------------------------------------------------------------
_KEYS = st.one_of(st.sampled_from(["a", "b", "pcf", "Ä", "é", "ｶﾅ", "\uffff", "\U0001f600", "𝄞x", "", "z" * 40]),
                  st.text(max_size=6))
_FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**60), 2**60).map(float),
    st.sampled_from([0.0, -0.0, 1.0, 2.5, 1e15, 1e16, 1e21, 1e-6, 1e-7, 5e-324, 0.1 + 0.2, 2.0**53, 123456789.125]),
    st.builds(lambda b: struct.unpack("<d", b)[0], st.binary(min_size=8, max_size=8)).filter(
        lambda f: f == f and abs(f) != float("inf")),
)
_SCALARS = st.one_of(
    st.none(), st.booleans(), _FLOATS,
    st.integers(-(2**64), 2**64), st.integers(-(2**53), 2**53),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
)
_JSON = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(_KEYS, inner, max_size=4)), max_leaves=20)


@st.composite
def _footprints(draw: st.DrawFn) -> dict[str, Any]:
    fp: dict[str, Any] = draw(st.dictionaries(_KEYS, _JSON, max_size=6))
    fp["id"] = draw(st.sampled_from([UUID, UUID.upper(), str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1))))]))
    version = draw(st.sampled_from([None, "absent", 1, 7, 1.0, 2.5, "3", True]))
    if version == "absent":
        fp.pop("version", None)
    else:
        fp["version"] = version
    fp["specVersion"] = draw(st.sampled_from(["2.3.0", "3.0.1", "2.0.0"]))
    return fp


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_footprints())
def test_generated_footprints_match_the_general_path(fp: dict[str, Any]) -> None:
    assert_same_as_general(fp)


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_orjson_reads_stored_json_as_the_stdlib_does(value: Any) -> None:
    """What the fast path relies on when it reads stored JSON with orjson: a document orjson
    accepts reads to the value ``json.loads`` gives, member by member and type by type
    (floats to the same double), except integers beyond 64 bits, which it reads as floats
    that the walk sends to the general path."""
    raw = dumps(value)
    try:
        fast = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return
    slow = json.loads(raw)
    if any(type(v) is int and not -(2**63) <= v < 2**64 for v in _leaves(slow)):
        return
    assert [(type(v), v) for v in _leaves(fast)] == [(type(v), v) for v in _leaves(slow)]


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False).map(repr),
                 st.from_regex(r"-?(0|[1-9][0-9]{0,25})\.[0-9]{1,25}([eE][-+]?[0-9]{1,3})?", fullmatch=True)))
def test_orjson_parses_float_text_to_the_same_double(text: str) -> None:
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:  # out of double range: never on the fast path
        assert abs(float(text)) == float("inf")
        return
    assert float(parsed) == float(text) or (parsed != parsed and float(text) != float(text))


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for k in value for x in (k, *_leaves(value[k]))]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    return [value]


@given(st.one_of(st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()), st.uuids().map(lambda u: u.hex),
                 st.uuids().map(lambda u: f"urn:uuid:{u}"), st.uuids().map(lambda u: "{" + str(u) + "}")),
       st.one_of(st.text(max_size=20), st.integers(), st.none()), st.text(max_size=30))
def test_credential_ids_equal_the_uuid_module(fp_id: str, version: Any, issuer: str) -> None:
    fp = {"id": fp_id, "version": version}
    name = f"{issuer}|{fp_id}|{version}"
    try:
        expected_id = f"urn:uuid:{uuid.uuid5(uuid.UUID('6f1d5f1e-0b7c-4d43-9a0e-6b616b656861'), name)}"
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            credential_ids(fp, issuer)
        return
    assert credential_ids(fp, issuer) == (expected_id, f"urn:uuid:{uuid.UUID(fp_id)}")
