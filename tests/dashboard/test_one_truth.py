"""One truth on every surface (issue 15): for the same filter the Overview (AppTest), the PDF
(its text and its attached evidence) and ``metrics --json`` show the same findings with the same
statuses, the same drift statistics (one sample size, from the policy) and the same status for
the automation-bias flag.

Before: the Overview left drift out (4 FAIL / 3 WARN / 7 PASS against 4/4/7), the Drift page
sampled 5,000 cases per window and the PDF 20,000 (model_score 0.0812 vs 0.0888), and a flagged
reviewer was FAIL in the PDF's reviewer table but WARN as a finding.
"""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

import dashboard_helpers as helpers
from hitlgov import formats as fmt
from hitlgov.cli import app
from hitlgov.reports import build_report
from hitlgov.reports.evidence import ATTACHMENT
from test_dashboard import assert_clean, open_app, texts, tiles

pytestmark = pytest.mark.xdist_group("dashboard")

SYSTEM = "consumer-credit"
START, END = dt.date(2026, 1, 1), dt.date(2026, 6, 30)
QUERY = {"system": SYSTEM, "from": START.isoformat(), "to": END.isoformat()}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    return helpers.demo_store(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def cli(demo_db) -> dict:
    run = CliRunner().invoke(app, ["metrics", "--json", "--db", str(demo_db), "--system", SYSTEM,
                                   "--from", START.isoformat(), "--to", END.isoformat()])
    assert run.exit_code == 0, run.stderr
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def pdf(demo_db, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("one-truth") / "c.pdf"
    build_report(db=demo_db, start=START, end=END, system=SYSTEM, kind="compliance", out_file=out, record=False)
    reader = PdfReader(str(out))
    text = "".join("".join((p.extract_text() or "").split()) for p in reader.pages)
    return {"text": text, "evidence": json.loads(reader.attachments[ATTACHMENT][0])}


def _tally(findings: list[dict]) -> dict:
    return {s: sum(1 for f in findings if f["status"] == s) for s in ("fail", "warn", "pass")}


def _statuses(findings: list[dict]) -> dict:
    return {f["metric"]: (f["status"], round(f["value"], 9)) for f in findings}


def test_pdf_and_cli_have_the_same_findings_and_drift(cli, pdf):
    m = pdf["evidence"]["values"]["metrics"]
    assert _statuses(m["findings"]) == _statuses(cli["findings"])
    assert "drift.drift_share" in _statuses(cli["findings"])  # drift is a finding on every surface
    assert m["drift"]["windows"] == cli["drift"]["windows"]  # the same windows (metrics/drift.py:windows_for)
    # Jan-Jun: current = June, reference = the first 3 months, ending before June (never overlapping)
    assert {k: (w["from"], w["to"]) for k, w in cli["drift"]["windows"].items()} == {
        "reference": ("2026-01-01", "2026-03-31"), "current": ("2026-06-01", "2026-06-30")}
    assert {c["column"]: c["statistic"] for c in m["drift"]["columns"]} == pytest.approx(
        {c["column"]: c["statistic"] for c in cli["drift"]["columns"]})
    t = _tally(cli["findings"])
    strip = f"{t['fail']}FAIL{t['warn']}WARN{t['pass']}PASS{len(cli['findings_not_evaluated'])}NOTEVALUATED"
    assert strip in pdf["text"]


def test_overview_counts_the_same_findings(demo_db, monkeypatch, cli):
    at = open_app(demo_db, monkeypatch, query=QUERY)
    assert_clean(at)
    shown = texts(at.markdown)
    badges = dict((s.lower(), int(n)) for n, s in re.findall(r"badge\[(\d+) (FAIL|WARN|PASS)\]", shown))
    assert badges == _tally(cli["findings"])
    for f in cli["findings"]:
        if f["status"] != "pass":  # every card's title is the finding's own, as in the PDF and the CLI
            assert f"**{f['title']}**" in re.sub(r"\\(.)", r"\1", shown)  # shown escaped: data is never markup


def test_drift_page_uses_the_same_sample_and_statistics(demo_db, monkeypatch, cli):
    at = open_app(demo_db, monkeypatch, page="drift.py", query=QUERY)
    assert_clean(at)
    d = cli["drift"]
    ref, cur = d["windows"]["reference"], d["windows"]["current"]
    assert (f"Reference window {ref['from']} – {ref['to']}; current window {cur['from']} – {cur['to']}"
            in texts(at.caption))
    assert tiles(at)["Share drifted"] == fmt.pct(d["drift_share"])
    table = at.dataframe[0].value
    shown = dict(zip(table["Column"], table["Statistic"]))
    assert shown == pytest.approx({c["column"]: c["statistic"] for c in d["columns"]}, rel=1e-9, nan_ok=True)


def test_a_flagged_reviewer_has_the_findings_status_everywhere(demo_db, monkeypatch, cli, pdf):
    bias = next((f for f in cli["findings"] if f["metric"] == "automation_bias.flagged_reviewers"), None)
    assert bias is not None and bias["value"] >= 1  # the demo plants rev-07
    at = open_app(demo_db, monkeypatch, page="oversight.py", query=QUERY)
    assert_clean(at)
    boxes = at.error if bias["status"] == "fail" else at.warning
    assert any(f"{bias['status'].upper()} · " in b.value and "flagged" in b.value for b in boxes)
    other = at.warning if bias["status"] == "fail" else at.error
    assert not any("flagged" in b.value for b in other)
    wrong = {"warn": "FAIL", "fail": "WARN"}[bias["status"]]
    n = len(cli["automation_bias"]["flagged"])
    assert f"{bias['status'].upper()}{n}reviewer" in pdf["text"]  # the PDF's callout (text without spaces)
    assert f"{wrong}{n}reviewer" not in pdf["text"]
