"""The shared-secret authenticator (unit tests' stand-in) binds its tokens; the product never
falls back to it: without DCP settings a connector cannot be built at all."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from connector.auth import AuthError
from connector.config import Settings
from tests.auth_stub import SharedSecretAuthenticator
from connector.protocol.services import default_authenticator

SECRET = "unit-test-shared-secret-0123456789"


def test_the_product_authenticates_with_dcp_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The variable that used to switch the shared secret on changes nothing any more.
    monkeypatch.setenv("KAKEHASHI_DEV_AUTH_SECRET", SECRET)
    settings = Settings(name="x", participant_id="did:web:127.0.0.1%3A8181", key_file=tmp_path / "k",
                        api_key="k" * 16, allow_http_loopback=True)
    with pytest.raises(RuntimeError, match="DCP authentication needs a trust_file"):
        default_authenticator(settings)


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        SharedSecretAuthenticator("did:web:a.test", "short")


def test_token_is_audience_bound_and_expires() -> None:
    alice = SharedSecretAuthenticator("did:web:alice.test", SECRET)
    bob = SharedSecretAuthenticator("did:web:bob.test", SECRET)
    assert bob.verify(alice.issue("did:web:bob.test")).participant_id == "did:web:alice.test"
    with pytest.raises(AuthError, match="not addressed"):
        alice.verify(alice.issue("did:web:bob.test"))
    with pytest.raises(AuthError, match="expired"):
        bob.verify(alice.issue("did:web:bob.test", now=1_000_000))
    forged = jwt.encode({"iss": "did:web:alice.test", "sub": "did:web:alice.test", "aud": "did:web:bob.test",
                         "exp": 4_000_000_000, "jti": "x"}, "another-secret-of-enough-length", algorithm="HS256")
    with pytest.raises(AuthError, match="invalid"):
        bob.verify(forged)
