"""Evidence bundles end to end: a real store, real signatures, export, offline verification, and
each kind of tampering an auditor must catch with a reason that names it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from connector.cli import main
from connector.evidence import MANIFEST, EvidenceError, export_bundle, verify_bundle
from tests.unit.audit import scenario as sc


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[sc.Scenario]:
    s = await sc.build(tmp_path)
    yield s
    await s.store.close()


@pytest.fixture
async def bundle(world: sc.Scenario, tmp_path: Path) -> Path:
    out = tmp_path / "bundle-jp"
    await export_bundle(world.store, sc.AGREEMENT_JP, out, resolver=world.exporter_resolver(),
                        status_lists=world.exporter_status(), trust=world.trust, exporter_did=sc.TW_BUYER)
    return out


async def _cli(*argv: str) -> int:
    """The real command, on a thread: it runs its own event loop like it does from a shell."""
    return await asyncio.to_thread(main, list(argv))


async def _verify_json(capsys: pytest.CaptureFixture[str], directory: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code = await _cli("verify", "--bundle", str(directory), "--json", *extra)
    return code, json.loads(capsys.readouterr().out)


def _reseal(directory: Path) -> None:
    """What a careful forger does after editing: recompute every hash in the manifest."""
    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    manifest["files"] = {name: hashlib.sha256((directory / name).read_bytes()).hexdigest()
                         for name in manifest["files"] if (directory / name).exists()}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _log_lines(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (directory / "audit-log.jsonl").read_text(encoding="utf-8").splitlines()]


def _write_log(directory: Path, lines: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n" for line in lines)
    (directory / "audit-log.jsonl").write_text(text, encoding="utf-8")


def _problems(report: dict[str, Any]) -> list[str]:
    return [f"{p['subject']}: {p['reason']}" for p in report["bundle"]["problems"] + report["log"]["problems"]]


def _check(report: dict[str, Any], file_part: str, name: str) -> dict[str, Any]:
    result = next(r for r in report["results"] if file_part in r["file"])
    return next(c for c in result["checks"] if c["name"] == name)


async def test_exported_bundle_verifies_offline(bundle: Path, world: sc.Scenario,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["agreementId"] == sc.AGREEMENT_JP and manifest["exporter"] == sc.TW_BUYER
    assert len(manifest["credentials"]) == 3 and manifest["missing"] == []
    assert manifest["statusLists"] == [sc.STATUS_URL]
    assert sc.JP_DID in json.loads((bundle / "did-documents.json").read_text(encoding="utf-8"))
    # The excerpt spans the other agreement's entry in between (seq 4, 5): the chain cannot skip it.
    assert manifest["log"]["firstSeq"] == 1 and manifest["log"]["lastSeq"] == 7
    assert [line["seq"] for line in _log_lines(bundle)] == list(range(1, 8))

    code, report = await _verify_json(capsys, bundle)
    assert code == 0, _problems(report)
    assert report["valid"] is True and report["log"]["ok"] is True
    for result in report["results"]:
        checks = {c["name"]: c["ok"] for c in result["checks"]}
        assert checks == {"proof": True, "issuer-key": True, "trust": True, "status": True, "validity": True,
                          "schema": True, "delivery": True}
    assert await _cli("verify", "--bundle", str(bundle)) == 0
    table = capsys.readouterr().out
    assert "bundle: VALID" in table and "chain intact, seq 1..7" in table


async def test_did_key_bundle_and_cli_export(world: sc.Scenario, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bundle-tw"
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(world.trust.to_json()), encoding="utf-8")
    code = await _cli("audit", "export", "--db", world.url, "--agreement", sc.AGREEMENT_TW, "--out", str(out),
                      "--trust-list", str(trust), "--offline")
    assert code == 0, capsys.readouterr().err
    assert "1 credential(s)" in capsys.readouterr().out
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["log"]["firstSeq"] == 4 and manifest["log"]["lastSeq"] == 5  # starts mid-chain
    assert manifest["unresolved"] == [{"did": sc.TW_BUYER, "reason": manifest["unresolved"][0]["reason"]}]
    code, report = await _verify_json(capsys, out)
    assert code == 0, _problems(report)
    assert _check(report, "credentials/", "issuer-key")["ok"] is True


async def test_edited_credential(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = sorted((bundle / "credentials").glob("*.json"))[0]
    vc = json.loads(path.read_text(encoding="utf-8"))
    vc["credentialSubject"]["productFootprint"]["pcf"]["pCfExcludingBiogenic"] = "0.001"
    path.write_text(json.dumps(vc, ensure_ascii=False, indent=2), encoding="utf-8")

    code, report = await _verify_json(capsys, bundle)
    assert code == 1
    assert f"{path.relative_to(bundle).as_posix()}: sha256 differs from the manifest" in " ".join(_problems(report))
    assert _check(report, path.name, "proof")["ok"] is False
    delivery = _check(report, path.name, "delivery")
    assert delivery["ok"] is False and "appears in no delivery entry of the log" in delivery["reason"]

    _reseal(bundle)  # even with the manifest re-hashed, the proof and the log still catch it
    code, report = await _verify_json(capsys, bundle)
    assert code == 1 and not any("manifest" in p for p in _problems(report))
    assert _check(report, path.name, "proof")["ok"] is False
    assert _check(report, path.name, "delivery")["ok"] is False


async def test_edited_log_line(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _log_lines(bundle)
    lines[1]["payload"]["transferId"] = "tp-forged"
    _write_log(bundle, lines)
    _reseal(bundle)
    code, report = await _verify_json(capsys, bundle)
    assert code == 1 and report["log"]["ok"] is False
    assert report["log"]["broken"]["seq"] == 2
    assert "seq 2: content does not match its hash (kind 'transfer.started'): entry was altered" in _problems(report)


async def test_deleted_log_line(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _log_lines(bundle)
    del lines[3]  # the other agreement's entry between two of ours
    _write_log(bundle, lines)
    _reseal(bundle)
    code, report = await _verify_json(capsys, bundle)
    assert code == 1
    assert "seq 5: sequence gap: expected seq 4, found seq 5" in _problems(report)


async def test_deleted_delivery_at_the_end(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _log_lines(bundle)
    _write_log(bundle, lines[:5])  # drop seq 6 (the third delivery) and seq 7
    _reseal(bundle)
    code, report = await _verify_json(capsys, bundle)
    problems = " | ".join(_problems(report))
    assert code == 1
    assert "the excerpt ends at seq 5 but the manifest says it ends at seq 7" in problems
    third = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))["credentials"][2]["file"]
    assert "appears in no delivery entry" in _check(report, third, "delivery")["reason"]


async def test_swapped_agreement(bundle: Path, world: sc.Scenario, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "bundle-tw"
    await export_bundle(world.store, sc.AGREEMENT_TW, other, resolver=world.exporter_resolver(),
                        status_lists=world.exporter_status())
    shutil.copy(other / "agreement.json", bundle / "agreement.json")
    _reseal(bundle)
    code, report = await _verify_json(capsys, bundle)
    assert code == 1
    assert (f"agreement.json: is agreement {sc.AGREEMENT_TW!r}, but the manifest and the log deliveries are for "
            f"agreement {sc.AGREEMENT_JP!r}") in _problems(report)
    # The swapped-in agreement names another provider than the one who signed.
    reason = _check(report, "credentials/", "delivery")["reason"]
    assert reason == f"issuer {sc.JP_DID} is not the agreement's provider {world.tw_did}"


async def test_credential_from_another_agreement(bundle: Path, world: sc.Scenario, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "bundle-tw"
    await export_bundle(world.store, sc.AGREEMENT_TW, other, resolver=world.exporter_resolver(),
                        status_lists=world.exporter_status())
    smuggled = next((other / "credentials").glob("*.json"))
    shutil.copy(smuggled, bundle / "credentials" / smuggled.name)
    code, report = await _verify_json(capsys, bundle)
    assert code == 1
    assert f"credentials/{smuggled.name}: file is not listed in the manifest" in _problems(report)
    delivery = _check(report, smuggled.name, "delivery")
    assert delivery["reason"] == f"delivered under agreement {sc.AGREEMENT_TW}, not under {sc.AGREEMENT_JP}"


async def test_removed_did_document(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dids = json.loads((bundle / "did-documents.json").read_text(encoding="utf-8"))
    del dids[sc.JP_DID]
    (bundle / "did-documents.json").write_text(json.dumps(dids), encoding="utf-8")
    code, report = await _verify_json(capsys, bundle)
    assert code == 1 and "did-documents.json: sha256 differs from the manifest" in " ".join(_problems(report))
    _reseal(bundle)
    code, report = await _verify_json(capsys, bundle)
    assert code == 1 and _problems(report) == []
    for result in report["results"]:
        failed = {c["name"]: c["reason"] for c in result["checks"] if c["ok"] is False}
        assert "proof" in failed or "issuer-key" in failed
        assert any(f"{sc.JP_DID}" in r and "not in the offline DID bundle" in r for r in failed.values())


async def test_removed_credential_file(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = sorted((bundle / "credentials").glob("*.json"))[1]
    path.unlink()
    code, report = await _verify_json(capsys, bundle)
    problems = " | ".join(_problems(report))
    assert code == 1
    assert f"credentials/{path.name}: missing or unreadable" in problems
    assert "footprint.received footprint" in problems and "is not in the bundle" in problems


async def test_auditor_trust_list_overrides_the_bundled_one(bundle: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    own = tmp_path / "auditor-trust.json"
    own.write_text(json.dumps({"data_space": [{"name": "taiwan-tw", "authorities": ["did:web:authority.tw.example"],
                                               "accepted_types": ["MembershipCredential"]}]}), encoding="utf-8")
    code, report = await _verify_json(capsys, bundle, "--trust-list", str(own))
    assert code == 1 and report["bundle"]["trust"].endswith("(given)")
    assert _check(report, "credentials/", "trust")["ok"] is False


@pytest.mark.parametrize("make", [
    lambda d: d / "nowhere",
    lambda d: (d / "empty").mkdir() or d / "empty",
    lambda d: (d / "junk").mkdir() or (d / "junk" / MANIFEST).write_text("{not json") or d / "junk",
    lambda d: (d / "other").mkdir() or (d / "other" / MANIFEST).write_text('{"format": "zip"}') or d / "other",
    lambda d: (d / "file.txt").write_text("hello") or d / "file.txt",
])
def test_garbage_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  make: Callable[[Path], Path]) -> None:
    target = make(tmp_path)
    assert main(["verify", "--bundle", str(target)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert captured.err.startswith("kakehashi verify: error: ") and str(target) in captured.err


async def test_garbage_inside_a_bundle_is_a_failure_not_a_crash(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (bundle / "audit-log.jsonl").write_text("this is not a log\n", encoding="utf-8")
    (bundle / "did-documents.json").write_text("[1, 2]", encoding="utf-8")
    code, report = await _verify_json(capsys, bundle)
    problems = " | ".join(_problems(report))
    assert code == 1
    assert "audit-log.jsonl line 1: not JSON" in problems and "did-documents.json: expected a JSON dict" in problems


async def test_export_refuses_what_it_cannot_back(world: sc.Scenario, bundle: Path, tmp_path: Path) -> None:
    kwargs = {"resolver": world.exporter_resolver(), "status_lists": world.exporter_status()}
    with pytest.raises(EvidenceError, match="no contract agreement 'urn:uuid:nope'"):
        await export_bundle(world.store, "urn:uuid:nope", tmp_path / "x", **kwargs)
    with pytest.raises(EvidenceError, match="exists and is not an empty directory"):
        await export_bundle(world.store, sc.AGREEMENT_JP, bundle, **kwargs)
    # A newer version of a delivered footprint replaced the stored credential: the one delivered
    # under the agreement comes from the archive, and the bundle still verifies.
    newer = dict(world.jp_credentials[0]["credentialSubject"]["productFootprint"], version=2)
    from connector.audit import RECEIVED_KIND, AuditLog

    await AuditLog(world.store).record_footprints(RECEIVED_KIND, sc.AGREEMENT_TW, [sc.jp_credential(newer, world.jp_key, 5)])
    manifest = await export_bundle(world.store, sc.AGREEMENT_JP, tmp_path / "v", **kwargs)
    assert len(manifest["credentials"]) == 3 and manifest["missing"] == []
    assert (await verify_bundle(tmp_path / "v")).valid
    # Gone from the archive too (say, a store restored from an older backup): export says which.
    from connector.store.tables import footprint_archive

    async with world.store._db.write() as conn:  # noqa: SLF001 - test-only loss of the archive
        await conn.execute(footprint_archive.delete())
    with pytest.raises(EvidenceError, match=r"seq 3 footprint .*: the store now holds another credential for it \(version 2\)"):
        await export_bundle(world.store, sc.AGREEMENT_JP, tmp_path / "y", **kwargs)
    manifest = await export_bundle(world.store, sc.AGREEMENT_JP, tmp_path / "z", allow_missing=True, **kwargs)
    assert len(manifest["missing"]) == 1 and len(manifest["credentials"]) == 2
    report = await verify_bundle(tmp_path / "z")
    assert report.valid, [str(f) for f in report.findings]
    # Without the did:web document the exporter cannot vouch for the issuer.
    from identity.did.resolver import DidResolver

    with pytest.raises(EvidenceError, match=f"cannot include the DID document of {sc.JP_DID}"):
        await export_bundle(world.store, sc.AGREEMENT_JP, tmp_path / "w", resolver=DidResolver(offline=True),
                            status_lists=world.exporter_status(), allow_missing=True)
    assert not (tmp_path / "w").exists()


async def test_verdict_is_as_of_the_export(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Validity is judged at the manifest's `created` time, not the day the auditor looks."""
    manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
    manifest["created"] = "2001-01-01T00:00:00+00:00"  # before any of these credentials existed
    (bundle / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    code, report = await _verify_json(capsys, bundle)
    assert code == 1 and _check(report, "credentials/", "validity")["ok"] is False
    assert (await verify_bundle(bundle, now=datetime.now(timezone.utc))).valid


# -- the manifest signature ---------------------------------------------------------------------
from connector.delivery.signing import verification_method  # noqa: E402
from connector.evidence import MANIFEST_SIGNATURE, ManifestSigner, sign_manifest  # noqa: E402
from identity.did import did_web_document  # noqa: E402
from identity.did.resolver import DidResolver  # noqa: E402
from identity.keys import KeyPair  # noqa: E402


@pytest.fixture
def buyer_key() -> KeyPair:
    return KeyPair.generate("ed25519")


def _buyer_resolver(world: sc.Scenario, buyer_key: KeyPair) -> DidResolver:
    """The exporting buyer knows its own document and the supplier's."""
    return DidResolver(bundle={sc.JP_DID: world.jp_document,
                               sc.TW_BUYER: did_web_document(sc.TW_BUYER, buyer_key.public).to_json()}, offline=True)


@pytest.fixture
async def signed(world: sc.Scenario, buyer_key: KeyPair, tmp_path: Path) -> Path:
    out = tmp_path / "bundle-signed"
    await export_bundle(world.store, sc.AGREEMENT_JP, out, resolver=_buyer_resolver(world, buyer_key),
                        status_lists=world.exporter_status(), trust=world.trust,
                        signer=ManifestSigner(buyer_key, sc.TW_BUYER, verification_method(sc.TW_BUYER)))
    return out


async def test_signed_manifest_verifies_and_names_its_key(signed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (signed / MANIFEST_SIGNATURE).is_file()
    assert sc.TW_BUYER in json.loads((signed / "did-documents.json").read_text(encoding="utf-8"))
    code, report = await _verify_json(capsys, signed)
    assert code == 0, _problems(report)
    assert report["bundle"]["signature"] == "valid"
    assert report["bundle"]["signedBy"] == f"{sc.TW_BUYER}#key-1"
    assert await _cli("verify", "--bundle", str(signed)) == 0
    assert f"manifest: signed by {sc.TW_BUYER}#key-1" in capsys.readouterr().out


async def test_unsigned_bundle_says_so(bundle: Path) -> None:
    report = await verify_bundle(bundle)
    assert report.valid and report.signature == "unsigned" and report.signed_by is None


async def test_resealed_manifest_breaks_the_signature(signed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A forger who edits a file and recomputes every manifest hash still cannot re-sign."""
    (signed / "trust-list.json").write_text("{}", encoding="utf-8")
    _reseal(signed)
    code, report = await _verify_json(capsys, signed)
    assert code == 1 and report["bundle"]["signature"] == "invalid"
    assert any(p["subject"] == MANIFEST_SIGNATURE and "manifest.json was changed after signing" in p["reason"]
               for p in report["bundle"]["problems"])


async def test_signature_by_another_key_or_for_another_agreement_is_rejected(
    signed: Path, buyer_key: KeyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest_bytes = (signed / MANIFEST).read_bytes()
    at = datetime.now(timezone.utc)
    impostor = ManifestSigner(KeyPair.generate("ed25519"), sc.TW_BUYER, verification_method(sc.TW_BUYER))
    (signed / MANIFEST_SIGNATURE).write_text(sign_manifest(manifest_bytes, sc.AGREEMENT_JP, impostor, at))
    code, report = await _verify_json(capsys, signed)
    assert code == 1 and report["bundle"]["signature"] == "invalid"
    assert any("signature does not verify" in p["reason"] for p in report["bundle"]["problems"])

    owner = ManifestSigner(buyer_key, sc.TW_BUYER, verification_method(sc.TW_BUYER))
    (signed / MANIFEST_SIGNATURE).write_text(sign_manifest(manifest_bytes, sc.AGREEMENT_TW, owner, at))
    code, report = await _verify_json(capsys, signed)
    assert code == 1 and any("is for agreement" in p["reason"] for p in report["bundle"]["problems"])

    (signed / MANIFEST_SIGNATURE).write_text("not a token")
    code, report = await _verify_json(capsys, signed)
    assert code == 1 and report["bundle"]["signature"] == "invalid"


async def test_cli_export_with_the_connector_config_signs(world: sc.Scenario, buyer_key: KeyPair, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    key_file = tmp_path / "buyer.jwk"
    buyer_key.save(key_file)
    dids = tmp_path / "dids.json"
    dids.write_text(json.dumps({sc.JP_DID: world.jp_document,
                                sc.TW_BUYER: did_web_document(sc.TW_BUYER, buyer_key.public).to_json()}))
    config = tmp_path / "buyer.toml"
    config.write_text(f'[connector]\nname = "TW buyer"\nparticipant_id = "{sc.TW_BUYER}"\n'
                      f'database = "{world.url}"\nkey_file = "{key_file}"\napi_key = "{"k" * 24}"\n')
    status = tmp_path / "status.json"
    status.write_text(json.dumps({sc.STATUS_URL: world.status_list}))
    out = tmp_path / "bundle-cli-signed"
    code = await _cli("audit", "export", "--config", str(config), "--agreement", sc.AGREEMENT_JP, "--out", str(out),
                      "--did-bundle", str(dids), "--status-lists", str(status), "--offline")
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    code, report = await _verify_json(capsys, out)
    assert code == 0, _problems(report)
    assert report["bundle"]["signature"] == "valid" and report["bundle"]["exporter"] == sc.TW_BUYER
    assert await _cli("audit", "export", "--agreement", sc.AGREEMENT_JP, "--out", str(tmp_path / "x")) == 2
