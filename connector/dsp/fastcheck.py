"""A compiled yes/no check for the JSON Schema subset the DSP 2025-1 schemas use.

``jsonschema`` interprets a schema on every call (~0.5 ms for a small DSP message, ~8 ms
for a policy with many constraints on this machine), which would dominate a protocol round
trip. The 2025-1 schemas use only a small set of keywords, so we compile each schema once
into nested closures that answer "valid or not" in microseconds. ``schemas.validate`` runs
this first and asks ``jsonschema`` only when it says "invalid", to produce the readable
problem list; tests check the two agree on every example and on many mutations of them.

Compilation refuses any keyword outside the supported set, so a future schema using one
cannot be silently half-checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urldefrag, urljoin

from referencing import Registry

Check = Callable[[Any], bool]

_ANNOTATIONS = frozenset({"$schema", "$id", "title", "definitions", "$comment", "description"})
_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
}


def _all(checks: list[Check]) -> Check:
    """Conjunction, unrolled for the short lists schemas produce (this is the hot path)."""
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        a, b = checks
        return lambda v: a(v) and b(v)
    if len(checks) == 3:
        a, b, c = checks
        return lambda v: a(v) and b(v) and c(v)
    head, rest = checks[0], _all(checks[1:])
    return lambda v: head(v) and rest(v)


class UnsupportedSchema(ValueError):
    """The schema uses a keyword this checker does not implement."""


class Compiler:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._by_url: dict[str, Check] = {}

    def compile_url(self, url: str) -> Check:
        """The check for the schema at absolute ``url`` (with optional JSON-Pointer fragment)."""
        if url in self._by_url:
            return self._by_url[url]
        cell: list[Check] = []
        # Placeholder first, so recursive references (Catalog in Catalog) terminate.
        self._by_url[url] = lambda v: cell[0](v)
        resolved = self._registry.resolver().lookup(url)
        check = self.compile(resolved.contents, urldefrag(url)[0])
        cell.append(check)
        self._by_url[url] = check
        return check

    def compile(self, schema: Any, base: str) -> Check:
        if schema is True or schema == {}:
            return lambda v: True
        if not isinstance(schema, dict):
            raise UnsupportedSchema(f"schema node {schema!r} is not an object")
        checks: list[Check] = []
        for key, arg in schema.items():
            if key in _ANNOTATIONS:
                continue
            checks.append(self._keyword(key, arg, schema, base))
        return _all(checks)

    def _keyword(self, key: str, arg: Any, schema: dict[str, Any], base: str) -> Check:
        if key == "type":
            names = arg if isinstance(arg, list) else [arg]
            try:
                tests = [_TYPES[n] for n in names]
            except KeyError as exc:
                raise UnsupportedSchema(f"type {exc.args[0]!r}") from None
            return lambda v: any(t(v) for t in tests)
        if key == "$ref":
            return self.compile_url(urljoin(base, arg))
        if key == "const":
            const_type = type(arg)
            return lambda v: v == arg and type(v) is const_type
        if key == "enum":
            if all(isinstance(e, str) for e in arg):
                members = frozenset(arg)
                return lambda v: isinstance(v, str) and v in members
            return lambda v: any(type(v) is type(e) and v == e for e in arg)
        if key == "required":
            names = tuple(arg)
            return lambda v: not isinstance(v, dict) or all(n in v for n in names)
        if key == "properties":
            props = tuple((name, self.compile(sub, base)) for name, sub in arg.items())

            def properties(v: Any) -> bool:
                if not isinstance(v, dict):
                    return True
                for name, check in props:
                    if name in v and not check(v[name]):
                        return False
                return True

            return properties
        if key == "items":
            if isinstance(arg, list):
                raise UnsupportedSchema("tuple-form items")
            item = self.compile(arg, base)

            def items(v: Any) -> bool:
                if not isinstance(v, list):
                    return True
                for element in v:
                    if not item(element):
                        return False
                return True

            return items
        if key == "minItems":
            return lambda v: not isinstance(v, list) or len(v) >= arg
        if key == "contains":
            sub = self.compile(arg, base)
            return lambda v: not isinstance(v, list) or any(sub(e) for e in v)
        if key == "pattern":
            regex = re.compile(arg)
            return lambda v: not isinstance(v, str) or regex.search(v) is not None
        if key in ("allOf", "anyOf", "oneOf"):
            subs = [self.compile(s, base) for s in arg]
            if key == "allOf":
                return _all(subs)
            if key == "anyOf":
                return lambda v: any(s(v) for s in subs)

            def one_of(v: Any) -> bool:
                matched = 0
                for sub in subs:
                    if sub(v):
                        matched += 1
                        if matched > 1:
                            return False
                return matched == 1

            return one_of
        if key == "not":
            sub = self.compile(arg, base)
            return lambda v: not sub(v)
        raise UnsupportedSchema(f"keyword {key!r}")
