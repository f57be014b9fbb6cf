"""EDC-style QuerySpec (filter, sort, offset, limit) compiled to SQL on top-level columns.

The Management API hands us what a client posted; anything we cannot honour (unknown field,
operator, bad value) raises :class:`InvalidQuery` with the reason, which becomes a 400.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Boolean, Integer, Select, String, Table, Text, bindparam, select
from sqlalchemy.sql.elements import ColumnElement

from .errors import InvalidQuery
from .sqltypes import UtcDateTime

EDC_NS = "https://w3id.org/edc/v0.0.1/ns/"
DEFAULT_LIMIT = 50
MAX_LIMIT = 10_000
OPERATORS = ("=", "!=", "in", "like", "ilike", "<", "<=", ">", ">=")


@dataclass(frozen=True, slots=True)
class Criterion:
    operand_left: str
    operator: str
    operand_right: Any


@dataclass(frozen=True, slots=True)
class QuerySpec:
    filters: tuple[Criterion, ...] = ()
    offset: int = 0
    limit: int = DEFAULT_LIMIT
    sort_field: str | None = None
    sort_order: str = "ASC"

    @classmethod
    def from_json(cls, obj: Mapping[str, Any] | None) -> QuerySpec:
        """Read a compact (``offset``), prefixed (``edc:offset``) or expanded QuerySpec body."""
        if not obj:
            return cls()
        body = _unprefix_keys(obj)
        raw_filters = body.get("filterExpression") or []
        if isinstance(raw_filters, Mapping):
            raw_filters = [raw_filters]
        if not isinstance(raw_filters, list):
            raise InvalidQuery("filterExpression must be a list of criteria")
        filters = []
        for raw in raw_filters:
            if not isinstance(raw, Mapping):
                raise InvalidQuery(f"criterion must be an object, got {type(raw).__name__}")
            c = _unprefix_keys(raw)
            if "operandLeft" not in c or "operator" not in c:
                raise InvalidQuery(f"criterion needs operandLeft and operator: {dict(raw)!r}")
            filters.append(Criterion(_scalar(c["operandLeft"]), _scalar(c["operator"]), _value(c.get("operandRight"))))
        try:
            offset = int(_scalar(body.get("offset", 0)))
            limit = int(_scalar(body.get("limit", DEFAULT_LIMIT)))
        except (TypeError, ValueError) as exc:
            raise InvalidQuery(f"offset and limit must be integers: {exc}") from None
        sort_field = body.get("sortField")
        return cls(
            filters=tuple(filters),
            offset=offset,
            limit=limit,
            sort_field=_scalar(sort_field) if sort_field is not None else None,
            sort_order=str(_scalar(body.get("sortOrder", "ASC"))).upper(),
        )


def _unprefix(key: str) -> str:
    for prefix in (EDC_NS, "edc:"):
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def _unprefix_keys(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {_unprefix(k): v for k, v in obj.items()}


def _value(v: Any) -> Any:
    """Unwrap expanded JSON-LD values (``[{"@value": x}]``) to plain ones."""
    if isinstance(v, Mapping) and "@value" in v:
        return v["@value"]
    if isinstance(v, Mapping) and "@id" in v and len(v) == 1:
        return v["@id"]
    if isinstance(v, list):
        if len(v) == 1 and isinstance(v[0], Mapping):
            return _value(v[0])
        return [_value(x) for x in v]
    return v


def _scalar(v: Any) -> Any:
    v = _value(v)
    if isinstance(v, list) and len(v) == 1:
        return v[0]
    return v


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


_FIELD_MAPS: dict[tuple[Table, tuple[tuple[str, str], ...]], dict[str, ColumnElement[Any]]] = {}


def field_map(table: Table, aliases: Mapping[str, str] | None = None) -> dict[str, ColumnElement[Any]]:
    """Names a client may use for each column: snake_case, camelCase and given aliases.

    Computed once per table (repositories are built for every transaction); treat the
    returned mapping as read-only."""
    key = (table, tuple(sorted((aliases or {}).items())))
    cached = _FIELD_MAPS.get(key)
    if cached is None:
        cached = _FIELD_MAPS[key] = _build_field_map(table, aliases)
    return cached


def _build_field_map(table: Table, aliases: Mapping[str, str] | None) -> dict[str, ColumnElement[Any]]:
    out: dict[str, ColumnElement[Any]] = {}
    for col in table.columns:
        out[col.name] = col
        out[_camel(col.name)] = col
    if "id" in table.c:
        out["@id"] = table.c.id
    for alias, col_name in (aliases or {}).items():
        out[alias] = table.c[col_name]
    return out


def _coerce(col: ColumnElement[Any], value: Any, field_name: str) -> Any:
    if value is None:
        return None
    ctype = col.type
    try:
        if isinstance(ctype, UtcDateTime):
            if isinstance(value, datetime):
                return value if value.tzinfo else value.replace(tzinfo=UTC)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return datetime.fromtimestamp(value / 1000, UTC)  # EDC uses epoch millis
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if isinstance(ctype, Boolean):
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true"
            raise ValueError(f"{value!r} is not a boolean")
        if isinstance(ctype, Integer):
            if isinstance(value, bool):
                raise ValueError(f"{value!r} is not an integer")
            return int(value)
        if isinstance(ctype, (String, Text)):
            if isinstance(value, (dict, list)):
                raise ValueError(f"{value!r} is not a string")
            return str(value)
    except (TypeError, ValueError) as exc:
        raise InvalidQuery(f"bad value for {field_name!r}: {exc}") from None
    raise InvalidQuery(f"field {field_name!r} cannot be filtered")


def _criterion(c: Criterion, fields: Mapping[str, ColumnElement[Any]]) -> ColumnElement[bool]:
    name = _unprefix(str(c.operand_left))
    col = fields.get(name)
    if col is None:
        known = sorted(k for k in fields if not k.startswith("@") and "_" not in k)
        raise InvalidQuery(f"unknown field {c.operand_left!r}; filterable fields: {', '.join(known)}")
    op = str(c.operator).lower()
    if op not in OPERATORS:
        raise InvalidQuery(f"unsupported operator {c.operator!r}; use one of {', '.join(OPERATORS)}")
    right = c.operand_right
    if op == "in":
        values = right if isinstance(right, list) else [right]
        return col.in_([_coerce(col, v, name) for v in values])
    if isinstance(right, list):
        raise InvalidQuery(f"operator {c.operator!r} takes one value, got a list for {name!r}")
    value = _coerce(col, right, name)
    if op in ("like", "ilike"):
        if not isinstance(col.type, (String, Text)):
            raise InvalidQuery(f"'like' needs a text field; {name!r} is not one")
        return col.like(value) if op == "like" else col.ilike(value)
    if value is None:
        if op == "=":
            return col.is_(None)
        if op == "!=":
            return col.is_not(None)
        raise InvalidQuery(f"operator {op!r} cannot compare {name!r} with null")
    return {
        "=": lambda: col == value,
        "!=": lambda: col != value,
        "<": lambda: col < value,
        "<=": lambda: col <= value,
        ">": lambda: col > value,
        ">=": lambda: col >= value,
    }[op]()


_ORDER_RE = re.compile(r"^(ASC|DESC)$")


def _check_paging(spec: QuerySpec) -> None:
    if spec.offset < 0:
        raise InvalidQuery(f"offset must be >= 0, got {spec.offset}")
    if not 0 <= spec.limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be between 0 and {MAX_LIMIT}, got {spec.limit}")
    if not _ORDER_RE.match(spec.sort_order):
        raise InvalidQuery(f"sortOrder must be ASC or DESC, got {spec.sort_order!r}")


def apply_query(stmt: Select[Any], table: Table, spec: QuerySpec, fields: Mapping[str, ColumnElement[Any]]) -> Select[Any]:
    """Add WHERE / ORDER BY / OFFSET / LIMIT for ``spec``; order is stable (primary key last)."""
    _check_paging(spec)
    for crit in spec.filters:
        stmt = stmt.where(_criterion(crit, fields))
    pk = list(table.primary_key.columns)
    if spec.sort_field:
        col = fields.get(_unprefix(spec.sort_field))
        if col is None:
            raise InvalidQuery(f"unknown sortField {spec.sort_field!r}")
        stmt = stmt.order_by(col.desc() if spec.sort_order == "DESC" else col.asc())
    stmt = stmt.order_by(*pk)
    return stmt.offset(spec.offset).limit(spec.limit)


@cache
def _plain(table: Table) -> Select[Any]:
    """``SELECT * ... ORDER BY <pk> LIMIT :k_limit OFFSET :k_offset``, built once per table."""
    return (select(table).order_by(*table.primary_key.columns)
            .offset(bindparam("k_offset", type_=Integer())).limit(bindparam("k_limit", type_=Integer())))


def query_statement(table: Table, spec: QuerySpec,
                    fields: Mapping[str, ColumnElement[Any]]) -> tuple[Select[Any], dict[str, Any]]:
    """``apply_query(select(table), ...)`` and its parameters; a spec without filters or sort
    (the catalog's, the default listing) uses a statement built once (no per-call compile)."""
    if spec.filters or spec.sort_field:
        return apply_query(select(table), table, spec, fields), {}
    _check_paging(spec)
    return _plain(table), {"k_offset": spec.offset, "k_limit": spec.limit}


def criteria(*triples: tuple[str, str, Any], offset: int = 0, limit: int = DEFAULT_LIMIT,
             sort_field: str | None = None, sort_order: str = "ASC") -> QuerySpec:
    """Build a QuerySpec in code: ``criteria(("state", "=", "FINALIZED"), limit=10)``."""
    return QuerySpec(tuple(Criterion(*t) for t in triples), offset, limit, sort_field, sort_order)


__all__ = ["Criterion", "QuerySpec", "apply_query", "criteria", "field_map", "InvalidQuery", "query_statement"]
