"""Canonical bytes of documents: JCS (RFC 8785) and RDFC-1.0 canonical N-Quads, both bounded.

RDFC-1.0 is computed in two tiers. Most signed documents have no blank nodes, or blank
nodes that the first-degree hashes already tell apart; for those the canonical labelling
follows directly from the sorted hashes (RDFC-1.0 section 4.4, steps 1-5) and is done here.
Only when first-degree hashes collide is the N-degree step needed; its cost grows with the
factorial of the colliding groups (poison graphs never finish), so a work estimate is
computed first and datasets over `RDFC_WORK_LIMIT` are refused before pyoxigraph does the
exact N-degree work.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import orjson
import pyoxigraph as ox

from identity.errors import CanonicalizationError, DocumentLimitError, UndefinedTermError
from identity.jsonld import (
    JCS_EXACT,
    JCS_INTEGRAL,
    JCS_SLOW,
    Quad,
    _integral_floats_as_ints,
    jcs_bytes,
    jcs_float_mode,
    literal,
    to_rdf,
    undefined_terms,
)

HashName = Literal["sha256", "sha384"]

MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_STRING = 1_000_000
MAX_QUADS = 20_000
MAX_BLANK_NODES = 5_000
# Estimated number of permutations the N-degree hashing would explore. The official
# poison tests 044-046 score ~1.3e3; the 10-node clique of test074 ~1.2e12.
RDFC_WORK_LIMIT = 100_000

_ALGORITHMS = {
    "sha256": ox.CanonicalizationAlgorithm.RDFC_1_0_SHA_256,
    "sha384": ox.CanonicalizationAlgorithm.RDFC_1_0_SHA_384,
}


# --------------------------------------------------------------------------------------
# Input limits
# --------------------------------------------------------------------------------------
_SAFE_INT = 2**53 - 1


def check_limits(obj: Any, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> bool:
    """Refuse JSON values that are too deep, too large or not plain JSON, before any work.

    Returns True when Python's own sorted, compact JSON encoding of the value is
    byte-identical to RFC 8785 (`limits_mode(...) == JCS_EXACT`).
    """
    return limits_mode(obj, max_depth=max_depth, max_nodes=max_nodes) == JCS_EXACT


def limits_mode(obj: Any, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> int:
    """`check_limits`, returning the value's JCS mode (`identity.jsonld.jcs_mode`) as well.

    `JCS_EXACT`: no float whose repr differs from its ECMAScript form, no integer beyond
    2^53, no object key outside the Basic Multilingual Plane; `JCS_INTEGRAL`: the same once
    integral floats are written as integers; `JCS_SLOW`: anything else.
    """
    # Level by level (no (value, depth) tuples, one depth check per container): this walk
    # runs on every document signed or verified, so it is kept lean.
    budget = max_nodes
    mode = JCS_EXACT
    level: list[Any] = [obj]
    depth = 0
    while level:
        deeper: list[Any] = []
        push = deeper.append
        for container in level:
            cls = container.__class__
            if cls is dict:
                if depth >= max_depth:
                    raise DocumentLimitError(f"document nests deeper than {max_depth} levels")
                budget -= len(container)
                if budget < 0:
                    raise DocumentLimitError(f"document has more than {max_nodes} JSON values")
                for k in container:
                    if k.__class__ is not str:
                        raise DocumentLimitError("document has a non-string object key")
                keys = "".join(container)
                if not keys.isascii() and max(keys) > "\uffff":
                    mode = JCS_SLOW  # UTF-16 order differs from code point order
                values: Any = container.values()
            elif cls is list:
                if depth >= max_depth:
                    raise DocumentLimitError(f"document nests deeper than {max_depth} levels")
                budget -= len(container)
                if budget < 0:
                    raise DocumentLimitError(f"document has more than {max_nodes} JSON values")
                values = container
            else:
                values = (container,)  # a scalar root
            for v in values:
                vc = v.__class__
                if vc is str:
                    if len(v) > MAX_STRING:
                        raise DocumentLimitError(f"document has a string longer than {MAX_STRING} characters")
                elif vc is dict or vc is list:
                    push(v)
                elif vc is int:
                    if not -_SAFE_INT <= v <= _SAFE_INT:
                        mode = JCS_SLOW
                elif vc is float:
                    mode |= jcs_float_mode(v)
                elif vc is not bool and v is not None:
                    raise DocumentLimitError(f"document holds a non-JSON value of type {vc.__name__}")
        level = deeper
        depth += 1
    return mode


# --------------------------------------------------------------------------------------
# JCS
# --------------------------------------------------------------------------------------
#: orjson, key-sorted; anything but plain JSON types is refused (and so takes the general
#: path, which reports it), never serialised in orjson's own way.
_ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)


def _jcs_fast(obj: Any, mode: int) -> bytes:
    """`jcs_bytes(obj, mode)`, through orjson where its bytes are provably RFC 8785.

    `mode` is a `limits_mode` covering `obj` (so it holds only dict, list, str, int, float,
    bool and None, with str keys). In `JCS_EXACT` and `JCS_INTEGRAL` mode (after integral
    floats are made ints) orjson writes the same bytes as RFC 8785:
    - keys: orjson sorts by UTF-8 bytes, i.e. by code point; RFC 8785 by UTF-16 code
      units. The two orders agree unless a key holds a character outside the BMP (a
      surrogate pair, 0xD800-0xDBFF, sorts below U+E000-U+FFFF in UTF-16 only); such keys
      make the mode `JCS_SLOW`. Within the BMP a code point is its own single code unit.
    - strings: both escape only `"`, `\\` and U+0000-U+001F, as \\b \\t \\n \\f \\r and
      otherwise \\u00xx (lowercase hex); `/`, U+007F, U+2028/2029 and non-ASCII are written
      as UTF-8. Lone surrogates are refused by orjson: the general path reports them.
    - numbers: ints are within +-(2^53 - 1); floats are finite, non-integral and in
      Python's plain-decimal range (see `jcs_float_mode`), where orjson, Python's repr and
      ECMAScript all write the same shortest round-trip digits without an exponent.
    """
    # Modes are bit sets (`JCS_INTEGRAL | JCS_SLOW` is slow too): only these two exact values.
    if mode == JCS_EXACT or mode == JCS_INTEGRAL:
        try:
            return orjson.dumps(obj if mode == JCS_EXACT else _integral_floats_as_ints(obj), option=_ORJSON_OPTIONS)
        except orjson.JSONEncodeError:
            pass  # the general path raises the canonicalisation error
    return jcs_bytes(obj, mode)


#: orjson refusing integers beyond +-(2^53 - 1) as well (they need the general path).
_STRICT_OPTIONS = _ORJSON_OPTIONS | orjson.OPT_STRICT_INTEGER
#: The fast path only takes documents this small: every JSON value takes at least one byte
#: of compact output, so the node limit holds, and so does the string limit.
_FAST_MAX_BYTES = min(MAX_NODES, MAX_STRING)
#: `.0` closing a number in compact JSON: where orjson writes an integral float.
_POINT_ZERO = re.compile(rb"\.0(?=[,\]}])")
#: Floats orjson writes without an exponent (ryu switches to one from 1e16 and below 1e-5).
_FIXED_MIN, _FIXED_MAX = 1e-5, 1e15


def jcs_checked(obj: Any) -> bytes | None:
    """RFC 8785 bytes of `obj` with its limits checked, without a Python walk over every
    value; None when that cannot be shown cheaply (the caller takes `limits_mode` and the
    general path, which also report what is wrong).

    orjson itself refuses what is not plain JSON (other types, non-string keys, lone
    surrogates, integers beyond 2^53 with `OPT_STRICT_INTEGER`) and, through the size of its
    output, bounds the node count and string lengths; the float walk bounds the depth as
    `limits_mode` does. Output without any
    byte of a non-BMP character keeps code point and UTF-16 key order alike. What remains
    are floats, collected by a lean walk: any outside orjson's fixed-notation range, or
    non-finite, or a negative zero takes the general path. Of the rest, orjson writes a
    non-integral one as ECMAScript does (same shortest digits, no exponent) and an
    integral one as `N.0` where RFC 8785 writes `N`: those `.0` are removed, and only if the
    number of removals equals the number of integral floats, i.e. no string held a
    look-alike (hypothesis-tested against `rfc8785` in tests/unit/identity/test_canon_fast.py).
    """
    out = _jcs_strings(obj)
    if out is None:
        return None
    floats = _floats(obj)
    if floats is None:
        return None
    integral = 0
    for value in floats:
        magnitude = abs(value)
        if magnitude.is_integer():
            if magnitude >= _FIXED_MAX or (value == 0.0 and math.copysign(1.0, value) < 0):
                return None
            integral += 1
        elif not _FIXED_MIN <= magnitude < _FIXED_MAX:  # also NaN, which orjson writes as null
            return None
    if integral:
        out, removed = _POINT_ZERO.subn(b"", out)
        if removed != integral:
            return None
    return out


def _jcs_strings(obj: Any) -> bytes | None:
    """`jcs_checked` for a value without floats (an object whose values are strings or
    lists of strings): orjson's bytes, within the size limit, with BMP keys only."""
    try:
        out = orjson.dumps(obj, option=_STRICT_OPTIONS)
    except orjson.JSONEncodeError:
        return None
    if len(out) > _FAST_MAX_BYTES:
        return None
    if b"\xf0" in out or b"\xf1" in out or b"\xf2" in out or b"\xf3" in out or b"\xf4" in out:
        return None  # the UTF-8 lead bytes of characters outside the BMP
    return out


def _floats(obj: Any, str: type = str, dict: type = dict, list: type = list, float: type = float) -> list[float] | None:
    """Every float in a JSON value, level by level; None when it nests deeper than
    `MAX_DEPTH` (orjson has already refused anything but plain JSON). The builtins are
    bound as locals and tested with `type(v)` (a specialised call in 3.11): this loop
    touches every value of every document verified."""
    cls = type(obj)
    if cls is not dict and cls is not list:
        return [obj] if cls is float else []
    found: list[float] = []
    keep = found.append
    level = [obj]
    depth = 0
    while level:
        if depth >= MAX_DEPTH:
            return None
        deeper: list[Any] = []
        push = deeper.append
        for container in level:
            for v in container.values() if type(container) is dict else container:
                vc = type(v)
                if vc is str:
                    continue  # most values: one test
                if vc is dict or vc is list:
                    push(v)
                elif vc is float:
                    keep(v)
        level = deeper
        depth += 1
    return found


def jcs(obj: Any) -> bytes:
    """RFC 8785 canonical JSON bytes."""
    fast = jcs_checked(obj)
    return fast if fast is not None else _jcs_fast(obj, limits_mode(obj))


def jcs_defined(doc: dict[str, Any], *, mode: int | None = None, strings_only: bool = False) -> bytes:
    """JCS bytes of a JSON-LD document, refusing it if it uses a term no context defines.

    `mode`: the `limits_mode` of `doc` or of a value that contains it, when the caller has
    already checked the limits (so they are not walked twice); without it the limits are
    checked here (`jcs_checked`, else the walk) before the terms are. `strings_only`: the
    caller has checked that every value is a string or a list of strings within
    `MAX_STRING` (a proof configuration), so there is no float to look for.
    """
    if mode is None:
        fast = _jcs_strings(doc) if strings_only else jcs_checked(doc)
        if fast is not None:
            undefined = undefined_terms(doc)
            if undefined:
                raise UndefinedTermError(undefined)
            return fast
        mode = limits_mode(doc)
    require_checked_terms(doc)
    return _jcs_fast(doc, mode)


# --------------------------------------------------------------------------------------
# JSON-LD checks and RDFC
# --------------------------------------------------------------------------------------
def find_undefined_terms(doc: dict[str, Any]) -> list[str]:
    """Properties, types and IRIs that JSON-LD would silently drop from `doc`, by name and place."""
    check_limits(doc)
    return to_rdf(doc, max_quads=MAX_QUADS, emit=False).undefined


def require_defined_terms(doc: dict[str, Any]) -> None:
    check_limits(doc)
    require_checked_terms(doc)


def require_checked_terms(doc: dict[str, Any]) -> None:
    """`require_defined_terms` for a document whose limits are already checked."""
    undefined = undefined_terms(doc)
    if undefined:
        raise UndefinedTermError(undefined)


def rdfc(doc: dict[str, Any], *, hash: HashName = "sha256", mode: int | None = None) -> str:
    """Canonical N-Quads of a JSON-LD document; undefined terms are an error, not dropped.

    `mode`: as for `jcs_defined` (limits already checked by the caller).
    """
    if mode is None:
        mode = limits_mode(doc)
    expansion = to_rdf(doc, max_quads=MAX_QUADS, json_mode=mode)
    if expansion.undefined:
        raise UndefinedTermError(expansion.undefined)
    return canonicalize_quads(expansion.quads, hash=hash)


def _hasher(name: str) -> Any:
    if name not in _ALGORITHMS:
        raise CanonicalizationError(f"unsupported RDFC-1.0 hash {name!r}; use sha256 or sha384")
    return hashlib.sha256 if name == "sha256" else hashlib.sha384


def serialize_quad(q: Quad) -> str:
    s, p, o, g = q
    return f"{s} {p} {o} .\n" if g is None else f"{s} {p} {o} {g} .\n"


def canonicalize_quads(quads: Sequence[Quad], *, hash: HashName = "sha256") -> str:
    """RDFC-1.0 over quads whose terms are already in N-Quads form (see `identity.jsonld`)."""
    hasher = _hasher(hash)
    quads = list(dict.fromkeys(quads))
    if len(quads) > MAX_QUADS:
        raise DocumentLimitError(f"dataset has more than {MAX_QUADS} statements")
    mentions: dict[str, list[Quad]] = defaultdict(list)
    for q in quads:
        for term in (q[0], q[2], q[3]):
            if term is not None and term.startswith("_:"):
                bucket = mentions[term]
                if not bucket or bucket[-1] is not q:
                    bucket.append(q)
    if not mentions:
        return "".join(sorted({serialize_quad(q) for q in quads}))
    if len(mentions) == 1:
        # One blank node (a proof configuration, say): its first-degree hash is unique,
        # so it is issued _:c14n0 without computing the hash (RDFC-1.0 4.4.3 step 5).
        labels = {next(iter(mentions)): "_:c14n0"}
        return "".join(sorted({serialize_quad(_relabel(q, labels)) for q in quads}))
    if len(mentions) > MAX_BLANK_NODES:
        raise DocumentLimitError(f"dataset has more than {MAX_BLANK_NODES} blank nodes")
    first_degree = {b: _first_degree_hash(b, qs, hasher) for b, qs in mentions.items()}
    groups: dict[str, list[str]] = defaultdict(list)
    for b, h in first_degree.items():
        groups[h].append(b)
    if all(len(members) == 1 for members in groups.values()):
        labels = {groups[h][0]: f"_:c14n{i}" for i, h in enumerate(sorted(groups))}
        return "".join(sorted({serialize_quad(_relabel(q, labels)) for q in quads}))
    work = estimate_work(mentions, first_degree, groups)
    if work > RDFC_WORK_LIMIT:
        raise CanonicalizationError(
            f"dataset exceeds the RDFC-1.0 work limit: blank nodes with identical first-degree "
            f"hashes would need about {work:.3g} N-degree permutations (limit {RDFC_WORK_LIMIT}); "
            "refusing a possible poison graph"
        )
    return _canonicalize_with_oxigraph(quads, hash)


def _relabel(q: Quad, labels: dict[str, str]) -> Quad:
    s, p, o, g = q
    return (
        labels.get(s, s),
        p,
        labels.get(o, o),
        labels.get(g, g) if g is not None else None,
    )


def _first_degree_hash(bnode: str, quads: Iterable[Quad], hasher: Any) -> str:
    lines = []
    for s, p, o, g in quads:
        s = ("_:a" if s == bnode else "_:z") if s.startswith("_:") else s
        o = ("_:a" if o == bnode else "_:z") if o.startswith("_:") else o
        if g is not None and g.startswith("_:"):
            g = "_:a" if g == bnode else "_:z"
        lines.append(serialize_quad((s, p, o, g)))
    lines.sort()
    return hasher("".join(lines).encode("utf-8")).hexdigest()


def estimate_work(
    mentions: dict[str, list[Quad]], first_degree: dict[str, str], groups: dict[str, list[str]]
) -> float:
    """Upper-bound-style estimate of N-degree permutations (RDFC-1.0 section 4.8.3 step 5).

    For each blank node that needs N-degree hashing, related blank nodes are grouped by
    (position, predicate, first-degree hash); every permutation of each group is tried,
    recursively through still-unlabelled neighbours. The estimate multiplies the factorials
    of the group sizes along that neighbourhood, which is what makes cliques explode.
    """
    ambiguous = {b for members in groups.values() if len(members) > 1 for b in members}
    total = 0.0
    for b in ambiguous:
        related: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        for s, p, o, g in mentions[b]:
            for pos, term in (("s", s), ("o", o), ("g", g)):
                if term is not None and term != b and term.startswith("_:"):
                    related[(pos, p, first_degree[term])].add(term)
        cost = 1.0
        for members in related.values():
            ambiguous_members = len(members & ambiguous)
            if ambiguous_members > 1:
                cost *= math.factorial(min(ambiguous_members, 170))
        # recursion: each ambiguous neighbour is revisited with its own permutations
        neighbours = set().union(*related.values()) & ambiguous if related else set()
        total += cost * max(1, len(neighbours))
        if total > RDFC_WORK_LIMIT * 1e6:
            break
    return total


def _canonicalize_with_oxigraph(quads: Sequence[Quad], hash: str) -> str:
    text = "".join(serialize_quad(q) for q in quads)
    try:
        dataset = ox.Dataset(ox.parse(text, format=ox.RdfFormat.N_QUADS))
    except (SyntaxError, ValueError) as exc:
        raise CanonicalizationError(f"RDF dataset is not valid N-Quads: {exc}") from exc
    dataset.canonicalize(_ALGORITHMS[hash])
    return "".join(sorted(serialize_quad(_from_oxigraph(q)) for q in dataset))


def _term(t: Any) -> str:
    if isinstance(t, ox.NamedNode):
        return f"<{t.value}>"
    if isinstance(t, ox.BlankNode):
        return f"_:{t.value}"
    if isinstance(t, ox.Literal):
        return literal(t.value, t.datatype.value if t.language is None else None, t.language)
    raise CanonicalizationError(f"unsupported RDF term {t!r}")


def _from_oxigraph(q: Any) -> Quad:
    g = None if isinstance(q.graph_name, ox.DefaultGraph) else _term(q.graph_name)
    return (_term(q.subject), _term(q.predicate), _term(q.object), g)


def parse_nquads(text: str) -> list[Quad]:
    """Read N-Quads into the quad form used here (for test suites and stored datasets)."""
    try:
        return [_from_oxigraph(q) for q in ox.parse(text, format=ox.RdfFormat.N_QUADS)]
    except (SyntaxError, ValueError) as exc:
        raise CanonicalizationError(f"not valid N-Quads: {exc}") from exc


def canonicalize_nquads(text: str, *, hash: HashName = "sha256") -> str:
    return canonicalize_quads(parse_nquads(text), hash=hash)
