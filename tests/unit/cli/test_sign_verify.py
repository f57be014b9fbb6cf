"""`kakehashi sign` / `kakehashi verify` as an auditor uses them: files in, verdicts and exit codes out."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from connector.cli import main
from connector.footprints.samples import make_footprints
from identity.keys import KeyPair

VECTORS = Path(__file__).resolve().parents[2] / "conformance" / "data" / "vc"
SUITES = ["eddsa-jcs-2022", "eddsa-rdfc-2022", "ecdsa-jcs-2019", "ecdsa-rdfc-2019"]


@pytest.fixture()
def signer(tmp_path: Path) -> tuple[Path, Path]:
    key = KeyPair.generate("ed25519")
    key_file = tmp_path / "jp.jwk"
    key.save(key_file)
    fp_file = tmp_path / "fp.json"
    fp_file.write_text(json.dumps(make_footprints("jp", 2, gxd=True)[1], ensure_ascii=False), encoding="utf-8")
    return key_file, fp_file


def _verify_json(capsys: pytest.CaptureFixture[str], *files: str, extra: tuple[str, ...] = ()) -> tuple[int, dict]:
    code = main(["verify", "--json", *extra, *files])
    return code, json.loads(capsys.readouterr().out)


def _checks(result: dict) -> dict[str, bool | None]:
    return {c["name"]: c["ok"] for c in result["checks"]}


@pytest.mark.parametrize("suite", SUITES)
def test_sign_then_verify_each_suite(tmp_path: Path, capsys: pytest.CaptureFixture[str], suite: str) -> None:
    key_type = "ed25519" if suite.startswith("eddsa") else "p256"
    key_file = tmp_path / "k.jwk"
    KeyPair.generate(key_type).save(key_file)
    fp_file = tmp_path / "fp.json"
    fp_file.write_text(json.dumps(make_footprints("tw", 1)[0], ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "vc.json"
    assert main(["sign", str(fp_file), "--key", str(key_file), "--suite", suite, "--out", str(out)]) == 0
    code, report = _verify_json(capsys, str(out))
    assert code == 0
    checks = _checks(report["results"][0])
    assert checks == {"proof": True, "issuer-key": True, "trust": None, "status": None, "validity": True, "schema": True}
    assert json.loads(out.read_text(encoding="utf-8"))["proof"]["cryptosuite"] == suite


def _tampered(signed: dict, path: tuple, value: object) -> dict:
    doc = copy.deepcopy(signed)
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return doc


@pytest.mark.parametrize("suite", ["eddsa-jcs-2022", "eddsa-rdfc-2022"])
@pytest.mark.parametrize(
    "path,value",
    [
        (("credentialSubject", "productFootprint", "pcf", "pCfExcludingBiogenic"), "0.001"),
        (("credentialSubject", "productFootprint", "productNameCompany"), "偽物の製品"),
        (("credentialSubject", "productFootprint", "undefinedByAnyContext"), "x"),
        (("credentialSubject", "pactVersion"), "3.0"),
        (("validFrom",), "2020-01-01T00:00:00Z"),
        (("unknownTopLevelTerm",), "x"),
    ],
)
def test_tampering_any_field_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str], signer: tuple[Path, Path],
                                   suite: str, path: tuple, value: object) -> None:
    key_file, fp_file = signer
    out = tmp_path / "vc.json"
    assert main(["sign", str(fp_file), "--key", str(key_file), "--suite", suite, "--out", str(out)]) == 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_tampered(json.loads(out.read_text(encoding="utf-8")), path, value)), encoding="utf-8")
    code, report = _verify_json(capsys, str(out), str(bad))
    assert code == 1
    good, tampered = report["results"]
    assert good["valid"] is True
    assert tampered["valid"] is False
    assert _checks(tampered)["proof"] is False
    assert [c["reason"] for c in tampered["checks"] if c["name"] == "proof"][0]


def test_w3c_vector_is_verified_but_schema_is_null(capsys: pytest.CaptureFixture[str]) -> None:
    signed = VECTORS / "vc-di-eddsa" / "TestVectors" / "eddsa-jcs-2022" / "signedJCS.json"
    code, report = _verify_json(capsys, str(signed))
    checks = _checks(report["results"][0])
    assert checks["proof"] is True and checks["schema"] is None and checks["trust"] is None
    # The W3C vector's issuer is an https URL while the key is a did:key: the auditor must see it.
    assert checks["issuer-key"] is False and code == 1


def test_trust_list_names_the_data_space(tmp_path: Path, capsys: pytest.CaptureFixture[str], signer: tuple[Path, Path]) -> None:
    key_file, fp_file = signer
    out = tmp_path / "vc.json"
    assert main(["sign", str(fp_file), "--key", str(key_file), "--out", str(out)]) == 0
    issuer = json.loads(out.read_text(encoding="utf-8"))["issuer"]
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps({"data_space": [{
        "name": "ouranos-jp", "authorities": ["did:web:authority.jp.example"],
        "accepted_types": ["MembershipCredential"],
        "issuers": [{"did": issuer, "types": ["ProductFootprintCredential"]}]}]}), encoding="utf-8")
    code, report = _verify_json(capsys, str(out), extra=("--trust-list", str(trust)))
    trust_check = [c for c in report["results"][0]["checks"] if c["name"] == "trust"][0]
    assert code == 0 and trust_check["ok"] is True and "ouranos-jp" in trust_check["reason"]
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"data_space": [{"name": "taiwan-tw", "authorities": ["did:web:authority.tw.example"],
                                                 "accepted_types": ["MembershipCredential"]}]}), encoding="utf-8")
    code, report = _verify_json(capsys, str(out), extra=("--trust-list", str(other)))
    assert code == 1 and _checks(report["results"][0])["trust"] is False


@pytest.mark.parametrize(
    "content",
    ['{"truncated": ', "[1, 2, 3]", '"just a string"', "\x00\x01garbage", "{" * 5000 + "}" * 5000,
     '{"@context": ["https://www.w3.org/ns/credentials/v2"], "type": "VerifiableCredential", "issuer": 5}'],
)
def test_bad_files_give_reasons_not_tracebacks(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    code, report = _verify_json(capsys, str(bad))
    assert code == 1
    result = report["results"][0]
    assert result["valid"] is False
    assert any(c["ok"] is False and c["reason"] for c in result["checks"])


def test_truncated_json_names_where_it_breaks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "cut.json"
    bad.write_text('{\n  "id": "urn:uuid:1",\n  "issuer": "did:ex', encoding="utf-8")
    code, report = _verify_json(capsys, str(bad))
    reason = {c["name"]: c["reason"] for c in report["results"][0]["checks"]}["proof"]
    assert code == 1
    assert reason.endswith("cut.json is not JSON: Unterminated string starting at (line 3, column 13)"), reason


def test_unknown_suite_and_garbage_proof_value(tmp_path: Path, capsys: pytest.CaptureFixture[str], signer: tuple[Path, Path]) -> None:
    key_file, fp_file = signer
    out = tmp_path / "vc.json"
    assert main(["sign", str(fp_file), "--key", str(key_file), "--out", str(out)]) == 0
    signed = json.loads(out.read_text(encoding="utf-8"))
    for name, proof_patch in [("suite", {"cryptosuite": "rot13-2025"}), ("multibase", {"proofValue": "z0OIl!!"}),
                              ("type", {"type": "Ed25519Signature2018"})]:
        doc = copy.deepcopy(signed)
        doc["proof"].update(proof_patch)
        f = tmp_path / f"{name}.json"
        f.write_text(json.dumps(doc), encoding="utf-8")
        code, report = _verify_json(capsys, str(f))
        assert code == 1, name
        reason = [c["reason"] for c in report["results"][0]["checks"] if c["name"] == "proof"][0]
        assert reason, name


def test_usage_errors_exit_2(tmp_path: Path, signer: tuple[Path, Path]) -> None:
    key_file, fp_file = signer
    assert main(["verify"]) == 2
    assert main(["sign", str(tmp_path / "missing.json"), "--key", str(key_file)]) == 2
    assert main(["sign", str(fp_file), "--key", str(tmp_path / "missing.jwk")]) == 2
    wrong = tmp_path / "wrong.jwk"
    wrong.write_text('{"kty": "RSA", "n": "x", "e": "AQAB"}', encoding="utf-8")
    assert main(["sign", str(fp_file), "--key", str(wrong)]) == 2
    p256 = tmp_path / "p256.jwk"
    KeyPair.generate("p256").save(p256)
    assert main(["sign", str(fp_file), "--key", str(p256), "--suite", "eddsa-jcs-2022"]) == 2
    assert main(["verify", "--trust-list", str(tmp_path / "nope.toml"), str(fp_file)]) == 2


def test_console_script_and_stdout(tmp_path: Path, signer: tuple[Path, Path]) -> None:
    key_file, fp_file = signer
    signed = subprocess.run([sys.executable, "-m", "connector.cli", "sign", str(fp_file), "--key", str(key_file)],
                            capture_output=True, text=True, check=True).stdout
    out = tmp_path / "vc.json"
    out.write_text(signed, encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "connector.cli", "verify", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "VALID" in run.stdout and "Traceback" not in run.stderr


def test_keys_new_writes_0600(tmp_path: Path) -> None:
    out = tmp_path / "k.jwk"
    assert main(["keys", "new", "--type", "p256", "--out", str(out)]) == 0
    assert out.stat().st_mode & 0o777 == 0o600
    assert KeyPair.load(out).key_type == "P-256"
    assert main(["keys", "new", "--out", str(out)]) == 2  # refuses to overwrite
    assert main(["keys", "new", "--type", "rsa", "--out", str(tmp_path / "r.jwk")]) == 2
