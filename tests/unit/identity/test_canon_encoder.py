"""The reusable C JSON encoder behind `jcs_text` against `json.JSONEncoder.encode`."""

from __future__ import annotations

import json
import math

import pytest

from identity.errors import CanonicalizationError
from identity.jsonld import JCS_ENCODER, _jcs_encode, jcs_mode, jcs_text

VALUES = [
    {"b": 1, "a": [1, 2.5, 'x\u2028"\\', None, True, False], "é": {"z": [], "y": {}}},
    [], {}, 0, -7, 2.5, None, True, "plain", "line\nbreak\t\u0000\u007f", "日本語 🙂",
    {"nested": [[[{"k": [1, {"v": -0.5}]}]]]},
    [{"id": f"urn:uuid:{n}", "n": n, "x": n / 8} for n in range(50)],
]


@pytest.mark.parametrize("value", VALUES)
def test_encoder_bytes_equal_the_json_module(value: object) -> None:
    assert _jcs_encode(value) == JCS_ENCODER.encode(value)
    assert _jcs_encode(value) == json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_encoder_refuses_what_the_json_module_refuses() -> None:
    for bad in ({"a": math.nan}, {"a": math.inf}, {"a": object()}):
        with pytest.raises(CanonicalizationError):
            jcs_text(bad, 0)
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(CanonicalizationError):  # no circular-reference markers: recursion ends it
        jcs_text(loop, jcs_mode([]))
