from __future__ import annotations

import pytest

from policies.engine import Facts, Request, evaluate, resolve_inheritance
from policies.errors import InheritanceError, PolicyLimitError
from policies.jsonld import parse_policy
from policies.limits import Limits

from .conftest import NOW


def _pol(uid, parents=(), **extra):
    doc = {"@type": "Set", "@id": uid, "odrl:inheritFrom": [{"@id": p} for p in parents]}
    doc.update(extra)
    return parse_policy(doc)


def test_child_gains_parent_rules() -> None:
    parent = _pol("urn:p", prohibition=[{"action": "distribute"}], conflict="prohibit", target="urn:a")
    child = _pol("urn:c", ["urn:p"], permission=[{"action": "use"}])
    merged = resolve_inheritance(child, {"urn:p": parent}.get)
    assert len(merged.prohibitions) == 1 and merged.prohibitions[0].target == "urn:a"
    assert merged.conflict == "prohibit" and not merged.inherit_from
    assert not evaluate(merged, Request("distribute", "urn:a"), Facts(now=NOW), scope="transfer").permitted
    assert evaluate(merged, Request("read", "urn:a"), Facts(now=NOW), scope="transfer").permitted


def test_cycles_missing_parents_and_depth() -> None:
    a, b = _pol("urn:a", ["urn:b"]), _pol("urn:b", ["urn:a"])
    with pytest.raises(InheritanceError, match="cycle"):
        resolve_inheritance(a, {"urn:a": a, "urn:b": b}.get)
    with pytest.raises(InheritanceError, match="not known"):
        resolve_inheritance(_pol("urn:x", ["urn:nope"]), {}.get)
    chain = {f"urn:{i}": _pol(f"urn:{i}", [f"urn:{i + 1}"]) for i in range(20)}
    chain["urn:20"] = _pol("urn:20")
    with pytest.raises(PolicyLimitError, match="longer than 3"):
        resolve_inheritance(chain["urn:0"], chain.get, limits=Limits(max_inheritance_depth=3))
    assert resolve_inheritance(chain["urn:0"], chain.get, limits=Limits(max_inheritance_depth=30)).uid == "urn:0"
