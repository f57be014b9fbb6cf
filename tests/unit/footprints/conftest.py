from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "conformance" / "data" / "pact" / "examples"


def load_example(name: str) -> dict[str, Any]:
    doc = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    data = doc.get("data", doc)
    return data[0] if isinstance(data, list) else data


@pytest.fixture
def v2_example() -> dict[str, Any]:
    return load_example("v2/get-footprint-response.json")


@pytest.fixture
def v3_example() -> dict[str, Any]:
    return load_example("v3/example-2.json")


@pytest.fixture
def example() -> Any:
    """Loader for an official example footprint by relative file name."""
    return load_example
