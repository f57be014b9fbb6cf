"""QuerySpec parsing: the shapes EDC clients post, and refusals with reasons."""

from __future__ import annotations

import pytest

from connector.store import Criterion, InvalidQuery, QuerySpec


def test_compact_body() -> None:
    spec = QuerySpec.from_json({
        "@type": "QuerySpec", "offset": 5, "limit": 10, "sortField": "createdAt", "sortOrder": "desc",
        "filterExpression": [{"operandLeft": "state", "operator": "=", "operandRight": "FINALIZED"}],
    })
    assert spec == QuerySpec((Criterion("state", "=", "FINALIZED"),), 5, 10, "createdAt", "DESC")


def test_expanded_json_ld_body() -> None:
    ns = "https://w3id.org/edc/v0.0.1/ns/"
    spec = QuerySpec.from_json({
        f"{ns}offset": [{"@value": 0}], f"{ns}limit": [{"@value": 3}],
        f"{ns}filterExpression": [{
            f"{ns}operandLeft": [{"@value": "id"}], f"{ns}operator": [{"@value": "in"}],
            f"{ns}operandRight": [{"@value": "a"}, {"@value": "b"}],
        }],
    })
    assert spec.limit == 3 and spec.filters == (Criterion("id", "in", ["a", "b"]),)


def test_defaults_and_single_criterion_object() -> None:
    assert QuerySpec.from_json(None) == QuerySpec()
    spec = QuerySpec.from_json({"filterExpression": {"operandLeft": "id", "operator": "=", "operandRight": "x"}})
    assert spec.filters == (Criterion("id", "=", "x"),)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"limit": "many"}, "integers"),
        ({"filterExpression": "state=1"}, "list"),
        ({"filterExpression": [{"operator": "="}]}, "operandLeft"),
        ({"filterExpression": [42]}, "object"),
    ],
)
def test_bad_bodies_are_refused_with_a_reason(body: dict, why: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidQuery, match=why):
        QuerySpec.from_json(body)
