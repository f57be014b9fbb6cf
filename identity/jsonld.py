"""JSON-LD 1.1 to RDF for signed documents, with processed contexts cached and undefined terms caught.

Why our own processor: general JSON-LD processors re-process the (large, protected,
scoped) VC contexts for every document, which costs ~0.7 ms per credential; here each
(active context, local context) step is computed once and reused. It also lets us see every
key and type that expands to nothing -- terms JSON-LD would silently drop, so a signature
would not cover them (the undefined-term attack) -- and report them by name.

Scope: the JSON-LD 1.1 context processing rules (protected, scoped and type-scoped
contexts, @propagate, @import, @vocab, compact IRIs, keyword aliases) and the expansion and
toRdf rules for node, value and list objects, @set/@list/@graph/@language/@index
containers, @json literals and reverse properties. Features we have no use for (@nest,
@included, @id/@type maps, @base, property-valued indexes, lists of lists) raise
`ContextError` naming the feature rather than being guessed at. Exactness is checked
against pyoxigraph's full JSON-LD parser in the tests.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

import rfc8785

from identity.contexts import load_context
from identity.errors import CanonicalizationError, ContextError

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = f"<{RDF}type>"
RDF_FIRST = f"<{RDF}first>"
RDF_REST = f"<{RDF}rest>"
RDF_NIL = f"<{RDF}nil>"
_XSD_STRING = XSD + "string"
_XSD_INTEGER = XSD + "integer"
_XSD_DOUBLE = XSD + "double"
_XSD_BOOLEAN = XSD + "boolean"
_RDF_JSON = RDF + "JSON"
_RDF_LANGSTRING = RDF + "langString"

KEYWORDS = frozenset(
    "@base @container @context @direction @graph @id @import @included @index @json @language "
    "@list @nest @none @prefix @propagate @protected @reverse @set @type @value @version @vocab".split()
)
_CONTEXT_KEYWORDS = frozenset(
    "@base @direction @import @language @propagate @protected @version @vocab".split()
)
_KEYWORD_LIKE = re.compile(r"^@[a-zA-Z]+$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:")
_BAD_IRI_CHARS = re.compile(r'[\x00-\x20<>"{}|^`\\]')
#: An absolute IRI (scheme group 1) with none of `_BAD_IRI_CHARS`: what `expand_iri` returns
#: unchanged and `iri_term` accepts, unless a term named like its scheme is a prefix.
_CLEAN_ABSOLUTE = re.compile(r'([a-zA-Z][a-zA-Z0-9+.\-]*):[^\x00-\x20<>"{}|^`\\]*\Z')
_GEN_DELIMS = (":", "/", "?", "#", "[", "]", "@")
_UNSET: Any = object()
MAX_CONTEXT_DEPTH = 32

Quad = tuple[str, str, str, str | None]


@dataclass(frozen=True)
class TermDef:
    iri: str | None
    type_mapping: str | None = None
    container: frozenset[str] = frozenset()
    context: Any = _UNSET
    protected: bool = False
    reverse: bool = False
    language: Any = _UNSET
    direction: Any = _UNSET
    prefix: bool = False
    index: str | None = None
    nest: str | None = None

    @property
    def plain(self) -> bool:
        """True when a string value under this term is a plain literal, whatever the context."""
        return (
            self.type_mapping is None
            and not self.container
            and self.context is _UNSET
            and self.language is _UNSET
            and self.direction is _UNSET
            and not self.reverse
        )

    def same_as(self, other: TermDef) -> bool:
        """Equality ignoring `protected`, as the protected-redefinition rule requires."""
        return replace(self, protected=False) == replace(other, protected=False)


@dataclass
class ActiveContext:
    terms: dict[str, TermDef] = field(default_factory=dict)
    vocab: str | None = None
    language: str | None = None
    direction: str | None = None
    previous: ActiveContext | None = None
    # cache of processed children: key -> ActiveContext
    children: dict[Any, tuple[Any, ActiveContext]] = field(default_factory=dict, repr=False, compare=False)

    def special_keys(self) -> frozenset[str]:
        """Keys that make an object a value, list, set or graph object here (keywords and aliases)."""
        cached = self.children.get("special-keys")
        if cached is None:
            wanted = ("@value", "@list", "@set", "@graph")
            keys = frozenset(wanted).union(t for t, d in self.terms.items() if d.iri in wanted)
            cached = self.children["special-keys"] = (None, keys)  # type: ignore[assignment]
        return cached[1]  # type: ignore[return-value]

    def copy(self) -> ActiveContext:
        return ActiveContext(dict(self.terms), self.vocab, self.language, self.direction, self.previous)


_EMPTY = ActiveContext()


def _fail(reason: str) -> ContextError:
    return ContextError(f"JSON-LD processing failed: {reason}")


# --------------------------------------------------------------------------------------
# Context processing (JSON-LD 1.1 Processing Algorithms, section 4.1 and 4.2)
# --------------------------------------------------------------------------------------
def _context_key(local: Any) -> Any:
    if isinstance(local, str) or local is None:
        return local
    if isinstance(local, list) and all(isinstance(x, str) for x in local):
        return tuple(local)
    return json.dumps(local, sort_keys=True, separators=(",", ":"))


MAX_CACHED_CHILDREN = 256


def process_context(
    active: ActiveContext,
    local: Any,
    *,
    override_protected: bool = False,
    propagate: bool = True,
    _depth: int = 0,
) -> ActiveContext:
    """Apply a local context to an active one; results are cached on the active context.

    Two cache keys: the identity of the local context object (scoped contexts inside pinned
    files are long-lived, so this is one dict lookup) and, failing that, its content.
    The entry keeps the local object alive so its id cannot be reused while cached.
    """
    children = active.children
    identity_key = (id(local), override_protected, propagate)
    hit = children.get(identity_key)
    if hit is not None and hit[0] is local:
        return hit[1]
    content_key = (_context_key(local), override_protected, propagate)
    hit = children.get(content_key)
    if hit is None:
        result = _process_context(active, local, override_protected, propagate, _depth)
        if len(children) < MAX_CACHED_CHILDREN:
            children[content_key] = (local, result)
    else:
        result = hit[1]
    if len(children) < MAX_CACHED_CHILDREN:
        children[identity_key] = (local, result)
    return result


def _process_context(
    active: ActiveContext, local: Any, override_protected: bool, propagate: bool, depth: int
) -> ActiveContext:
    if depth > MAX_CONTEXT_DEPTH:
        raise _fail("contexts nest or include each other too deeply")
    result = active.copy()
    if isinstance(local, dict) and "@propagate" in local:
        propagate = local["@propagate"]
        if not isinstance(propagate, bool):
            raise _fail("@propagate must be true or false")
    if not propagate and result.previous is None:
        result.previous = active
    for ctx in local if isinstance(local, list) else [local]:
        if ctx is None:
            if not override_protected and any(t.protected for t in result.terms.values()):
                raise _fail("invalid context nullification: a null context cannot clear protected terms")
            prev = result
            result = ActiveContext()
            if not propagate:
                result.previous = prev
            continue
        if isinstance(ctx, str):
            document = load_context(ctx)
            result = _process_context(result, document["@context"], False, True, depth + 1)
            continue
        if not isinstance(ctx, dict):
            raise _fail(f"a local context must be an object, URL or null, not {type(ctx).__name__}")
        if "@version" in ctx and ctx["@version"] != 1.1:
            raise _fail(f"unsupported @version {ctx['@version']!r}")
        if "@import" in ctx:
            url = ctx["@import"]
            if not isinstance(url, str):
                raise _fail("@import must be a URL string")
            imported = load_context(url)["@context"]
            if not isinstance(imported, dict):
                raise _fail(f"imported context {url} must be a single object")
            if "@import" in imported:
                raise _fail(f"imported context {url} itself uses @import")
            ctx = {**imported, **{k: v for k, v in ctx.items() if k != "@import"}}
        if "@base" in ctx and ctx["@base"] is not None:
            raise _fail("@base in a context is not supported (documents must use absolute IRIs)")
        if "@vocab" in ctx:
            vocab = ctx["@vocab"]
            if vocab is None:
                result.vocab = None
            elif isinstance(vocab, str):
                expanded = expand_iri(result, vocab, vocab=True, document_relative=True)
                if expanded is None or not (_SCHEME.match(expanded) or expanded.startswith("_:")):
                    raise _fail(f"@vocab {vocab!r} is not an absolute IRI")
                result.vocab = expanded
            else:
                raise _fail("@vocab must be a string or null")
        if "@language" in ctx:
            lang = ctx["@language"]
            if lang is not None and not isinstance(lang, str):
                raise _fail("@language must be a string or null")
            result.language = lang
        if "@direction" in ctx:
            direction = ctx["@direction"]
            if direction not in (None, "ltr", "rtl"):
                raise _fail("@direction must be 'ltr', 'rtl' or null")
            result.direction = direction
        defined: dict[str, bool] = {}
        protected = ctx.get("@protected", False)
        for term in ctx:
            if term in _CONTEXT_KEYWORDS:
                continue
            _create_term(result, ctx, term, defined, protected, override_protected, depth)
    return result


def _create_term(
    active: ActiveContext,
    local: dict[str, Any],
    term: str,
    defined: dict[str, bool],
    protected: bool,
    override_protected: bool,
    depth: int,
) -> None:
    if term in defined:
        if defined[term]:
            return
        raise _fail(f"cyclic IRI mapping for term {term!r}")
    if term == "":
        raise _fail("the empty string cannot be a term")
    defined[term] = False
    value = local[term]
    if term == "@type":
        if not isinstance(value, dict) or not set(value) <= {"@container", "@protected"} or value.get(
            "@container", "@set"
        ) != "@set":
            raise _fail("@type may only be redefined as {'@container': '@set'}")
    elif term in KEYWORDS:
        raise _fail(f"keyword {term} cannot be redefined")
    elif _KEYWORD_LIKE.match(term):
        defined[term] = True
        return
    previous = active.terms.pop(term, None)
    simple = False
    if value is None:
        value = {"@id": None}
    elif isinstance(value, str):
        value = {"@id": value}
        simple = True
    elif not isinstance(value, dict):
        raise _fail(f"term {term!r} must map to a string, object or null")
    iri: str | None
    type_mapping = None
    if "@type" in value:
        t = value["@type"]
        if not isinstance(t, str):
            raise _fail(f"@type of term {term!r} must be a string")
        type_mapping = expand_iri(active, t, vocab=True, local=local, defined=defined, depth=depth)
        if type_mapping not in ("@id", "@json", "@none", "@vocab") and not (
            type_mapping and _SCHEME.match(type_mapping)
        ):
            raise _fail(f"term {term!r} has an invalid type mapping {t!r}")
    reverse = False
    prefix = False
    if "@reverse" in value:
        if "@id" in value or "@nest" in value:
            raise _fail(f"reverse term {term!r} cannot also have @id or @nest")
        rev = value["@reverse"]
        if not isinstance(rev, str) or _KEYWORD_LIKE.match(rev):
            raise _fail(f"@reverse of term {term!r} must be an IRI")
        iri = expand_iri(active, rev, vocab=True, local=local, defined=defined, depth=depth)
        if iri is None or not (_SCHEME.match(iri) or iri.startswith("_:")):
            raise _fail(f"@reverse of term {term!r} is not an absolute IRI")
        reverse = True
    elif "@id" in value and value["@id"] != term:
        raw = value["@id"]
        if raw is None:
            iri = None
        elif not isinstance(raw, str):
            raise _fail(f"@id of term {term!r} must be a string")
        elif raw not in KEYWORDS and _KEYWORD_LIKE.match(raw):
            defined[term] = True
            return
        else:
            iri = expand_iri(active, raw, vocab=True, local=local, defined=defined, depth=depth)
            # A relative mapping is kept (as other processors do); any use of it is then
            # reported as undefined, since RDF drops relative IRIs.
            if iri is None:
                raise _fail(f"term {term!r} maps to {raw!r}, which cannot be expanded")
            if iri == "@context":
                raise _fail("@context cannot be aliased")
            if (":" in term[1:-1] or "/" in term) and expand_iri(
                active, term, vocab=True, local=local, defined=defined, depth=depth
            ) != iri:
                raise _fail(f"term {term!r} looks like an IRI but maps to a different IRI")
            if simple and (iri.endswith(_GEN_DELIMS) or iri.startswith("_:")) and ":" not in term and "/" not in term:
                prefix = True
    elif ":" in term[1:]:
        pfx, suffix = term.split(":", 1)
        if pfx in local:
            _create_term(active, local, pfx, defined, protected, override_protected, depth)
        if pfx in active.terms and active.terms[pfx].iri is not None:
            iri = active.terms[pfx].iri + suffix  # type: ignore[operator]
        else:
            iri = term
    elif "/" in term:
        iri = expand_iri(active, term, vocab=True)
        if iri is None or not _SCHEME.match(iri):
            raise _fail(f"term {term!r} is not an absolute IRI")
    elif term == "@type":
        iri = "@type"
    elif active.vocab is not None:
        iri = active.vocab + term
    else:
        raise _fail(f"term {term!r} has no IRI mapping and there is no @vocab")
    container: frozenset[str] = frozenset()
    if "@container" in value:
        c = value["@container"]
        items = c if isinstance(c, list) else [c]
        if not all(isinstance(x, str) for x in items) or not set(items) <= {
            "@graph", "@id", "@index", "@language", "@list", "@set", "@type",
        }:
            raise _fail(f"term {term!r} has an invalid @container {c!r}")
        container = frozenset(items)
    index = value.get("@index")
    if index is not None and not isinstance(index, str):
        raise _fail(f"@index of term {term!r} must be a string")
    language = _UNSET
    if "@language" in value:
        language = value["@language"]
        if language is not None and not isinstance(language, str):
            raise _fail(f"@language of term {term!r} must be a string or null")
    direction = _UNSET
    if "@direction" in value:
        direction = value["@direction"]
        if direction not in (None, "ltr", "rtl"):
            raise _fail(f"@direction of term {term!r} must be 'ltr', 'rtl' or null")
    if "@prefix" in value:
        if not isinstance(value["@prefix"], bool) or ":" in term or "/" in term:
            raise _fail(f"invalid @prefix on term {term!r}")
        prefix = value["@prefix"]
    nest = value.get("@nest")
    definition = TermDef(
        iri=iri,
        type_mapping=type_mapping,
        container=container,
        context=value.get("@context", _UNSET),
        protected=bool(value.get("@protected", protected)),
        reverse=reverse,
        language=language,
        direction=direction,
        prefix=prefix,
        index=index,
        nest=nest,
    )
    if previous is not None and previous.protected and not override_protected:
        if not definition.same_as(previous):
            raise _fail(f"protected term {term!r} cannot be redefined")
        definition = previous
    active.terms[term] = definition
    defined[term] = True


def expand_iri(
    active: ActiveContext,
    value: str | None,
    *,
    vocab: bool = False,
    document_relative: bool = False,
    local: dict[str, Any] | None = None,
    defined: dict[str, bool] | None = None,
    depth: int = 0,
) -> str | None:
    """IRI expansion (JSON-LD 1.1 API 5.2); relative results are returned unchanged."""
    if value is None or value in KEYWORDS:
        return value
    if _KEYWORD_LIKE.match(value):
        return None
    if local is not None and defined is not None and value in local and not defined.get(value):
        _create_term(active, local, value, defined, False, False, depth)
    if vocab:
        td = active.terms.get(value)
        if td is not None:
            return td.iri
    if ":" in value[1:]:
        pfx, suffix = value.split(":", 1)
        if pfx == "_" or suffix.startswith("//"):
            return value
        if local is not None and defined is not None and pfx in local and not defined.get(pfx):
            _create_term(active, local, pfx, defined, False, False, depth)
        td = active.terms.get(pfx)
        if td is not None and td.iri is not None and td.prefix:
            return td.iri + suffix
        if _SCHEME.match(value):
            return value
    if vocab and active.vocab is not None:
        return active.vocab + value
    return value


def _is_absolute(iri: str) -> bool:
    return iri.startswith("_:") or bool(_SCHEME.match(iri))


# --------------------------------------------------------------------------------------
# Expansion straight to RDF quads (Expansion 13.x + Deserialize JSON-LD to RDF)
# --------------------------------------------------------------------------------------
def _escape(text: str) -> str:
    """Canonical N-Quads string escaping (as RDFC-1.0 requires)."""
    if not _NEEDS_ESCAPE.search(text):
        return text
    # Plain replaces for the two common characters (JSON literals are full of quotes);
    # backslashes first, so the ones added for quotes are not doubled.
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if '"' in text:
        text = text.replace('"', '\\"')
    if _CONTROL.search(text):
        text = _CONTROL.sub(_escape_char, text)
    return text


_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ECHAR = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _escape_char(m: re.Match[str]) -> str:
    ch = m.group(0)
    return _ECHAR.get(ch) or f"\\u{ord(ch):04X}"


def _json_literal(value: Any, mode: int | None) -> str:
    """The N-Quads term of an `@json` literal: its JCS text, escaped.

    JCS text holds no raw control characters (JSON escapes them) except DEL, so only
    backslashes, quotes and DEL need escaping here, without a regex scan of the whole text.
    """
    text = jcs_text(value, mode)
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if '"' in text:
        text = text.replace('"', '\\"')
    if "\x7f" in text:
        text = text.replace("\x7f", "\\u007F")
    return f'"{text}"^^<{_RDF_JSON}>'


def literal(value: str, datatype: str | None = None, language: str | None = None) -> str:
    if language is not None:
        return f'"{_escape(value)}"@{language}'
    if datatype is None or datatype == _XSD_STRING:
        return f'"{_escape(value)}"'
    return f'"{_escape(value)}"^^<{datatype}>'


# --------------------------------------------------------------------------------------
# JCS (RFC 8785) text, fast path
# --------------------------------------------------------------------------------------
#: Python's compact, key-sorted JSON encoder (C). For values in `JCS_EXACT` mode (see
#: `jcs_mode`) its output is RFC 8785 exactly: code point order equals UTF-16 order within
#: the BMP, both escape exactly the same characters, and the numbers are written alike.
JCS_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
try:
    from _json import make_encoder as _c_make_encoder
except ImportError:  # pragma: no cover - a Python without the C accelerator
    _c_make_encoder = None
#: `JCS_ENCODER.encode` without its per-call set-up (it builds a C encoder on every call)
#: and without the circular-reference bookkeeping, which the limits walk makes moot (a
#: cycle exceeds its node budget). The same C encoder, the same settings: the same bytes.
_JCS_C = (
    _c_make_encoder(None, JCS_ENCODER.default, json.encoder.encode_basestring, None, ":", ",", True, False, False)
    if _c_make_encoder is not None
    else None
)


def _jcs_encode(value: Any) -> str:
    if _JCS_C is None or value.__class__ is str:  # pragma: no cover - see above
        return JCS_ENCODER.encode(value)
    return "".join(_JCS_C(value, 0))
JCS_EXACT = 0  # the encoder's output is RFC 8785
JCS_INTEGRAL = 1  # ... once integral floats (2.0) are written as integers (2)
JCS_SLOW = 2  # needs the general RFC 8785 serialiser (exponents, big ints, non-BMP keys, ...)
_SAFE_INT = 2**53 - 1
_FLOAT_LIMIT = float(2**53)


def jcs_float_mode(value: float) -> int:
    """How the encoder's `repr(value)` relates to the ECMAScript / RFC 8785 form.

    Both pick the shortest round-tripping digits; they differ only in when an exponent is
    used (Python below 1e-4 and from 1e16, ECMAScript below 1e-6 and from 1e21) and in
    integral values (`84.0` against `84`). So a finite, non-integral value whose repr has
    no exponent is written alike (`rfc8785` also starts from `str(value)`); an integral one
    below 2^53 is written as `int(value)`; anything else takes the slow path.
    """
    text = value.__repr__()
    if "e" in text or "n" in text:
        return JCS_SLOW
    if text.endswith(".0"):
        return JCS_INTEGRAL if -_FLOAT_LIMIT < value < _FLOAT_LIMIT else JCS_SLOW
    return JCS_EXACT


def jcs_mode(value: Any) -> int:
    """`JCS_EXACT`, `JCS_INTEGRAL` or `JCS_SLOW` for a JSON value (no limits are checked)."""
    mode = JCS_EXACT
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        v = pop()
        cls = v.__class__
        if cls is dict:
            for k, x in v.items():
                if k.__class__ is not str or (not k.isascii() and max(k) > "\uffff"):
                    return JCS_SLOW
                push(x)
        elif cls is list:
            stack.extend(v)
        elif cls is str or cls is bool or v is None:
            continue
        elif cls is int:
            if not -_SAFE_INT <= v <= _SAFE_INT:
                return JCS_SLOW
        elif cls is float:
            m = jcs_float_mode(v)
            if m == JCS_SLOW:
                return JCS_SLOW
            mode |= m
        else:
            return JCS_SLOW
    return mode


def _integral_floats_as_ints(value: Any) -> Any:
    """`value` with integral floats replaced by ints; containers are copied only on the way
    to a replaced float (the input is never mutated)."""
    cls = value.__class__
    if cls is float:
        return int(value) if value.is_integer() else value
    if cls is dict:
        out = None
        for k, x in value.items():
            xc = x.__class__
            if xc is dict or xc is list or xc is float:
                y = _integral_floats_as_ints(x)
                if y is not x:
                    if out is None:
                        out = dict(value)
                    out[k] = y
        return value if out is None else out
    if cls is list:
        items = None
        for i, x in enumerate(value):
            xc = x.__class__
            if xc is dict or xc is list or xc is float:
                y = _integral_floats_as_ints(x)
                if y is not x:
                    if items is None:
                        items = list(value)
                    items[i] = y
        return value if items is None else items
    return value


def jcs_text(value: Any, mode: int | None = None) -> str:
    """RFC 8785 canonical JSON text of `value`; `mode` is its `jcs_mode` when already known
    (a mode computed for an enclosing value is also valid for `value`)."""
    if mode is None:
        mode = jcs_mode(value)
    try:
        if mode == JCS_EXACT:
            return _jcs_encode(value)
        if mode == JCS_INTEGRAL:
            return _jcs_encode(_integral_floats_as_ints(value))
        return rfc8785.dumps(value).decode("utf-8")
    except (rfc8785.CanonicalizationError, ValueError, TypeError, RecursionError) as exc:
        raise CanonicalizationError(f"JCS canonicalisation failed: {exc}") from exc


def jcs_bytes(value: Any, mode: int | None = None) -> bytes:
    """`jcs_text` as UTF-8 (text with lone surrogates is refused)."""
    try:
        return jcs_text(value, mode).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalizationError(f"JCS canonicalisation failed: {exc}") from exc


def _double(value: float) -> str:
    mantissa, exponent = f"{value:.15E}".split("E")
    mantissa = mantissa.rstrip("0")
    if mantissa.endswith("."):
        mantissa += "0"
    return f"{mantissa}E{int(exponent)}"


_SCALARS = (str, bool, int, float)


# What the undefined-term walk (to_rdf with emit=False) must do with a property's value,
# decided once per node plan from the property's term definition.
_WALK = 0  # walk the value: it may hold node objects or IRIs
_SKIP_SCALARS = 1  # skip it when it is a scalar or a list of scalars (they become literals)
_SKIP = 2  # an @json literal: opaque to JSON-LD, its keys are not terms


_IRI = 3  # a plain @id / @vocab term: a string value is one IRI (memoised)


def _literal_datatype(td: TermDef | None) -> str | None:
    """The datatype IRI of a term whose string values are simply typed literals."""
    if td is None or td.type_mapping in (None, "@id", "@vocab", "@none", "@json"):
        return None
    if td.container or td.context is not _UNSET or td.reverse or td.index is not None:
        return None
    return td.type_mapping


def _check_rule(td: TermDef | None) -> int:
    if td is None:
        return _SKIP_SCALARS
    if td.type_mapping == "@json":
        return _SKIP
    if td.type_mapping in ("@id", "@vocab"):
        simple = not td.container and td.context is _UNSET and not td.reverse and td.index is None
        return _IRI if simple else _WALK
    return _SKIP_SCALARS


#: (id(active context), vocab?, value) -> (the active context, the value's N-Quads term)
#: for IRI values that expand to an acceptable IRI (the context is kept, so ids stay unique).
_IRI_TERMS: dict[tuple[int, bool, str], tuple[ActiveContext, str]] = {}
MAX_IRI_TERMS = 4096


def _scoped_iri(td: TermDef | None) -> bool:
    """An @id/@vocab term with a property-scoped context and nothing else special."""
    return (
        td is not None and td.type_mapping in ("@id", "@vocab") and td.context is not _UNSET
        and not td.container and not td.reverse and td.index is None
    )


def _all_scalars(value: Any) -> bool:
    """True when a value can only become literals, so it has no term to check."""
    if value.__class__ in _SCALARS:
        return True
    return value.__class__ is list and all(v.__class__ in _SCALARS for v in value)


class _Expander:
    """One document's expansion run: blank node labelling, quad output, undefined terms."""

    __slots__ = ("emit_quads", "json_mode", "quads", "undefined", "_bnodes", "_counter", "_max_quads")

    def __init__(self, max_quads: int, emit: bool = True, json_mode: int | None = None) -> None:
        self.emit_quads = emit
        self.json_mode = json_mode
        self.quads: list[Quad] = []
        self.undefined: list[str] = []
        self._bnodes: dict[str, str] = {}
        self._counter = 0
        self._max_quads = max_quads

    def bnode(self, label: str | None = None) -> str:
        if label is not None:
            found = self._bnodes.get(label)
            if found is None:
                found = self._bnodes[label] = f"_:b{self._counter}"
                self._counter += 1
            return found
        name = f"_:b{self._counter}"
        self._counter += 1
        return name

    def emit(self, s: str, p: str, o: str, g: str | None) -> None:
        if not self.emit_quads:
            return
        self.quads.append((s, p, o, g))
        if len(self.quads) > self._max_quads:
            raise _fail(f"document produces more than {self._max_quads} RDF statements")

    def flag(self, what: str) -> None:
        if what not in self.undefined:
            self.undefined.append(what)

    def iri_term(self, iri: str, where: str) -> str | None:
        if iri.startswith("_:"):
            return self.bnode(iri)
        if not _SCHEME.match(iri):
            self.flag(f"{where} (relative IRI {iri!r})")
            return None
        if _BAD_IRI_CHARS.search(iri):
            raise _fail(f"{where} is not a valid IRI: {iri!r}")
        return f"<{iri}>"

    # -- node objects ----------------------------------------------------------------
    def node(
        self,
        element: dict[str, Any],
        active: ActiveContext,
        graph: str | None,
        path: str,
        prop_td: TermDef | None = None,
        from_map: bool = False,
    ) -> str | None:
        """Expand one node object; emit its statements; return its subject term."""
        plan = _node_plan(element, active, prop_td, from_map, path)
        if not self.emit_quads:
            return self.check_node(element, plan, graph, path)
        for t in plan.bad_types:
            self.flag(f"type {t!r} at {path}")
        subject = self.subject(element, plan, path)
        emit_quads = self.emit_quads
        for iri, term in plan.type_terms:
            if term is None:  # a blank node type, or an IRI that iri_term refuses
                term = self.iri_term(iri, f"type at {path}")
            if term is not None and emit_quads:
                self.emit(subject, RDF_TYPE, term, graph)
        active = plan.active
        check_only = not emit_quads
        for key, expanded, td, prop, rule, datatype in plan.props:
            if rule:  # fast paths for the common shapes (see _check_rule)
                if rule == _SKIP:
                    if check_only:
                        continue  # an opaque JSON literal
                else:
                    value = element[key]
                    if rule == _SKIP_SCALARS:
                        if check_only:
                            if _all_scalars(value):
                                continue  # literals only
                        elif datatype is not None and value.__class__ is str:
                            self.emit(subject, prop, literal(value, datatype), graph)
                            continue
                    elif value.__class__ is str:  # _IRI
                        term = self.iri_value(value, active, td.type_mapping == "@vocab", f"{path}.{key}")  # type: ignore[union-attr]
                        if term is not None and emit_quads:
                            self.emit(subject, prop, term, graph)
                        continue
            self.property(element[key], key, expanded, td, prop, subject, active, graph, path, plan.only_graph)
        return subject

    def property(
        self,
        value: Any,
        key: str,
        expanded: str | None,
        td: TermDef | None,
        prop: str,
        subject: str,
        active: ActiveContext,
        graph: str | None,
        path: str,
        only_graph: bool,
    ) -> None:
        """One property of a node object, in general (no fast path applied)."""
        if expanded is None:
            self.flag(f"property {key!r} at {path}")
            return
        here = f"{path}.{key}"
        if expanded == "@graph":
            target = graph if only_graph and graph is None and path == "$" else subject
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    self.node(item, active, target, here)
                elif item is not None:
                    raise _fail(f"@graph at {here} must contain node objects")
            return
        if td is not None and td.reverse:
            for obj in self.values(value, active, td, graph, here):
                if obj.startswith('"'):
                    raise _fail(f"reverse property {key!r} at {here} has a literal value")
                self.emit(obj, prop, subject, graph)
        elif isinstance(value, str) and active.language is None and (td is None or td.plain):
            if self.emit_quads:  # the common case, inlined
                self.emit(subject, prop, literal(value), graph)
        else:
            for obj in self.values(value, active, td, graph, here):
                self.emit(subject, prop, obj, graph)

    def subject(self, element: dict[str, Any], plan: _NodePlan, path: str, check_only: bool = False) -> str:
        """The node's subject term: its @id as an IRI (or blank node label), else a new blank
        node. `check_only`: an @id that is already an absolute, valid IRI that no term could
        rewrite as a compact IRI is returned as it is (no statement will use it)."""
        if plan.id_key is None:
            return self.bnode()
        raw_id = element[plan.id_key]
        if check_only and raw_id.__class__ is str:
            clean = _CLEAN_ABSOLUTE.match(raw_id)
            if clean is not None and clean.group(1) not in plan.active.terms:
                return raw_id  # type: ignore[no-any-return]
        if not isinstance(raw_id, str):
            raise _fail(f"@id at {path} must be a string")
        iri = expand_iri(plan.active, raw_id, document_relative=True)
        subject = self.iri_term(iri or raw_id, f"{path}.{plan.id_key}")
        return subject if subject is not None else self.bnode()

    def check_node(self, element: dict[str, Any], plan: _NodePlan, graph: str | None, path: str) -> str:
        """`node` when only undefined terms are wanted: the plan's properties pre-sorted by
        what checking them takes (see `_NodePlan.checks`), so the common ones cost a lookup."""
        for t in plan.bad_types:
            self.flag(f"type {t!r} at {path}")
        subject = self.subject(element, plan, path, check_only=True)
        for iri, term in plan.type_terms:
            if term is None:
                self.iri_term(iri, f"type at {path}")
        scalar_props, iri_props, other_props = plan.checks or plan.compile_checks()
        active = plan.active
        for entry in scalar_props:
            value = element[entry[0]]
            if value.__class__ not in _SCALARS and not _all_scalars(value):
                self.property(value, *entry, subject, active, graph, path, plan.only_graph)
        active_id = id(active)
        iri_terms = _IRI_TERMS
        for entry, vocab, scoped in iri_props:
            key = entry[0]
            value = element[key]
            vc = value.__class__
            if vc is str:
                if scoped is None:
                    hit = iri_terms.get((active_id, vocab, value))
                    if hit is None or hit[0] is not active:
                        self.iri_value(value, active, vocab, f"{path}.{key}")
                else:  # a property-scoped context applies to the value (proofPurpose)
                    hit = iri_terms.get((id(scoped), vocab, value))
                    if hit is None or hit[0] is not scoped:
                        self.iri_value(value, scoped, vocab, f"{path}.{key}")
            elif vc is dict and scoped is None and active.special_keys().isdisjoint(value):
                self.node(value, active, graph, f"{path}.{key}", entry[2])  # an embedded node
            else:
                self.property(value, *entry, subject, active, graph, path, plan.only_graph)
        for entry in other_props:
            self.property(element[entry[0]], *entry, subject, active, graph, path, plan.only_graph)
        return subject

    def iri_value(self, value: str, active: ActiveContext, vocab: bool, path: str) -> str | None:
        """What `values` makes of a string under a plain @id/@vocab term (memoised per
        active context: issuers, verification methods and proof purposes recur)."""
        key = (id(active), vocab, value)
        hit = _IRI_TERMS.get(key)
        if hit is not None and hit[0] is active:
            return hit[1]
        iri = expand_iri(active, value, vocab=vocab, document_relative=True)
        if iri is None:
            self.flag(f"value {value!r} at {path}")
            return None
        term = self.iri_term(iri, path)
        if term is not None and not term.startswith("_:"):  # blank node labels are per run
            if len(_IRI_TERMS) >= MAX_IRI_TERMS:
                _IRI_TERMS.clear()
            _IRI_TERMS[key] = (active, term)
        return term

    # -- property values -------------------------------------------------------------
    def values(
        self, value: Any, active: ActiveContext, td: TermDef | None, graph: str | None, path: str
    ) -> list[str]:
        container = td.container if td is not None else frozenset()
        if td is not None and td.type_mapping == "@json":
            return [_json_literal(value, self.json_mode)]
        if td is not None and td.index is not None and "@index" in container:
            raise _fail(f"property-valued index at {path} is not supported")
        if isinstance(value, dict) and ("@id" in container or "@type" in container):
            raise _fail(f"@id/@type maps (at {path}) are not supported")
        if isinstance(value, dict) and "@language" in container:
            out = []
            for lang, strings in value.items():
                for s in strings if isinstance(strings, list) else [strings]:
                    if s is None:
                        continue
                    if not isinstance(s, str):
                        raise _fail(f"language map value at {path}.{lang} must be a string")
                    if expand_iri(active, lang, vocab=True) == "@none":
                        out.append(literal(s))
                    else:
                        out.append(literal(s, language=lang.lower()))
            return out
        if isinstance(value, dict) and "@index" in container:
            items: list[Any] = []
            for v in value.values():
                items.extend(v if isinstance(v, list) else [v])
            value = items
        if "@list" in container:
            return [self.rdf_list(value if isinstance(value, list) else [value], active, td, graph, path)]
        out = []
        for item in self._flatten(value):
            obj = self.item(item, active, td, graph, path)
            if obj is not None:
                out.append(obj)
        return out

    @staticmethod
    def _flatten(value: Any) -> list[Any]:
        if not isinstance(value, list):
            return [value]
        out: list[Any] = []
        for v in value:
            out.extend(_Expander._flatten(v))
        return out

    def item(
        self, item: Any, active: ActiveContext, td: TermDef | None, graph: str | None, path: str
    ) -> str | None:
        if item is None:
            return None
        container = td.container if td is not None else frozenset()
        if not isinstance(item, dict):
            if td is not None and td.context is not _UNSET:
                active = process_context(active, td.context, override_protected=True)
            return self.scalar(item, active, td, path)
        if active.special_keys().isdisjoint(item):
            if "@graph" in container:
                name = self.bnode()
                self.node(item, active, name, path, td)
                return name
            return self.node(item, active, graph, path, td)
        keys = {k: expand_iri(active, k, vocab=True) for k in item}
        kws = set(keys.values())
        if "@value" in kws:
            return self.value_object(item, keys, active, path)
        if "@list" in kws:
            inner = item[next(k for k, v in keys.items() if v == "@list")]
            if set(kws) - {"@list", "@index"}:
                raise _fail(f"a list object at {path} has extra keys")
            return self.rdf_list(inner if isinstance(inner, list) else [inner], active, td, graph, path)
        if "@set" in kws:
            raise _fail(f"@set objects (at {path}) are not supported")
        if "@graph" in container and "@graph" not in kws:
            name = self.bnode()
            self.node(item, active, name, path, td)
            return name
        return self.node(item, active, graph, path, td)

    def scalar(self, value: Any, active: ActiveContext, td: TermDef | None, path: str) -> str | None:
        type_mapping = td.type_mapping if td is not None else None
        if isinstance(value, str) and type_mapping in ("@id", "@vocab"):
            iri = expand_iri(active, value, vocab=type_mapping == "@vocab", document_relative=True)
            if iri is None:
                self.flag(f"value {value!r} at {path}")
                return None
            return self.iri_term(iri, path)
        datatype = type_mapping if type_mapping not in (None, "@id", "@vocab", "@none") else None
        if isinstance(value, str):
            if datatype is not None:
                return literal(value, datatype)
            language = td.language if td is not None and td.language is not _UNSET else active.language
            if language is not None:
                return literal(value, language=language.lower())
            return literal(value)
        return self.native(value, datatype, path)

    def native(self, value: Any, datatype: str | None, path: str) -> str:
        if isinstance(value, bool):
            return literal("true" if value else "false", datatype or _XSD_BOOLEAN)
        if isinstance(value, int):
            if abs(value) >= 10**21 or datatype == _XSD_DOUBLE:
                return literal(_double(float(value)), datatype or _XSD_DOUBLE)
            return literal(str(value), datatype or _XSD_INTEGER)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise _fail(f"number at {path} is not finite")
            if value.is_integer() and abs(value) < 1e21 and datatype != _XSD_DOUBLE:
                return literal(str(int(value)), datatype or _XSD_INTEGER)
            return literal(_double(value), datatype or _XSD_DOUBLE)
        raise _fail(f"unsupported JSON value of type {type(value).__name__} at {path}")

    def value_object(self, item: dict[str, Any], keys: dict[str, str | None], active: ActiveContext, path: str) -> str | None:
        by_kw: dict[str, Any] = {}
        for k, v in keys.items():
            if v not in ("@value", "@type", "@language", "@direction", "@index", "@context"):
                raise _fail(f"value object at {path} has an invalid key {k!r}")
            by_kw[v] = item[k]  # type: ignore[index]
        value = by_kw["@value"]
        if value is None:
            return None
        if "@type" in by_kw:
            if "@language" in by_kw or "@direction" in by_kw:
                raise _fail(f"value object at {path} has both @type and @language/@direction")
            t = by_kw["@type"]
            if not isinstance(t, str):
                raise _fail(f"@type of value object at {path} must be a string")
            dt = expand_iri(active, t, vocab=True, document_relative=True)
            if dt == "@json":
                return _json_literal(value, self.json_mode)
            if dt is None or not _SCHEME.match(dt):
                self.flag(f"datatype {t!r} at {path}")
                return None
            if isinstance(value, str):
                return literal(value, dt)
            if isinstance(value, (dict, list)):
                raise _fail(f"@value at {path} must be a scalar")
            return self.native(value, dt, path)
        if isinstance(value, (dict, list)):
            raise _fail(f"@value at {path} must be a scalar")
        if "@language" in by_kw:
            lang = by_kw["@language"]
            if not isinstance(value, str) or not isinstance(lang, str):
                raise _fail(f"language-tagged value at {path} must be a string with a string @language")
            return literal(value, language=lang.lower())
        if isinstance(value, str):
            return literal(value)
        return self.native(value, None, path)

    def rdf_list(
        self, items: list[Any], active: ActiveContext, td: TermDef | None, graph: str | None, path: str
    ) -> str:
        objs: list[str] = []
        for i, item in enumerate(items):
            if isinstance(item, list):
                raise _fail(f"lists of lists (at {path}[{i}]) are not supported")
            obj = self.item(item, active, td, graph, f"{path}[{i}]")
            if obj is not None:
                objs.append(obj)
        if not objs:
            return RDF_NIL
        head = self.bnode()
        node = head
        for i, obj in enumerate(objs):
            self.emit(node, RDF_FIRST, obj, graph)
            nxt = RDF_NIL if i == len(objs) - 1 else self.bnode()
            self.emit(node, RDF_REST, nxt, graph)
            node = nxt
        return head


@dataclass
class _NodePlan:
    """What a node object's keys and types mean under one active context (cached)."""

    active: ActiveContext
    id_key: str | None
    #: (type IRI, its N-Quads term when fixed; None for a blank node or an IRI to refuse)
    type_terms: list[tuple[str, str | None]]
    bad_types: list[str]
    #: (key, expanded IRI or None, term definition, N-Quads predicate, fast-path rule,
    #: datatype of a plain typed-literal term)
    props: list[tuple[str, str | None, TermDef | None, str, int, str | None]]
    only_graph: bool
    #: `props` sorted for the undefined-term walk (built on first use): the literal-typed
    #: ones, the @id/@vocab ones (with whether they are @vocab, and the active context of
    #: a property-scoped one), the rest (@json literals left out); each property as
    #: (key, expanded, term definition, predicate).
    checks: tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]] | None = None

    def compile_checks(self) -> tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]:
        scalars, iris, others = [], [], []
        for key, expanded, td, prop, rule, _datatype in self.props:
            entry = (key, expanded, td, prop)
            if rule == _SKIP:
                continue
            if rule == _SKIP_SCALARS:
                scalars.append(entry)
            elif rule == _IRI:
                iris.append((entry, td.type_mapping == "@vocab", None))  # type: ignore[union-attr]
            elif _scoped_iri(td):
                # What `item` then `scalar` do with a string value, the scoped context
                # processed once here rather than per value.
                scoped = process_context(self.active, td.context, override_protected=True)  # type: ignore[union-attr]
                iris.append((entry, td.type_mapping == "@vocab", scoped))  # type: ignore[union-attr]
            else:
                others.append(entry)
        self.checks = (tuple(scalars), tuple(iris), tuple(others))
        return self.checks


_PLANS: dict[Any, tuple[Any, ...]] = {}
#: (context id, property term id, from a map?, keys, @context, "type" value) -> plan, for nodes
#: whose only type key is "type" (or that have none): the plan in one look-up.
_FAST_PLANS: dict[Any, tuple[Any, ...]] = {}
MAX_PLANS = 4096


def _node_plan(
    element: dict[str, Any], active: ActiveContext, prop_td: TermDef | None, from_map: bool, path: str
) -> _NodePlan:
    keys = tuple(element)
    ctx = element.get("@context", _UNSET)
    raw_types = element.get("type", _UNSET)
    # One look-up for the usual node: its plan keyed by everything it depends on when its
    # only type key is "type" (stored below once the general path has shown that).
    k0 = (id(active), id(prop_td), from_map, keys,
          tuple(ctx) if ctx.__class__ is list else ctx if ctx.__class__ is str or ctx is _UNSET else None,
          tuple(raw_types) if raw_types.__class__ is list else raw_types if raw_types.__class__ is str else None)
    try:
        fast = _FAST_PLANS.get(k0)
    except TypeError:  # an unhashable @context or type entry: the general path
        fast = None
    if fast is not None and fast[0] is active and fast[1] is prop_td:
        return fast[2]  # type: ignore[no-any-return]
    ctx_key = _context_key(ctx) if ctx is not _UNSET else _UNSET
    k1 = (id(active), id(prop_td), from_map, keys, ctx_key)
    hit = _PLANS.get(k1)
    if hit is None or hit[0] is not active or hit[1] is not prop_td:
        scoped = active
        if scoped.previous is not None and not from_map:
            expanded_keys = [expand_iri(scoped, k, vocab=True) for k in element]
            if "@value" not in expanded_keys and expanded_keys != ["@id"]:
                scoped = scoped.previous
        if prop_td is not None and prop_td.context is not _UNSET:
            scoped = process_context(scoped, prop_td.context, override_protected=True)
        if ctx is not _UNSET:
            scoped = process_context(scoped, ctx)
        type_keys = tuple(sorted(k for k in element if expand_iri(scoped, k, vocab=True) == "@type"))
        hit = (active, prop_td, scoped, type_keys)
        if len(_PLANS) >= MAX_PLANS:
            _PLANS.clear()
        _PLANS[k1] = hit
    scoped, type_keys = hit[2], hit[3]
    types: list[str] = []
    for k in type_keys:
        raw = element[k]
        for v in raw if isinstance(raw, list) else [raw]:
            if not isinstance(v, str):
                raise _fail(f"@type value at {path}.{k} must be a string")
            types.append(v)
    k2 = (id(hit), tuple(types))
    plan_hit = _PLANS.get(k2)
    if plan_hit is not None and plan_hit[0] is hit:
        plan = plan_hit[1]
    else:
        plan = _make_plan(element, scoped, types, path)
        if len(_PLANS) >= MAX_PLANS:
            _PLANS.clear()
        _PLANS[k2] = (hit, plan)
    if type_keys in (("type",), ()) and k0[4] is not None and (k0[5] is not None or raw_types is _UNSET):
        try:
            hash(k0)
        except TypeError:
            return plan
        if len(_FAST_PLANS) >= MAX_PLANS:
            _FAST_PLANS.clear()
        _FAST_PLANS[k0] = (active, prop_td, plan)
    return plan


def _make_plan(element: dict[str, Any], type_scoped: ActiveContext, types: list[str], path: str) -> _NodePlan:
    active = type_scoped
    for t in sorted(set(types)):
        td = type_scoped.terms.get(t)
        if td is not None and td.context is not _UNSET:
            active = process_context(active, td.context, propagate=False)
    keys = {k: expand_iri(active, k, vocab=True) for k in element}
    kw = {v: k for k, v in keys.items() if v in KEYWORDS}
    if "@value" in kw:
        raise _fail(f"a value object at {path} cannot be a subject")
    for unsupported in ("@included", "@nest", "@reverse"):
        if unsupported in kw:
            raise _fail(f"{unsupported} (at {path}) is not supported")
    type_terms: list[tuple[str, str | None]] = []
    bad_types: list[str] = []
    for t in types:
        iri = expand_iri(type_scoped, t, vocab=True, document_relative=True)
        if iri is None or not _is_absolute(iri):
            bad_types.append(t)
        else:
            fixed = not iri.startswith("_:") and not _BAD_IRI_CHARS.search(iri)
            type_terms.append((iri, f"<{iri}>" if fixed else None))
    props: list[tuple[str, str | None, TermDef | None, str, int, str | None]] = []
    for key, expanded in keys.items():
        if expanded in ("@context", "@id", "@type", "@index"):
            continue
        if expanded in ("@set", "@list", "@language", "@direction", "@json", "@none", "@value"):
            raise _fail(f"unexpected keyword {expanded} at {path}.{key}")
        td = active.terms.get(key)
        if expanded == "@graph":
            props.append((key, expanded, td, "", _WALK, None))
            continue
        if expanded is None or not _is_absolute(expanded):
            props.append((key, None, td, "", _WALK, None))
            continue
        if td is not None and td.nest is not None:
            raise _fail(f"@nest (term {key!r}) is not supported")
        if expanded.startswith("_:"):
            raise _fail(f"property {key!r} at {path} expands to a blank node")
        props.append((key, expanded, td, f"<{expanded}>", _check_rule(td), _literal_datatype(td)))
    only_graph = set(kw) <= {"@graph", "@context"} and len(element) == len(kw)
    return _NodePlan(active, kw.get("@id"), type_terms, bad_types, props, only_graph)


def undefined_terms(document: dict[str, Any]) -> list[str]:
    """`to_rdf(document, emit=False).undefined` without building an `Expansion` (this runs on
    every JCS proof: the document and the proof configuration)."""
    if not isinstance(document, dict):
        raise _fail("a JSON-LD document must be a JSON object")
    run = _Expander(0, False, None)
    run.node(document, _EMPTY, None, "$")
    return run.undefined


@dataclass
class Expansion:
    quads: list[Quad]
    undefined: list[str]


def to_rdf(
    document: dict[str, Any], *, max_quads: int = 100_000, emit: bool = True, json_mode: int | None = None
) -> Expansion:
    """Expand a compact JSON-LD document to RDF statements and list its undefined terms.

    With `emit=False` only the undefined-term walk is done (no statements are returned).
    `json_mode`: the `jcs_mode` of the document, when known, for its `@json` literals.
    """
    if not isinstance(document, dict):
        raise _fail("a JSON-LD document must be a JSON object")
    run = _Expander(max_quads, emit, json_mode)
    run.node(document, _EMPTY, None, "$")
    seen: set[Quad] = set()
    unique = [q for q in run.quads if not (q in seen or seen.add(q))]  # type: ignore[func-returns-value]
    return Expansion(unique, run.undefined)
