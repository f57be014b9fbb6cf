"""The connect-a-thon matrix on the local topology: JP x TW both ways, every case passes; and
the report files and the remote runner's argument checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.cli import main as cli_main
from connector.connectathon.cases import CASES
from connector.connectathon.report import report_html, report_json, write_reports
from connector.connectathon.runner import run_matrix


async def test_matrix_passes_every_case_both_directions(tmp_path: Path) -> None:
    reports = await run_matrix(tmp_path)
    assert [r.label for r in reports] == ["tw-connector → jp-connector", "jp-connector → tw-connector"]
    for report in reports:
        failed = {r.name: r.reason for r in report.results if r.status != "pass"}
        assert not failed, f"{report.label}: {failed}"
        assert [r.name for r in report.results] == [c.name for c in CASES]
        assert all(r.seconds >= 0 for r in report.results)
    data = report_json(reports)
    assert data["ok"] and data["summary"] == {"pass": 2 * len(CASES), "fail": 0, "skip": 0}
    json_path, html_path = write_reports(reports, tmp_path / "out")
    assert json.loads(json_path.read_text())["runs"][0]["results"][0]["name"] == "version-discovery"
    page = html_path.read_text()
    assert page.count("<tr class=pass>") == 2 * len(CASES) and "<script" not in page


def test_report_escapes_partner_text() -> None:
    from connector.connectathon.runner import CaseResult, SuiteReport

    report = SuiteReport("<b>x</b>", "did:web:us", "did:web:<evil>", "http://p", "now",
                         results=[CaseResult("catalog", "t", "fail", "<script>alert(1)</script>", 0.1)])
    page = report_html([report])
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert report_json([report])["ok"] is False


@pytest.mark.parametrize("argv, message", [
    (["connectathon", "run", "--partner", "ftp://x", "--partner-did", "did:web:x", "--management", "http://m"],
     "--partner must be an http(s) URL"),
    (["connectathon", "run", "--partner", "http://x", "--partner-did", "nope", "--management", "http://m"],
     "--partner-did must be the partner's DID"),
    (["connectathon", "run", "--partner-did", "did:web:x"], "go with --partner"),
    (["connectathon", "run", "--partner", "http://x", "--partner-did", "did:web:x", "--management", "http://m",
      "--api-key", "k" * 20, "--case", "no-such-case"], "unknown case(s) no-such-case"),
])
def test_run_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(argv) == 2
    assert message in capsys.readouterr().err


def test_unreachable_partner_fails_cases_with_reasons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from connector.topology import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    rc = cli_main(["connectathon", "run", "--partner", dead, "--partner-did", "did:web:127.0.0.1",
                   "--management", dead + "/api/management/v3", "--api-key", "k" * 20, "--out", str(tmp_path)])
    assert rc == 1
    data = json.loads((tmp_path / "connectathon.json").read_text())
    results = {r["name"]: r for r in data["runs"][0]["results"]}
    assert results["version-discovery"]["status"] == "fail" and "network" in results["version-discovery"]["reason"]
    assert results["negotiation-finalized"]["status"] == "skip"
