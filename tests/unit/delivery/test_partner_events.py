"""Direct PACT partners as events recipients: the settings' checks, where answers and
Published notifications may go, and who is told about which footprints."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connector.config import ConfigError, PactClient, Settings, load_settings
from connector.dataplane import Partner, StaticPartners
from connector.delivery.partner_events import _AUDIENCE, ConfiguredPartners, partner_of

SECRET = "a-secret-of-16-chars-or-more"
EVENTS = {"events_base_url": "https://buyer.example/pact/", "partner_client_id": "jp",
          "partner_client_secret": "issued-by-buyer"}


def client(client_id: str = "buyer", **extra: Any) -> PactClient:
    return PactClient(client_id=client_id, client_secret=SECRET, **extra)


def settings(*clients: PactClient, **extra: Any) -> Settings:
    return Settings(name="JP", participant_id="did:web:jp.example", key_file=Path("k.jwk"), api_key="k" * 16,
                    pact_clients=clients, **extra)


def test_event_settings_are_normalised() -> None:
    c = client(**EVENTS, subscribe=[3, "2", "3"])
    assert c.events_base_url == "https://buyer.example/pact" and c.subscribe == ("3", "2") and c.sends_events
    p = partner_of(c)
    assert p.events_url("3") == "https://buyer.example/pact/3/events"
    assert p.token_endpoint() == "https://buyer.example/pact/auth/token"
    assert (p.client_id, p.client_secret, p.subscribed, p.client_ids) == ("jp", "issued-by-buyer", {"2", "3"}, {"buyer"})
    other = partner_of(client(**EVENTS, partner_token_url="https://idp.buyer.example/token"))
    assert other.token_endpoint() == "https://idp.buyer.example/token" and other.subscribed == frozenset()
    assert not client().sends_events


@pytest.mark.parametrize("extra, problem", [
    ({"events_base_url": "https://buyer.example"}, "needs partner_client_id and partner_client_secret"),
    ({**EVENTS, "partner_client_secret": None}, "go together"),
    ({"partner_client_id": "jp", "partner_client_secret": "s"}, "only used with events_base_url"),
    ({"subscribe": ["3"]}, "subscribe needs events_base_url"),
    ({**EVENTS, "subscribe": ["4"]}, 'versions "2" and/or "3"'),
    ({**EVENTS, "subscribe": [True]}, 'versions "2" and/or "3"'),
    ({**EVENTS, "events_base_url": "buyer.example/pact"}, "absolute http(s) URL"),
    ({**EVENTS, "events_base_url": "ftp://buyer.example"}, "absolute http(s) URL"),
    ({**EVENTS, "events_base_url": "https://u:p@buyer.example"}, "must not carry credentials"),
    ({**EVENTS, "events_base_url": "https://buyer.example/?x=1"}, "query or fragment"),
    ({**EVENTS, "partner_token_url": "https://buyer.example/token#f"}, "query or fragment"),
    ({**EVENTS, "partner_client_id": ""}, "at least 1 character"),
])
def test_incomplete_or_wrong_event_settings_are_refused(extra: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as err:
        client(**extra)
    assert problem in str(err.value)


def test_plain_http_only_on_loopback_when_allowed_and_client_ids_unique() -> None:
    local = client(**{**EVENTS, "events_base_url": "http://127.0.0.1:9000"})
    assert settings(local, allow_http_loopback=True).pact_clients == (local,)
    with pytest.raises(ValidationError, match="plain http"):
        settings(local)
    with pytest.raises(ValidationError, match="plain http"):
        settings(client(**{**EVENTS, "events_base_url": "http://buyer.example"}), allow_http_loopback=True)
    with pytest.raises(ValidationError, match="plain http"):
        settings(client(**EVENTS, partner_token_url="http://idp.example/token"), allow_http_loopback=True)
    with pytest.raises(ValidationError, match="appears twice"):
        settings(client("buyer"), client("buyer", **EVENTS))


def test_toml_pact_clients_with_events(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    base = ('[connector]\nname = "JP"\nparticipant_id = "did:web:jp.example"\nkey_file = "k.jwk"\n'
            'api_key = "kkkkkkkkkkkkkkkk"\n\n[[connector.pact_clients]]\nclient_id = "buyer"\n'
            f'client_secret = "{SECRET}"\nevents_base_url = "https://buyer.example"\n')
    config.write_text(base + 'partner_client_id = "jp"\npartner_client_secret = "s"\nsubscribe = ["2", "3"]\n')
    loaded = load_settings(config, env={}).pact_clients[0]
    assert loaded.subscribe == ("2", "3") and loaded.partner_client_id == "jp"
    config.write_text(base)
    with pytest.raises(ConfigError, match=r"pact_clients\.0: .*needs partner_client_id"):
        load_settings(config, env={})


def test_requests_are_answered_only_to_the_requesting_clients_own_endpoint() -> None:
    partners = ConfiguredPartners([client("buyer", **EVENTS), client("reader")])
    assert partners.for_request("https://anywhere.example/3/events", "buyer").base_url == "https://buyer.example/pact"
    # StaticPartners would send the reader's (or an EDR holder's) answer to the buyer's endpoint
    # because the event names the buyer's origin as its source; ours answers nobody
    spoofed = "https://buyer.example/3/events"
    assert StaticPartners([partner_of(client("buyer", **EVENTS))]).for_request(spoofed, "reader") is not None
    assert partners.for_request(spoofed, "reader") is None
    assert partners.for_request(spoofed, "did:web:tw.example") is None


async def test_subscribers_hear_only_about_footprints_they_may_read() -> None:
    partners = ConfiguredPartners([
        client("buyer", **EVENTS, subscribe=["2", "3"]),
        client("auditor", **EVENTS, subscribe=["3"], footprint_ids=["a", "c"]),
        client("quiet", **EVENTS),  # answers requests, subscribes to nothing
        client("reader", subscribe=()),
    ])
    assert [p.name for p in partners.subscribers("2")] == ["buyer"]
    assert [p.name for p in partners.subscribers("3")] == ["buyer", "auditor"]
    assert partners.audiences(["a", "b"]) == [("auditor", ["a"]), ("buyer", ["a", "b"])]
    assert partners.audiences(["b"]) == [("buyer", ["b"])]

    async def seen_by(name: str) -> list[str]:
        _AUDIENCE.set(name)
        await asyncio.sleep(0)
        return [p.name for p in partners.subscribers("3")]

    # the audience of one send is private to its task
    assert await asyncio.gather(seen_by("auditor"), seen_by("buyer")) == [["auditor"], ["buyer"]]
    assert [p.name for p in partners.subscribers("3")] == ["buyer", "auditor"]
    assert isinstance(partners.subscribers("3")[0], Partner)
