"""Protocol errors and the DSP error bodies that report them to the peer.

Every rejection of a peer's message is a :class:`ProtocolError` carrying the HTTP status the
binding prescribes (400 for a malformed message or an illegal transition, 404 for an unknown
process), a short machine code and a sentence a person can act on. The HTTP layer turns it
into a ``CatalogError`` / ``ContractNegotiationError`` / ``TransferError`` body with the
builders below, so no bad input ever surfaces as a 5xx or a bare traceback.
"""

from __future__ import annotations

from typing import Any

DSP_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"


class ProtocolError(Exception):
    """A message was refused; ``status`` is the HTTP status the DSP binding prescribes."""

    def __init__(self, status: int, code: str, reason: str, *, details: list[str] | None = None) -> None:
        super().__init__(f"{code}: {reason}")
        self.status = status
        self.code = code
        self.reason = reason
        self.details: list[str] = list(details or [])

    def reasons(self) -> list[str]:
        """The reason followed by any detail lines, as the error body's ``reason`` array."""
        return [self.reason, *self.details]

    def __repr__(self) -> str:
        return f"ProtocolError(status={self.status}, code={self.code!r}, reason={self.reason!r})"


class SchemaViolation(ProtocolError):
    """A message does not conform to the DSP 2025-1 JSON Schema of its kind."""

    def __init__(self, kind: str, errors: list[str]) -> None:
        summary = f"{kind} does not conform to the DSP 2025-1 schema ({len(errors)} problem(s))"
        if errors:
            summary += f": {errors[0]}"
        super().__init__(400, "SchemaViolation", summary, details=errors[1:])
        self.kind = kind
        self.errors = list(errors)


class MalformedMessage(ProtocolError):
    """A message cannot be read at all (not an object, unknown ``@type``, wrong field types)."""

    def __init__(self, reason: str, *, details: list[str] | None = None) -> None:
        super().__init__(400, "MalformedMessage", reason, details=details)


def _reason_list(reason: str | list[Any] | None, error: ProtocolError | None) -> list[Any] | None:
    if reason is not None:
        items = [reason] if isinstance(reason, str) else list(reason)
    elif error is not None:
        items = error.reasons()
    else:
        return None
    # The schemas require reason to be non-empty when present; an empty list means "none".
    return items or None


def _error_body(
    type_: str,
    pids: dict[str, str],
    code: str | None,
    reason: str | list[Any] | None,
    error: ProtocolError | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"@context": [DSP_CONTEXT], "@type": type_, **pids}
    final_code = code if code is not None else (error.code if error is not None else None)
    if final_code is not None:
        body["code"] = final_code
    reasons = _reason_list(reason, error)
    if reasons is not None:
        body["reason"] = reasons
    return body


def catalog_error(
    *, code: str | None = None, reason: str | list[Any] | None = None, error: ProtocolError | None = None
) -> dict[str, Any]:
    """A ``CatalogError`` body; ``code``/``reason`` default to those of ``error``."""
    return _error_body("CatalogError", {}, code, reason, error)


def negotiation_error(
    *,
    consumer_pid: str,
    provider_pid: str,
    code: str | None = None,
    reason: str | list[Any] | None = None,
    error: ProtocolError | None = None,
) -> dict[str, Any]:
    """A ``ContractNegotiationError`` body (both pids are required by the schema)."""
    pids = {"providerPid": provider_pid, "consumerPid": consumer_pid}
    return _error_body("ContractNegotiationError", pids, code, reason, error)


def transfer_error(
    *,
    consumer_pid: str,
    provider_pid: str,
    code: str | None = None,
    reason: str | list[Any] | None = None,
    error: ProtocolError | None = None,
) -> dict[str, Any]:
    """A ``TransferError`` body (both pids are required by the schema)."""
    pids = {"providerPid": provider_pid, "consumerPid": consumer_pid}
    return _error_body("TransferError", pids, code, reason, error)
