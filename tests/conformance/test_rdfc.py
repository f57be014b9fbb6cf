"""The official RDFC-1.0 test suite (w3c/rdf-canon), plus the poison-graph guard."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from identity.canon import canonicalize_nquads
from identity.errors import CanonicalizationError

SUITE = Path(__file__).parent / "data" / "vc" / "rdf-canon-tests"
ENTRIES = json.loads((SUITE / "manifest.jsonld").read_text(encoding="utf-8"))["entries"]
EVAL = [e for e in ENTRIES if e["type"] == "rdfc:RDFC10EvalTest"]
NEGATIVE = [e for e in ENTRIES if e["type"] == "rdfc:RDFC10NegativeEvalTest"]


def test_suite_is_complete() -> None:
    assert len(EVAL) == 64
    assert [e["id"] for e in NEGATIVE] == ["#test074c"]


@pytest.mark.parametrize("entry", EVAL, ids=lambda e: e["id"].lstrip("#"))
def test_eval(entry: dict[str, Any]) -> None:
    algorithm = "sha384" if entry.get("hashAlgorithm") == "SHA384" else "sha256"
    source = (SUITE / entry["action"]).read_text(encoding="utf-8")
    expected = (SUITE / entry["result"]).read_text(encoding="utf-8")
    assert canonicalize_nquads(source, hash=algorithm) == expected


def test_poison_clique_fails_fast_with_work_limit_error() -> None:
    source = (SUITE / NEGATIVE[0]["action"]).read_text(encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(CanonicalizationError, match="exceeds the RDFC-1.0 work limit"):
        canonicalize_nquads(source)
    assert time.perf_counter() - started < 2.0
