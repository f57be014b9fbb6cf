"""PACT API errors: one exception type, rendered per API version.

The Tech Specs name the same condition differently per version (a missing footprint is
``NoSuchFootprint`` in v2 and ``NotFound`` in v3), so handlers raise a version-neutral
kind and the response is built for the version of the route that failed.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Literal

from aiohttp import web

ApiVersion = Literal["2", "3"]


class ErrorKind(Enum):
    """Version-neutral error conditions with their HTTP status."""

    BAD_REQUEST = 400
    NOT_IMPLEMENTED = 400  # PACT answers NotImplemented with 400, not 501
    TOKEN_EXPIRED = 401
    ACCESS_DENIED = 403
    NOT_FOUND = 404
    INTERNAL = 500

    def code(self, version: ApiVersion) -> str:
        if self is ErrorKind.NOT_FOUND:
            return "NoSuchFootprint" if version == "2" else "NotFound"
        return _CODES[self]

    @property
    def status(self) -> int:
        return self.value


_CODES = {
    ErrorKind.BAD_REQUEST: "BadRequest",
    ErrorKind.NOT_IMPLEMENTED: "NotImplemented",
    ErrorKind.TOKEN_EXPIRED: "TokenExpired",
    ErrorKind.ACCESS_DENIED: "AccessDenied",
    ErrorKind.INTERNAL: "InternalError",
}


class PactError(Exception):
    """A PACT API error with a reason a caller can act on."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    def body(self, version: ApiVersion) -> dict[str, str]:
        return {"code": self.kind.code(version), "message": self.message}

    def response(self, version: ApiVersion) -> web.Response:
        headers = {}
        if self.kind is ErrorKind.TOKEN_EXPIRED:
            headers["WWW-Authenticate"] = 'Bearer error="invalid_token", error_description="token expired"'
        return web.Response(
            status=self.kind.status,
            text=json.dumps(self.body(version)),
            content_type="application/json",
            headers=headers,
        )


def bad_request(message: str) -> PactError:
    return PactError(ErrorKind.BAD_REQUEST, message)


def not_implemented(message: str) -> PactError:
    return PactError(ErrorKind.NOT_IMPLEMENTED, message)
