"""Reading the small local files identity and connector code trusts (state, trust lists,
credentials, DID bundles) with a size limit, and errors that name what the file is for."""

from __future__ import annotations

import json
from pathlib import Path


def read_limited(path: Path, what: str, limit: int, error: type[Exception]) -> bytes:
    """The bytes of ``path``; ``error`` ("cannot read {what} {path}: ...", "{what} {path} is
    larger than {limit} bytes") when it cannot be read or is larger than ``limit``."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(raw) > limit:
        raise error(f"{what} {path} is larger than {limit} bytes")
    return raw


def read_limited_text(path: Path, what: str, limit: int, error: type[Exception]) -> str:
    """As `read_limited`, decoded as UTF-8 ("{what} {path} is not UTF-8 text" if it is not)."""
    raw = read_limited(path, what, limit, error)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{what} {path} is not UTF-8 text") from None


def json_problem(exc: json.JSONDecodeError) -> str:
    """Where and why JSON text is broken, for a person: "Expecting value (line 3, column 7)"
    (the decoder's own message may end in "at", so the position goes in parentheses)."""
    return f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
