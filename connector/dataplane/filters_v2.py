"""The OData v4 ``$filter`` subset that PACT v2 ListFootprints uses.

Supported: comparisons ``path op literal`` with ``eq ne lt le gt ge`` on property paths
(``created``, ``pcf/geographyCountry``, ...), lambdas over arrays
``productIds/any(p:(p eq 'urn:...'))``, ``and``, and parentheses. Dates compare as
instants, numbers as numbers. ``or``, ``not`` and functions are valid OData we do not
implement (-> NotImplemented, 400); text that is not OData is a BadRequest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from .errors import bad_request, not_implemented
from .source import Footprint
from .timeutil import parse_instant

MAX_FILTER_LENGTH = 2000
MAX_TERMS = 50
_OPS = {"eq", "ne", "lt", "le", "gt", "ge"}
_UNSUPPORTED = {"or", "not", "has", "in", "add", "sub", "mul", "div", "mod", "all"}

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:[^']|'')*')
      | (?P<lpar>\()
      | (?P<rpar>\))
      | (?P<colon>:)
      | (?P<comma>,)
      | (?P<word>[A-Za-z_$][\w$]*(?:/[A-Za-z_$][\w$]*)*)
      | (?P<bare>[0-9+\-][^\s()',]*|[^\s()',:]+)
    )""",
    re.VERBOSE,
)

Matcher = Callable[[Footprint], bool]


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str


def _tokenise(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise bad_request(f"$filter: cannot read {text[pos:pos + 20]!r} at position {pos}")
        kind = m.lastgroup or ""
        tokens.append(_Tok(kind, m.group(kind)))
        pos = m.end()
    return tokens


def _literal(tok: _Tok) -> str:
    if tok.kind == "str":
        return tok.text[1:-1].replace("''", "'")
    if tok.kind in ("bare", "word"):
        return tok.text
    raise bad_request(f"$filter: expected a literal value, got {tok.text!r}")


def _lookup(fp: Any, path: list[str]) -> Any:
    for part in path:
        if not isinstance(fp, dict):
            return None
        fp = fp.get(part)
    return fp


def _compare(actual: Any, op: str, literal: str) -> bool:
    if actual is None or isinstance(actual, (dict, list)):
        return False
    if isinstance(actual, bool):
        actual = "true" if actual else "false"
    if isinstance(actual, (int, float)):
        try:
            left: Any = Decimal(str(actual))
            right: Any = Decimal(literal)
        except InvalidOperation:
            return op == "ne"
    else:
        left, right = str(actual), literal
        lt, rt = parse_instant(left), parse_instant(right)
        if lt is not None and rt is not None and ("T" in left or "t" in left):
            left, right = lt, rt
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    try:
        return {"lt": left < right, "le": left <= right, "gt": left > right, "ge": left >= right}[op]
    except TypeError:
        return False


class _Parser:
    def __init__(self, tokens: list[_Tok]) -> None:
        self.toks = tokens
        self.i = 0
        self.terms = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str | None = None, text: str | None = None) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise bad_request("$filter ends too early")
        if (kind and tok.kind != kind) or (text and tok.text.lower() != text):
            raise bad_request(f"$filter: expected {text or kind!r}, got {tok.text!r}")
        self.i += 1
        return tok

    def expr(self) -> Matcher:
        parts = [self.term()]
        while (tok := self.peek()) is not None and tok.kind == "word":
            word = tok.text.lower()
            if word == "and":
                self.i += 1
                parts.append(self.term())
            elif word in _UNSUPPORTED:
                raise not_implemented(f"$filter operator {tok.text!r} is not supported (only 'and')")
            else:
                raise bad_request(f"$filter: unexpected {tok.text!r}")
        return parts[0] if len(parts) == 1 else (lambda fp, ps=tuple(parts): all(p(fp) for p in ps))

    def term(self) -> Matcher:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise bad_request(f"$filter has more than {MAX_TERMS} terms")
        tok = self.peek()
        if tok is None:
            raise bad_request("$filter ends too early")
        if tok.kind == "lpar":
            self.i += 1
            inner = self.expr()
            self.take("rpar")
            return inner
        if tok.kind != "word":
            raise bad_request(f"$filter: expected a property path, got {tok.text!r}")
        if tok.text.lower() in _UNSUPPORTED:
            raise not_implemented(f"$filter operator {tok.text!r} is not supported")
        self.i += 1
        path = tok.text.split("/")
        if path[-1].lower() in ("any", "all"):
            if path[-1].lower() == "all":
                raise not_implemented("$filter lambda 'all' is not supported (only 'any')")
            return self.lambda_any(path[:-1])
        nxt = self.peek()
        if nxt is not None and nxt.kind == "lpar":
            raise not_implemented(f"$filter function {tok.text!r} is not supported")
        op_tok = self.take("word")
        op = op_tok.text.lower()
        if op not in _OPS:
            if op in _UNSUPPORTED:
                raise not_implemented(f"$filter operator {op_tok.text!r} is not supported")
            raise bad_request(f"$filter: {op_tok.text!r} is not a comparison operator")
        value = _literal(self.take())
        return lambda fp, p=path, o=op, v=value: _compare(_lookup(fp, p), o, v)

    def lambda_any(self, collection: list[str]) -> Matcher:
        if not collection:
            raise bad_request("$filter: any() needs a collection path")
        self.take("lpar")
        var = self.take("word").text
        self.take("colon")
        depth = 0
        while (tok := self.peek()) is not None and tok.kind == "lpar":
            self.i += 1
            depth += 1
        left = self.take("word").text.split("/")
        if left[0] != var:
            raise bad_request(f"$filter: any() body must compare the variable {var!r}")
        op = self.take("word").text.lower()
        if op not in _OPS:
            raise not_implemented(f"$filter operator {op!r} is not supported inside any()")
        value = _literal(self.take())
        for _ in range(depth):
            self.take("rpar")
        self.take("rpar")
        sub = left[1:]

        def match(fp: Footprint) -> bool:
            items = _lookup(fp, collection)
            if not isinstance(items, list):
                return False
            return any(_compare(_lookup(item, sub) if sub else item, op, value) for item in items)

        return match


def parse_filter(text: str) -> Matcher | None:
    """A predicate for a v2 ``$filter`` value; None for an empty filter (match all)."""
    if len(text) > MAX_FILTER_LENGTH:
        raise bad_request(f"$filter longer than {MAX_FILTER_LENGTH} characters")
    if not text.strip():
        return None
    parser = _Parser(_tokenise(text))
    matcher = parser.expr()
    if parser.peek() is not None:
        raise bad_request(f"$filter: unexpected {parser.peek().text!r}")  # type: ignore[union-attr]
    return matcher
