"""`kakehashi demo` end to end: the scenario `make demo` runs, on real processes in a tmp dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.cli import main as cli_main
from connector.demo import run_demo, summary_tables
from connector.evidence import verify_bundle

async def test_demo_exchanges_verified_footprints_both_ways(tmp_path: Path) -> None:
    lines: list[str] = []
    report = await run_demo(tmp_path / "demo", evidence_dir=tmp_path / "evidence", out=lines.append)
    assert report.ok, report.failure + "\n" + "\n".join(lines)
    assert [s.number for s in report.steps] == list(range(1, len(report.steps) + 1))
    assert all(s.ok and s.seconds >= 0 for s in report.steps)
    assert report.seconds < 60, f"the demo took {report.seconds} s"

    assert [ex.direction for ex in report.exchanges] == ["JP→TW", "TW→JP"]
    for ex in report.exchanges:
        assert ex.negotiation_state == "FINALIZED" and ex.agreement_id
        assert ex.transfer_state == "STARTED" and ex.transfer_id
        assert ex.published and ex.verified == len(ex.published) == len(ex.received)
        assert not ex.rejected
        assert ex.evidence_valid
        bundle = await verify_bundle(ex.evidence)  # again, independently of the demo's own check
        assert bundle.valid and bundle.agreement_id == ex.agreement_id
        assert {r.file.rsplit("/", 1)[-1] for r in bundle.results}  # credentials were bundled
    jp = report.exchanges[0]
    assert any(p["gxd"] for p in jp.published) and any("電池" in p["product"] for p in jp.published)

    assert len(jp.revoked) == 1 and jp.revoked[0] == jp.published[-1]["id"]  # the revocation step
    assert report.steps[-1].ok and "marks its copy Revoked" in report.steps[-1].title

    table = summary_tables(report)
    assert "FINALIZED" in table and report.exchanges[0].agreement_id in table
    assert table.count("verified, then revoked") == 1
    assert any("[ 3]" in line and "discovery" in line for line in lines)
    assert report.to_json()["exchanges"][1]["direction"] == "TW→JP"


def test_demo_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli_main(["demo", "--no-such-option"])
    assert exc.value.code == 2


def test_demo_json_summary_is_written_even_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A demo that cannot start says why, exits 1 and still writes its JSON summary."""
    import connector.demo as demo

    def broken_spec() -> object:
        from connector.topology import AuthoritySpec, ConnectorSpec, TopologySpec

        return TopologySpec(authorities=(AuthoritySpec("a", "ouranos-jp"),),
                            connectors=(ConnectorSpec("jp-connector", "JP", "taiwan-tw"),))

    monkeypatch.setattr(demo, "jp_tw_spec", broken_spec)
    out = tmp_path / "summary.json"
    assert cli_main(["demo", "--json", str(out), "--evidence", str(tmp_path / "ev")]) == 1
    summary = json.loads(out.read_text(encoding="utf-8"))
    assert summary["ok"] is False and "no authority serves data space 'taiwan-tw'" in summary["failure"]
    assert summary["steps"][0]["ok"] is False
