"""The long-running commands' event loop: uvloop when installed, asyncio's on request."""

from __future__ import annotations

import asyncio
import sys

import pytest

from connector.config import ConfigError, load_settings
from connector.eventloop import loop_factory, run


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_auto_runs_on_uvloop_when_installed() -> None:
    pytest.importorskip("uvloop")
    assert run(_loop_module(), "auto").startswith("uvloop")
    assert run(_loop_module(), "uvloop").startswith("uvloop")


def test_asyncio_on_request() -> None:
    assert run(_loop_module(), "asyncio").startswith("asyncio")
    assert loop_factory("asyncio") is None


def test_without_uvloop_auto_falls_back_and_uvloop_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    assert loop_factory("auto") is None
    assert run(_loop_module(), "auto").startswith("asyncio")
    with pytest.raises(RuntimeError, match="uvloop is not installed"):
        loop_factory("uvloop")


def test_config_names_the_loop(tmp_path: pytest.TempPathFactory) -> None:
    base = ('[connector]\nname = "x"\nparticipant_id = "did:web:x"\nkey_file = "k.jwk"\n'
            'api_key = "0123456789abcdef"\n')
    path = tmp_path / "c.toml"  # type: ignore[operator]
    path.write_text(base + 'event_loop = "asyncio"\n')
    assert load_settings(path, env={}).event_loop == "asyncio"
    assert load_settings(path, env={"KAKEHASHI_EVENT_LOOP": "uvloop"}).event_loop == "uvloop"
    path.write_text(base + 'event_loop = "trio"\n')
    with pytest.raises(ConfigError):
        load_settings(path, env={})
