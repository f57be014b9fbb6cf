"""Connect-a-thon reports: JSON for organisers' tooling, HTML for the wall, a table for the terminal."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .runner import SuiteReport
from .tables import render_table

FORMAT = "kakehashi-connectathon/1"
MARK = {"pass": "PASS", "fail": "FAIL", "skip": "skip"}


def report_json(reports: Sequence[SuiteReport]) -> dict[str, Any]:
    totals = {s: sum(r.counts[s] for r in reports) for s in ("pass", "fail", "skip")}
    return {"format": FORMAT, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "ok": all(r.ok for r in reports) and bool(reports), "summary": totals,
            "runs": [r.to_json() for r in reports]}


def terminal_table(reports: Sequence[SuiteReport]) -> str:
    blocks = []
    for r in reports:
        rows = [[MARK[c.status], c.name, f"{c.seconds:.2f}", c.reason] for c in r.results]
        counts = r.counts
        blocks.append(f"{r.label}  (partner {r.partner})\n"
                      + render_table(["result", "case", "s", "reason"], rows, max_width=90)
                      + f"\n{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped"
                        f" in {r.seconds:.1f} s")
    return "\n\n".join(blocks)


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin-bottom:2rem;width:100%}
th,td{border:1px solid #ccc;padding:.35rem .6rem;text-align:left;vertical-align:top}
th{background:#f2f2f2} td.s{white-space:nowrap;text-align:right}
.pass{background:#e5f5e5}.fail{background:#fbe3e3}.skip{background:#f4f4f4;color:#666}
code{font-size:.9em}
"""


def report_html(reports: Sequence[SuiteReport]) -> str:
    data = report_json(reports)
    esc = html.escape
    parts = ["<!doctype html><html lang=en><meta charset=utf-8>",
             "<title>Kakehashi connect-a-thon report</title>", f"<style>{_STYLE}</style>",
             "<h1>Kakehashi connect-a-thon report</h1>",
             f"<p>{esc(data['created'])} — {data['summary']['pass']} passed, {data['summary']['fail']} failed, "
             f"{data['summary']['skip']} skipped: <strong>{'all passed' if data['ok'] else 'FAILURES'}</strong></p>"]
    for r in reports:
        parts.append(f"<h2>{esc(r.label)}</h2><p>partner <code>{esc(r.partner)}</code> at "
                     f"<code>{esc(r.partner_url)}</code>; tested by <code>{esc(r.consumer)}</code>; "
                     f"started {esc(r.started)}, {r.seconds:.1f} s</p>")
        parts.append("<table><tr><th>result</th><th>case</th><th>what it checks</th><th>reason</th>"
                     "<th>seconds</th></tr>")
        for c in r.results:
            parts.append(f"<tr class={c.status}><td>{MARK[c.status]}</td><td><code>{esc(c.name)}</code></td>"
                         f"<td>{esc(c.title)}</td><td>{esc(c.reason)}</td><td class=s>{c.seconds:.2f}</td></tr>")
        parts.append("</table>")
    parts.append("</html>")
    return "\n".join(parts)


def write_reports(reports: Sequence[SuiteReport], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "connectathon.json", out_dir / "connectathon.html"
    json_path.write_text(json.dumps(report_json(reports), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    html_path.write_text(report_html(reports), encoding="utf-8")
    return json_path, html_path
