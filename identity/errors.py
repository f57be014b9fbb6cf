"""Error classes shared by everything under `identity/`.

Every failure a caller can cause with bad input (a malformed document, an unknown context, a
broken proof) is an `IdentityError` whose message names the check that failed, so the CLI and
the verification report can show it to a person instead of a traceback. `IdentityError`
derives from `ValueError` so generic "bad input" handlers catch it too.
"""

from __future__ import annotations


class IdentityError(ValueError):
    """Base class: an identity operation failed; the message says which check and why."""


class ContextError(IdentityError):
    """A JSON-LD context is not pinned, fails its hash check, or cannot be processed."""


class UndefinedTermError(IdentityError):
    """A document uses a property or type that no active JSON-LD context defines."""

    def __init__(self, terms: list[str]) -> None:
        self.terms = list(terms)
        super().__init__(
            "document uses term(s) that no JSON-LD context defines: " + ", ".join(self.terms)
        )


class CanonicalizationError(IdentityError):
    """JCS or RDFC-1.0 canonicalisation failed or exceeded a safety limit."""


class DocumentLimitError(CanonicalizationError):
    """The input is too large or too deeply nested to process safely."""


class ProofError(IdentityError):
    """A Data Integrity proof could not be created or is malformed."""


class UnknownCryptosuiteError(ProofError):
    """The named cryptosuite is not one this implementation supports."""


class ProofVerificationError(ProofError):
    """A proof was checked and did not verify (signature, purpose, dates, chain...)."""
