"""The compliance report's section 6.5: the monitor's history and remediation for the period,
kept out of the digest (a later monitor run does not make the report fail --verify)."""
from __future__ import annotations

import datetime as dt

from pypdf import PdfReader
from typer.testing import CliRunner

from hitlgov.cli import app
from hitlgov.metrics.policy import load_policy
from hitlgov.oversight import monitor as mon
from hitlgov.oversight import remediation
from hitlgov.reports import build_report

LOG = "case_id,ts,system,model_decision,model_score,reviewer_id,human_decision,review_seconds\n" + "\n".join(
    f"c{i},2026-11-{1 + i % 28:02d}T10:00:00,s1,approve,0.8,r{i % 3},{'deny' if i % 2 else 'approve'},60"
    for i in range(300)) + "\n"


def test_section_shows_spells_and_overdue_items_and_stays_out_of_the_digest(make_store, tmp_path):
    db = make_store(LOG)
    policy = tmp_path / "p.yaml"
    policy.write_text("name: t\nrules:\n  - metric: oversight.override_rate\n    title: o\n    fail_above: 0.35\n")
    mon.run_monitor(db, policy=load_policy(policy))
    mon.run_monitor(db, policy=load_policy(policy))
    remediation.assign(db, system="s1", metric="oversight.override_rate", owner="Kim <i>Lee</i>",
                       due=dt.date(2026, 1, 2))
    pdf = tmp_path / "c.pdf"
    build_report(db=db, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30), system="s1", out_file=pdf)
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(str(pdf)).pages)
    assert "6.5 Continuous monitoring and remediation" in text
    assert "2 evaluation(s)" in text and "oversight.override_rate FAIL" in text
    assert "of which 1 overdue" in text and "Kim <i>Lee</i>" in text  # escaped, shown literally
    mon.run_monitor(db, policy=load_policy(policy))  # the history grows after the report
    v = CliRunner().invoke(app, ["report", "--verify", str(pdf), "--db", str(db)])
    assert v.exit_code == 0 and "matches" in v.output
