"""RFC 8785 (JCS) against the author's test data: input -> exact output bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from identity.canon import jcs

DATA = Path(__file__).parent / "data" / "vc" / "jcs-testdata"
NAMES = sorted(p.name for p in (DATA / "input").glob("*.json"))


def test_data_present() -> None:
    assert len(NAMES) == 6


@pytest.mark.parametrize("name", NAMES)
def test_output_bytes(name: str) -> None:
    source = json.loads((DATA / "input" / name).read_text(encoding="utf-8"))
    expected = (DATA / "output" / name).read_bytes()
    assert jcs(source) == expected
    hex_file = (DATA / "outhex" / name.replace(".json", ".txt")).read_text(encoding="ascii")
    assert jcs(source) == bytes.fromhex("".join(hex_file.split()))
