"""Trust lists: direct trust, one-step cross-recognition, file formats and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from identity.trust import TrustError, TrustList, TrustStore

JP_AUTH = "did:web:authority.ouranos.jp.example"
TW_AUTH = "did:web:authority.taiwan.tw.example"
KR_AUTH = "did:web:authority.kr.example"

TOML = f"""
[[data_space]]
name = "ouranos-jp"
authorities = ["{JP_AUTH}"]
accepted_types = ["MembershipCredential", "ProductFootprintCredential"]
[[data_space.issuers]]
did = "did:web:acme.jp.example"
types = ["ProductFootprintCredential"]
[[data_space.recognises]]
data_space = "taiwan-tw"
types = ["MembershipCredential"]

[[data_space]]
name = "taiwan-tw"
authorities = ["{TW_AUTH}"]
accepted_types = ["MembershipCredential"]
[[data_space.recognises]]
data_space = "ouranos-jp"
types = ["MembershipCredential"]
[[data_space.recognises]]
data_space = "korea-kr"
types = ["MembershipCredential"]

[[data_space]]
name = "korea-kr"
authorities = ["{KR_AUTH}"]
accepted_types = ["MembershipCredential"]
"""


@pytest.fixture
def store(tmp_path: Path) -> TrustStore:
    path = tmp_path / "trust.toml"
    path.write_text(TOML)
    return TrustStore.load(path)


def test_cross_recognition(store: TrustStore) -> None:
    assert store.who_trusts(JP_AUTH, "MembershipCredential") == ["ouranos-jp", "taiwan-tw"]
    assert store.who_trusts(TW_AUTH, "MembershipCredential") == ["ouranos-jp", "taiwan-tw"]
    # recognition is per type: TW does not accept JP's footprint issuers
    assert store.who_trusts("did:web:acme.jp.example", "ProductFootprintCredential") == ["ouranos-jp"]
    assert store.who_trusts(JP_AUTH, "ProductFootprintCredential") == ["ouranos-jp"]
    # not transitive: JP recognises TW, TW recognises KR, JP does not trust KR
    assert store.who_trusts(KR_AUTH, "MembershipCredential") == ["taiwan-tw", "korea-kr"]
    assert store.who_trusts("did:web:stranger.example", "MembershipCredential") == []
    assert store.who_trusts(JP_AUTH, "SomethingElse") == []
    assert store.is_trusted(TW_AUTH, ["VerifiableCredential", "MembershipCredential"], "ouranos-jp") == ["ouranos-jp"]


def test_json_round_trip(store: TrustStore, tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    path.write_text(json.dumps(store.to_json()))
    again = TrustStore.load(path)
    assert again.names == store.names
    assert again.who_trusts(TW_AUTH, "MembershipCredential") == ["ouranos-jp", "taiwan-tw"]
    single = TrustStore.from_data({"name": "solo", "authorities": [JP_AUTH], "accepted_types": ["X"]})
    assert single.who_trusts(JP_AUTH, "X") == ["solo"]


@pytest.mark.parametrize(
    "data,reason",
    [
        ({"data_space": [{"name": "a", "authorities": ["not-a-did"], "accepted_types": ["X"]}]}, "authorities: 'not-a-did' is not a DID"),
        ({"data_space": [{"name": "a", "authorities": [JP_AUTH]}]}, "accepted_types is empty"),
        ({"data_space": [{"name": "a", "recognises": [{"data_space": "b", "types": ["X"]}]}]}, "unknown data space 'b'"),
        ({"data_space": [{"name": "a"}, {"name": "a"}]}, "listed twice"),
        ({"data_space": [{"name": "a", "autorities": []}]}, "autorities: Extra inputs"),
        ({"data_space": [{"name": "a", "recognises": [{"data_space": "a", "types": ["X"]}]}]}, "cannot recognise itself"),
        ({"data_space": [{"name": "a", "issuers": [{"did": JP_AUTH, "types": []}]}]}, "issuers.0.types"),
        ({"something": 1}, "expected a 'data_space' list"),
    ],
)
def test_bad_trust_lists_name_the_problem(data: object, reason: str) -> None:
    with pytest.raises(TrustError) as info:
        TrustStore.from_data(data)
    assert reason in str(info.value)


def test_bad_files(tmp_path: Path) -> None:
    toml = tmp_path / "t.toml"
    toml.write_text("[[data_space]\nname=")
    with pytest.raises(TrustError, match="not valid TOML"):
        TrustStore.load(toml)
    js = tmp_path / "t.json"
    js.write_text("{")
    with pytest.raises(TrustError, match="not valid JSON"):
        TrustStore.load(js)
    with pytest.raises(TrustError, match="cannot read"):
        TrustStore.load(tmp_path / "missing.toml")
    with pytest.raises(TrustError, match="no trust list for data space 'x'"):
        TrustStore().get("x")


def test_trust_list_model_direct() -> None:
    tl = TrustList(name="ouranos-jp", authorities=[JP_AUTH], accepted_types=["MembershipCredential"])
    assert tl.trusts_directly(JP_AUTH, "MembershipCredential")
    assert not tl.trusts_directly(JP_AUTH, "ProductFootprintCredential")
