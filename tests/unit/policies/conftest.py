from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

JST = timezone(timedelta(hours=9))
TWT = timezone(timedelta(hours=8))
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=JST)


def membership(name: str, **subject: Any) -> dict[str, Any]:
    return {"type": ["VerifiableCredential", "MembershipCredential"], "issuer": "did:web:authority",
            "credentialSubject": {"id": "did:web:partner", "memberOf": name, **subject}}


@pytest.fixture
def now() -> datetime:
    return NOW
