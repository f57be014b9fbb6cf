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
    """Version-neutral error conditions: (HTTP status, PACT code)."""

    BAD_REQUEST = (400, "BadRequest")
    NOT_IMPLEMENTED = (400, "NotImplemented")  # PACT answers NotImplemented with 400, not 501
    TOKEN_EXPIRED = (401, "TokenExpired")
    ACCESS_DENIED = (403, "AccessDenied")
    NOT_FOUND = (404, "NotFound")
    INTERNAL = (500, "InternalError")

    def code(self, version: ApiVersion) -> str:
        if self is ErrorKind.NOT_FOUND and version == "2":
            return "NoSuchFootprint"  # v2 Tech Specs name; v3 renamed it NotFound
        return self.value[1]

    @property
    def status(self) -> int:
        return self.value[0]


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
