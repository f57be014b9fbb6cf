"""The shared-secret authenticator exists only on loopback with explicit opt-in, and binds tokens."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from connector.auth import AuthError
from connector.config import Settings
from connector.dev_auth import SECRET_ENV, DevAuthUnavailable, SharedSecretAuthenticator

SECRET = "unit-test-shared-secret-0123456789"


def _settings(tmp_path: Path, **kw: object) -> Settings:
    base = dict(name="x", participant_id="did:web:a.test", key_file=tmp_path / "k", api_key="k" * 16,
                allow_http_loopback=True)
    return Settings(**{**base, **kw})  # type: ignore[arg-type]


def test_refused_off_loopback_or_without_opt_in(tmp_path: Path) -> None:
    env = {SECRET_ENV: SECRET}
    with pytest.raises(DevAuthUnavailable, match="loopback"):
        SharedSecretAuthenticator.from_settings(_settings(tmp_path, host="0.0.0.0"), env)
    with pytest.raises(DevAuthUnavailable, match="allow_http_loopback"):
        SharedSecretAuthenticator.from_settings(_settings(tmp_path, allow_http_loopback=False), env)
    with pytest.raises(DevAuthUnavailable, match=SECRET_ENV):
        SharedSecretAuthenticator.from_settings(_settings(tmp_path), {})
    assert SharedSecretAuthenticator.from_settings(_settings(tmp_path), env).participant_id == "did:web:a.test"


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
