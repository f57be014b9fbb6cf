"""Authority settings (TOML + environment) and the offline `kakehashi authority` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.authority_app import AuthorityConfigError, load_authority_settings
from connector.cli import main
from identity.keys import KeyPair

ADMIN = "unit-admin-key-0123456789"


def config(tmp_path: Path, extra: str = "") -> Path:
    KeyPair.generate().save(tmp_path / "auth.jwk")
    path = tmp_path / "authority.toml"
    path.write_text('[authority]\ndata_space = "ouranos-jp"\nkey_file = "auth.jwk"\nstate_file = "state.json"\n'
                    f'admin_api_key = "{ADMIN}"\n{extra}', encoding="utf-8")
    return path


def test_settings_paths_environment_and_identity(tmp_path: Path) -> None:
    s = load_authority_settings(config(tmp_path), env={"KAKEHASHI_AUTHORITY_PORT": "9443",
                                                       "KAKEHASHI_AUTHORITY_ALLOW_HTTP_LOOPBACK": "yes"})
    assert s.key_file == tmp_path / "auth.jwk" and s.state_file == tmp_path / "state.json"
    assert s.port == 9443 and s.allow_http_loopback is True
    assert s.identity() == ("did:web:127.0.0.1%3A9443", "http://127.0.0.1:9443")
    s = load_authority_settings(config(tmp_path, 'public_url = "https://auth.example/jp/"\n'), env={})
    assert s.identity() == ("did:web:auth.example:jp", "https://auth.example/jp")
    s = load_authority_settings(config(tmp_path, 'did = "did:web:auth.example"\n'), env={})
    assert s.identity() == ("did:web:auth.example", "https://auth.example")


@pytest.mark.parametrize("extra, env, reason", [
    ('admin_api_key = "short"\n', {}, "admin_api_key"),
    ('colour = "blue"\n', {}, "colour: Extra inputs are not permitted"),
    ('did = "did:key:z6Mk"\n', {}, "must be a did:web"),
    ("", {"KAKEHASHI_AUTHORITY_PORT": "http"}, "port"),
    ("[[[", {}, "not valid TOML"),
])
def test_settings_errors_name_the_setting(tmp_path: Path, extra: str, env: dict[str, str], reason: str) -> None:
    path = config(tmp_path)
    path.write_text(path.read_text().replace(f'admin_api_key = "{ADMIN}"\n', "") +
                    ("" if "admin_api_key" in extra else f'admin_api_key = "{ADMIN}"\n') + extra)
    with pytest.raises(AuthorityConfigError, match=reason):
        load_authority_settings(path, env=env)
    with pytest.raises(AuthorityConfigError, match="cannot read config"):
        load_authority_settings(tmp_path / "missing.toml", env={})


def test_port_zero_without_a_url_has_no_did_until_it_runs(tmp_path: Path) -> None:
    s = load_authority_settings(config(tmp_path, "port = 0\n"), env={})
    with pytest.raises(AuthorityConfigError, match="set public_url or did"):
        s.identity()
    assert s.identity(8123)[0] == "did:web:127.0.0.1%3A8123"


def test_offline_issue_and_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config(tmp_path, 'public_url = "https://authority.jp.example"\n')
    out = tmp_path / "member.jwt"
    rc = main(["authority", "issue", "--config", str(path), "--subject", "did:web:acme.example",
               "--claims", '{"name": "Acme"}', "--out", str(out)])
    assert rc == 0 and out.read_text().count(".") == 2
    state = json.loads((tmp_path / "state.json").read_text())
    (cred_id, record), = state["credentials"].items()
    assert record["subject"] == "did:web:acme.example" and record["revoked_at"] is None

    (tmp_path / "claims.json").write_text('{"name": "Beta"}')
    capsys.readouterr()
    assert main(["authority", "issue", "--config", str(path), "--subject", "did:web:beta.example",
                 "--claims", f"@{tmp_path / 'claims.json'}", "--format", "di"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["credentialSubject"]["name"] == "Beta" and "proof" in printed

    assert main(["authority", "revoke", "--config", str(path), "--id", cred_id]) == 0
    assert capsys.readouterr().out.startswith(f"revoked {cred_id} (bit {record['index']} of ")
    assert json.loads((tmp_path / "state.json").read_text())["credentials"][cred_id]["revoked_at"]

    assert main(["authority", "did", "--config", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == "did:web:authority.jp.example"


@pytest.mark.parametrize("args, reason", [
    (["revoke", "--id", "urn:uuid:nope"], "no credential 'urn:uuid:nope'"),
    (["issue", "--subject", "did:web:a", "--claims", "[1]"], "--claims must be a JSON object"),
    (["issue", "--subject", "did:web:a", "--claims", "{x"], "--claims is not JSON"),
    (["issue", "--subject", "did:web:a", "--claims", '{"memberOf": "x"}'], "may not set memberOf"),
    (["issue", "--subject", "did:web:a", "--claims", "@/nonexistent/claims.json"], "cannot read claims file"),
])
def test_offline_command_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       args: list[str], reason: str) -> None:
    path = config(tmp_path, 'public_url = "https://authority.jp.example"\n')
    assert main(["authority", args[0], "--config", str(path), *args[1:]]) == 2
    assert reason in capsys.readouterr().err


def test_missing_key_file_says_how_to_make_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config(tmp_path, 'public_url = "https://authority.jp.example"\n')
    (tmp_path / "auth.jwk").unlink()
    assert main(["authority", "did", "--config", str(path)]) == 2
    assert "kakehashi keys new" in capsys.readouterr().err
