"""Plain-text tables that stay aligned with Japanese and Chinese text (wide characters count 2)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def width(text: str) -> int:
    """Terminal columns `text` takes: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 0 if unicodedata.combining(ch) else 1
               for ch in text)


def clip(text: str, limit: int) -> str:
    if width(text) <= limit:
        return text
    out, used = "", 0
    for ch in text:
        w = width(ch)
        if used + w > limit - 1:
            break
        out, used = out + ch, used + w
    return out + "…"


def pad(text: str, columns: int) -> str:
    return text + " " * max(0, columns - width(text))


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, max_width: int = 48) -> str:
    cells = [[clip(str(c), max_width) for c in row] for row in rows]
    widths = [max([width(h)] + [width(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line, "| " + " | ".join(pad(h, w) for h, w in zip(headers, widths)) + " |", line]
    out += ["| " + " | ".join(pad(c, w) for c, w in zip(r, widths)) + " |" for r in cells]
    out.append(line)
    return "\n".join(out)
