"""`kakehashi authority run` as a real process on loopback, and its HTTP API in-process."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from connector.authority_app import create_authority_app, listening_socket, start_app
from connector.cli import main as cli_main
from identity.authority import Authority
from identity.credentials import verify_credential
from identity.did import DidResolver, did_web_from_url
from identity.keys import KeyPair
from identity.status import StatusList, StatusListSource, check_status

REPO = Path(__file__).resolve().parents[2]
ADMIN_KEY = "process-admin-key-0123456789"
# Not `python -m connector.cli`: run as __main__, cli.py's UsageError would be a second class.
KAKEHASHI = [sys.executable, "-c", "import sys; from connector.cli import main; sys.exit(main())"]


@pytest.fixture
def authority_process(tmp_path: Path) -> Iterator[dict[str, Any]]:
    KeyPair.generate("P-256").save(tmp_path / "tw.jwk")
    config = tmp_path / "authority.toml"
    config.write_text(
        '[authority]\ndata_space = "taiwan-tw"\nport = 0\nkey_file = "tw.jwk"\nstate_file = "state.json"\n'
        f'admin_api_key = "{ADMIN_KEY}"\nallow_http_loopback = true\nstatus_ttl_ms = 0\n', encoding="utf-8")
    proc = subprocess.Popen(
        [*KAKEHASHI, "authority", "run", "--config", str(config)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=open(tmp_path / "authority.log", "wb"),
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready, "authority did not start: " + (tmp_path / "authority.log").read_text()
        line = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
        yield {**line, "proc": proc, "config": config, "tmp": tmp_path}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def test_authority_process_issues_serves_and_revokes(authority_process: dict[str, Any]) -> None:
    url, did = authority_process["url"], authority_process["did"]
    assert did == did_web_from_url(url) and authority_process["dataSpace"] == "taiwan-tw"
    member = "did:web:connector.formosa.tw.example"
    resolver = DidResolver(allow_http_loopback=True)
    lists = StatusListSource(allow_http_loopback=True, default_ttl=0)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        async with http.get(url + "/.well-known/did.json") as resp:
            assert resp.status == 200 and resp.content_type == "application/did+json"
            assert (await resp.json())["id"] == did

        # the admin API wants its key
        body = {"subjectDid": member, "claims": {"name": "Formosa Cells"}}
        async with http.post(url + "/api/admin/credentials", json=body) as resp:
            assert resp.status == 401 and "missing X-Api-Key" in (await resp.json())["error"]
        async with http.post(url + "/api/admin/credentials", json=body, headers={"X-Api-Key": "x" * 30}) as resp:
            assert resp.status == 401 and "not the admin API key" in (await resp.json())["error"]

        admin = {"X-Api-Key": ADMIN_KEY}
        async with http.post(url + "/api/admin/credentials", json=body, headers=admin) as resp:
            assert resp.status == 201
            issued = await resp.json()
        assert issued["subjectDid"] == member and issued["format"] == "jwt"
        checked = await verify_credential(issued["credential"], resolver)
        assert checked.ok, checked.reasons
        assert checked.credential["credentialSubject"]["memberOf"] == "taiwan-tw"  # type: ignore[index]
        assert checked.credential["credentialSubject"]["name"] == "Formosa Cells"  # type: ignore[index]
        status = await check_status(checked.credential, resolver, lists)  # type: ignore[arg-type]
        assert status.ok is True, (authority_process["tmp"] / "authority.log").read_text()

        # a DI credential too
        async with http.post(url + "/api/admin/credentials", json={**body, "format": "di"}, headers=admin) as resp:
            di = await resp.json()
        assert isinstance(di["credential"], dict) and (await verify_credential(di["credential"], resolver)).ok

        # revoke through the API: the served list shows it at once (ttl 0)
        async with http.post(f"{url}/api/admin/credentials/{issued['id']}/revoke", headers=admin) as resp:
            assert resp.status == 200 and (await resp.json())["revoked"] is True
        status = await check_status(checked.credential, resolver, lists)  # type: ignore[arg-type]
        assert status.ok is False and status.revoked

        # revoke offline with the CLI on the state file: the running authority picks it up
        rc = cli_main(["authority", "revoke", "--config", str(authority_process["config"]), "--id", di["id"]])
        assert rc == 0
        di_checked = await verify_credential(di["credential"], resolver)
        assert (await check_status(di_checked.credential, resolver, lists)).revoked  # type: ignore[arg-type]

        async with http.get(f"{url}/api/admin/credentials?subjectDid={member}", headers=admin) as resp:
            records = await resp.json()
        assert sorted(r["revoked"] for r in records) == [True, True]
    await resolver.close()
    await lists.close()
    proc = authority_process["proc"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0


async def test_authority_state_survives_a_restart(authority_process: dict[str, Any]) -> None:
    url = authority_process["url"]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        async with http.post(url + "/api/admin/credentials", json={"subjectDid": "did:web:a.example"},
                             headers={"X-Api-Key": ADMIN_KEY}) as resp:
            cred_id = (await resp.json())["id"]
    proc = authority_process["proc"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    state = json.loads((authority_process["tmp"] / "state.json").read_text())
    assert cred_id in state["credentials"] and oct(os.stat(authority_process["tmp"] / "state.json").st_mode)[-3:] == "600"
    # offline, the DID (which depended on the ephemeral port) comes from the state file
    rc = cli_main(["authority", "revoke", "--config", str(authority_process["config"]), "--id", cred_id])
    assert rc == 0
    state = json.loads((authority_process["tmp"] / "state.json").read_text())
    assert state["credentials"][cred_id]["revoked_at"] is not None
    # a restart on another ephemeral port would be another DID: refused, not silently forked
    rc = subprocess.run([*KAKEHASHI, "authority", "run", "--config", str(authority_process["config"])],
                        cwd=REPO, capture_output=True, timeout=30)
    assert rc.returncode == 2 and b"belongs to" in rc.stderr


# -- the HTTP API in-process, with a path-based did:web -------------------------------------
@pytest.fixture
async def path_authority(tmp_path: Path) -> AsyncIterator[tuple[str, Authority]]:
    sock = listening_socket("127.0.0.1", 0)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}/authorities/jp"
    authority = Authority.create(did_web_from_url(base), KeyPair.generate(), "ouranos-jp", allow_http_loopback=True,
                                 state_file=tmp_path / "jp.json")
    runner = await start_app(create_authority_app(authority, admin_api_key=ADMIN_KEY, max_body_bytes=2048), sock)
    try:
        yield base, authority
    finally:
        await runner.cleanup()


async def test_path_based_did_web_and_bad_admin_input(path_authority: tuple[str, Authority]) -> None:
    base, authority = path_authority
    root = base.rsplit("/authorities", 1)[0]
    assert authority.did.endswith(":authorities:jp") and authority.base_url == base
    async with DidResolver(allow_http_loopback=True) as resolver:
        doc = await resolver.resolve(authority.did)  # fetched from /authorities/jp/did.json
        assert doc.id == authority.did
    admin = {"X-Api-Key": ADMIN_KEY}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        cases: list[tuple[Any, int, str]] = [
            (b"{not json", 400, "not valid JSON"),
            ([1, 2], 400, "must be a JSON object"),
            ({"claims": {}}, 400, "subjectDid is required"),
            ({"subjectDid": "acme"}, 400, "is not a DID"),
            ({"subjectDid": "did:web:a", "claims": []}, 400, "claims must be a JSON object"),
            ({"subjectDid": "did:web:a", "claims": {"memberOf": "ouranos-jp"}}, 400, "may not set memberOf"),
            ({"subjectDid": "did:web:a", "claims": {"tier": "gold"}, "format": "di"}, 400, "no JSON-LD context defines"),
            ({"subjectDid": "did:web:a", "format": "pdf"}, 400, "format 'pdf'"),
            ({"subjectDid": "did:web:a", "validDays": 0}, 400, "validDays"),
            ({"subjectDid": "did:web:a", "surprise": 1}, 400, "unknown member(s) surprise"),
            ({"subjectDid": "did:web:a", "claims": {"name": "x" * 4000}}, 413, "exceeds 2048 bytes"),
        ]
        for body, status, reason in cases:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            async with http.post(root + "/api/admin/credentials", data=data, headers=admin) as resp:
                answer = await resp.json()
                assert (resp.status, reason in answer["error"]) == (status, True), (body, answer)
        async with http.post(root + "/api/admin/credentials/urn:uuid:nope/revoke", headers=admin) as resp:
            assert resp.status == 404 and "no credential" in (await resp.json())["error"]
        async with http.get(base + "/status/99") as resp:
            assert resp.status == 404
        async with http.post(root + "/api/admin/credentials", json={"subjectDid": "did:web:a"}, headers=admin) as resp:
            issued = await resp.json()
        assert issued["statusListCredential"] == base + "/status/1"
        async with http.get(base + "/status/1") as resp:
            assert resp.content_type == "application/vc"
            listed = await resp.json(content_type=None)
        assert StatusList.from_encoded(listed["credentialSubject"]["encodedList"]).get(issued["statusListIndex"]) is False
        assert resp.headers["Cache-Control"] == "max-age=60"
    assert not authority.issued[issued["id"]].revoked
