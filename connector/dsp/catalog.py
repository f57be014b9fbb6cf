"""Building DCAT catalogs and answering catalog requests: filters and pages (pure).

The 2025-1 catalog binding leaves ``filter`` implementation-specific and says an unsupported
filter must be answered with 400. We support the criterion shape EDC clients send
(``{"operandLeft": ..., "operator": ..., "operandRight": ...}``, with or without the EDC
namespace), all criteria ANDed. Paging uses ``offset``/``limit`` query parameters carried
in ``Link`` headers with ``rel="next"`` and ``rel="previous"`` (RFC 8288), as the binding's
"Pagination" section requires; the parameters themselves are ours to define.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .errors import ProtocolError
from .messages import DataService, Dataset, Distribution, Offer, RootCatalog

HTTP_PULL = "HttpData-PULL"
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000

T = TypeVar("T")

_EDC_NS = ("https://w3id.org/edc/v0.0.1/ns/", "edc:")
_OPERATORS = ("=", "!=", "in", "like", "ilike")


def data_service(service_id: str, endpoint_url: str) -> DataService:
    """The DSP endpoint of a connector, as a catalog's ``service`` and distributions' ``accessService``."""
    return DataService(id=service_id, endpoint_url=endpoint_url)


def dataset(
    dataset_id: str,
    offers: Sequence[Offer],
    access_service: DataService | str,
    *,
    formats: Iterable[str] = (HTTP_PULL,),
    **metadata: Any,
) -> Dataset:
    """A dataset offered under ``offers`` (each without ``target``), one distribution per format.

    ``access_service`` is the service (or its ``@id``) a consumer negotiates and transfers
    through; extra keyword arguments become additional dataset properties (e.g. ``title``).
    """
    service_ref = access_service.id if isinstance(access_service, DataService) else access_service
    distributions = [Distribution(format=fmt, access_service=service_ref) for fmt in formats]
    return Dataset(id=dataset_id, has_policy=list(offers), distribution=distributions, **metadata)


def build_catalog(
    catalog_id: str,
    participant_id: str,
    service: DataService,
    datasets: Sequence[Dataset],
) -> RootCatalog:
    """The catalog a provider returns: ``participantId``, its data service, and the datasets
    the caller may see (already filtered by access policy and paged by the caller)."""
    return RootCatalog(
        id=catalog_id,
        participant_id=participant_id,
        service=[service],
        dataset=list(datasets) or None,
    )


# --------------------------------------------------------------------------- filters

@dataclass(frozen=True)
class Criterion:
    """``operand_left`` names a property path (dots descend, arrays match any element)."""

    operand_left: str
    operator: str
    operand_right: Any

    def matches(self, item: Mapping[str, Any]) -> bool:
        values = list(_values_at(item, self.operand_left))
        return any(_compare(value, self.operator, self.operand_right) for value in values)


def _strip_edc(key: str) -> str:
    for prefix in _EDC_NS:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def parse_filter(filter_: Sequence[Any] | None) -> tuple[Criterion, ...]:
    """Read the ``filter`` of a CatalogRequestMessage; raise 400 ``UnsupportedFilter`` otherwise."""
    if not filter_:
        return ()
    criteria = []
    for index, raw in enumerate(filter_):
        if not isinstance(raw, Mapping):
            raise ProtocolError(400, "UnsupportedFilter", f"filter[{index}] must be an object with operandLeft, operator, operandRight")
        item = {_strip_edc(str(k)): v for k, v in raw.items() if k != "@type"}
        missing = {"operandLeft", "operator", "operandRight"} - set(item)
        if missing:
            raise ProtocolError(400, "UnsupportedFilter", f"filter[{index}] lacks {', '.join(sorted(missing))}")
        left, op = item["operandLeft"], item["operator"]
        if not isinstance(left, str) or not left:
            raise ProtocolError(400, "UnsupportedFilter", f"filter[{index}].operandLeft must be a property name")
        if op not in _OPERATORS:
            raise ProtocolError(400, "UnsupportedFilter", f"filter[{index}].operator {op!r} is not one of {', '.join(_OPERATORS)}")
        if op == "in" and not isinstance(item["operandRight"], list):
            raise ProtocolError(400, "UnsupportedFilter", f"filter[{index}]: operator 'in' needs an array operandRight")
        criteria.append(Criterion(_strip_edc(left), op, item["operandRight"]))
    return tuple(criteria)


def _values_at(node: Any, path: str) -> Iterable[Any]:
    if path in ("id", "@id") and isinstance(node, Mapping):
        yield node.get("@id", node.get("id"))
        return
    head, _, rest = path.partition(".")
    nodes = node if isinstance(node, list) else [node]
    for current in nodes:
        if not isinstance(current, Mapping):
            continue
        value = current.get(head, current.get(_strip_edc(head)))
        if value is None:
            for key, candidate in current.items():
                if isinstance(key, str) and _strip_edc(key) == head:
                    value = candidate
                    break
        if value is None:
            continue
        if rest:
            yield from _values_at(value, rest)
        elif isinstance(value, list):
            yield from value
        else:
            yield value


def _like(pattern: str, flags: int) -> re.Pattern[str]:
    # SQL LIKE: % is any run, _ is one character; everything else literal.
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(body, flags | re.DOTALL)


def _compare(value: Any, operator: str, right: Any) -> bool:
    if operator == "=":
        return value == right or str(value) == str(right)
    if operator == "!=":
        return not (value == right or str(value) == str(right))
    if operator == "in":
        return any(value == r or str(value) == str(r) for r in right)
    flags = re.IGNORECASE if operator == "ilike" else 0
    return _like(str(right), flags).fullmatch(str(value)) is not None


def filter_items(
    items: Iterable[T], criteria: Sequence[Criterion], view: Callable[[T], Mapping[str, Any]] | None = None
) -> list[T]:
    """The items every criterion matches; ``view`` maps an item to the properties filtered on
    (defaults to the item itself, or its wire form for a model)."""

    def as_mapping(item: T) -> Mapping[str, Any]:
        if view is not None:
            return view(item)
        dump = getattr(item, "dump", None)
        return dump() if callable(dump) else item  # type: ignore[return-value]

    return [item for item in items if all(c.matches(as_mapping(item)) for c in criteria)]


# --------------------------------------------------------------------------- paging

@dataclass(frozen=True)
class PageParams:
    offset: int
    limit: int

    def query(self) -> dict[str, str]:
        return {"offset": str(self.offset), "limit": str(self.limit)}


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    next: PageParams | None
    previous: PageParams | None


def page_params(query: Mapping[str, str], *, default_limit: int = DEFAULT_LIMIT, max_limit: int = MAX_LIMIT) -> PageParams:
    """``offset``/``limit`` from a request's query string; 400 ``InvalidPaging`` if malformed."""
    try:
        offset = int(query.get("offset", 0))
        limit = int(query.get("limit", default_limit))
    except (TypeError, ValueError):
        raise ProtocolError(400, "InvalidPaging", "offset and limit must be integers") from None
    if offset < 0 or limit < 1:
        raise ProtocolError(400, "InvalidPaging", "offset must be >= 0 and limit >= 1")
    return PageParams(offset, min(limit, max_limit))


def paginate(items: Sequence[T], params: PageParams) -> Page[T]:
    """One page of ``items`` and the parameters of its neighbours (``None`` at either end)."""
    total = len(items)
    start = min(params.offset, total)
    end = min(start + params.limit, total)
    nxt = PageParams(end, params.limit) if end < total else None
    prev = PageParams(max(0, start - params.limit), params.limit) if start > 0 else None
    return Page(list(items[start:end]), total, nxt, prev)


def link_header(url: str, page: Page[Any]) -> str | None:
    """The ``Link`` header value for ``page`` (``rel="previous"`` then ``rel="next"``), built on
    ``url`` with its own ``offset``/``limit`` replaced; ``None`` when there is one page only."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("offset", "limit")]
    links = []
    for rel, params in (("previous", page.previous), ("next", page.next)):
        if params is not None:
            query = urlencode(kept + list(params.query().items()))
            links.append(f'<{urlunsplit(parts._replace(query=query))}>; rel="{rel}"')
    return ", ".join(links) or None


_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?([A-Za-z]+)"?')


def parse_link_header(value: str | None) -> dict[str, str]:
    """``{"next": url, "previous": url}`` from a peer's ``Link`` header(s) (consumer side)."""
    if not value:
        return {}
    return {rel: target for target, rel in _LINK.findall(value)}
