"""Errors raised by DID parsing, document handling and resolution."""

from __future__ import annotations

from identity.errors import IdentityError


class DidError(IdentityError):
    """A DID, DID URL or DID document is malformed or does not contain what was asked for."""


class DidResolutionError(DidError):
    """A DID could not be resolved; the message names the DID and the problem."""

    def __init__(self, did: str, problem: str) -> None:
        self.did = did
        self.problem = problem
        super().__init__(f"cannot resolve {did}: {problem}")
