"""`kakehashi audit verify` / `audit export` as an operator runs them: exit codes and messages."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from connector.cli import main
from tests.unit.audit import scenario as sc


@pytest.fixture
def world_db(tmp_path: Path) -> tuple[str, Path]:
    async def build() -> str:
        world = await sc.build(tmp_path)
        await world.store.close()
        return world.url

    return asyncio.run(build()), tmp_path / "connector.db"


def test_verify_db_intact_then_tampered(world_db: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    url, path = world_db
    assert main(["audit", "verify", "--db", url]) == 0
    assert "chain intact (seq 1..8, 8 entries)" in capsys.readouterr().out
    with sqlite3.connect(path) as conn:  # an operator edits a row behind the connector's back
        conn.execute("UPDATE audit_log SET payload = json_set(payload, '$.transferId', 'tp-x') WHERE seq = 2")
    assert main(["audit", "verify", "--db", url, "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["broken"] == {"seq": 2, "reason": "content does not match its hash (kind 'transfer.started'): entry was altered"}


def test_verify_log_excerpt(world_db: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = world_db
    out = tmp_path / "b"
    assert main(["audit", "export", "--db", url, "--agreement", sc.AGREEMENT_TW, "--out", str(out), "--offline"]) == 0
    capsys.readouterr()
    log = out / "audit-log.jsonl"
    assert main(["audit", "verify", "--log", str(log)]) == 0
    text = capsys.readouterr().out
    assert "chain intact (seq 4..5, 2 entries)" in text and "taken on trust" in text
    first_prev = json.loads(log.read_text(encoding="utf-8").splitlines()[0])["prev_hash"]
    assert main(["audit", "verify", "--log", str(log), "--prev-hash", first_prev]) == 0
    capsys.readouterr()
    assert main(["audit", "verify", "--log", str(log), "--prev-hash", "f" * 64]) == 1
    assert "BROKEN at seq 4: prev_hash" in capsys.readouterr().out
    assert main(["audit", "verify", "--log", str(log), "--prev-hash", "0" * 64]) == 1  # genesis: must start at 1
    assert "BROKEN at seq 4: sequence gap: expected seq 1, found seq 4" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["audit", "verify"], "give exactly one of --db URL or --log FILE.jsonl"),
    (["audit", "verify", "--db", "sqlite:///x.db", "--log", "y"], "give exactly one of"),
    (["audit", "verify", "--log", "{tmp}/none.jsonl"], "cannot read audit log"),
    (["audit", "verify", "--db", "sqlite:///{tmp}/typo.db"], "no SQLite database at"),
    (["audit", "verify", "--db", "not a url"], "is not a database URL"),
    (["audit", "verify", "--db", "mysql://h/db"], "use sqlite or postgresql"),
    (["audit", "export", "--db", "sqlite:///{tmp}/typo.db", "--agreement", "a", "--out", "{tmp}/o"], "no SQLite database"),
])
def test_usage_errors_exit_2_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              argv: list[str], message: str) -> None:
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "typo.db").exists()  # a typo never creates an empty database


def test_garbage_log_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.jsonl"
    junk.write_text('{"seq": 1, "kind": "x"}\n', encoding="utf-8")
    assert main(["audit", "verify", "--log", str(junk)]) == 2
    assert "junk.jsonl line 1: missing prev_hash, hash, at, payload" in capsys.readouterr().err


def test_export_failures_exit_1_with_the_reason(world_db: tuple[str, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = world_db
    assert main(["audit", "export", "--db", url, "--agreement", "urn:uuid:nope", "--out", str(tmp_path / "o")]) == 1
    assert "no contract agreement 'urn:uuid:nope' in the store" in capsys.readouterr().err
    # Offline, the JP supplier's status list (and did:web) cannot be fetched: export says which.
    assert main(["audit", "export", "--db", url, "--agreement", sc.AGREEMENT_JP, "--out", str(tmp_path / "o"),
                 "--offline"]) == 1
    err = capsys.readouterr().err
    assert f"cannot include status list {sc.STATUS_URL}" in err and "not in the offline bundle" in err
    assert not (tmp_path / "o").exists()
