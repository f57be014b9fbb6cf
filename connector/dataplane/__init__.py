"""Data plane: the PACT API host (v2.3 / v3.0) behind EDR or OAuth2 tokens, its events,
and signed delivery. See :func:`create_pact_app`."""

from .auth import ChainedAuth, ClientCredentialsAuth, EdrAuth, PactAuth, Principal
from .delivery import EventSender, Partner, StaticPartners
from .errors import ErrorKind, PactError
from .pact_app import PACT_HOST, EventHandler, PactHost, PendingRequest, RequestLog, create_pact_app
from .signing import CredentialRenderer, DetachedJws, Signer
from .source import FootprintSource, InMemoryFootprintSource, StoreFootprintSource

__all__ = [
    "PACT_HOST",
    "ChainedAuth",
    "ClientCredentialsAuth",
    "CredentialRenderer",
    "DetachedJws",
    "EdrAuth",
    "ErrorKind",
    "EventHandler",
    "EventSender",
    "FootprintSource",
    "InMemoryFootprintSource",
    "PactAuth",
    "PactError",
    "PactHost",
    "Partner",
    "PendingRequest",
    "Principal",
    "RequestLog",
    "Signer",
    "StaticPartners",
    "StoreFootprintSource",
    "create_pact_app",
]
