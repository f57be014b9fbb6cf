"""Lenient date-time parsing for query values, strict enough to reject garbage."""

from __future__ import annotations

from datetime import datetime, timezone


def parse_instant(value: str) -> datetime | None:
    """An aware datetime from an RFC 3339 / ISO 8601 value, or None when it is not one.

    Accepts what clients really send (``2025-04-01T00:00Z`` from the v3 spec text,
    ``...T00:00:00.000Z`` from JavaScript, a bare date); naive values are taken as UTC.
    """
    text = value.strip()
    if not text or len(text) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def add_years(moment: datetime, years: int) -> datetime:
    """``moment`` shifted by whole years (29 February becomes 28 February)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)
