"""PDF reports (issue 5): both kinds on a small demo store, read back with pypdf and pdftoppm.

The numbers in the PDF are the metric functions' values formatted by ``hitlgov.formats``; every
section heading is there; page counts are sane (executive: exactly 2); page 1 is not blank;
``--verify`` passes on the untouched store and names the values that changed after one review
row is edited in the DuckDB file; pseudonymisation hides every reviewer id; an empty period gives
a short report; an unwritable path gives a one-line error; the digest is the same run after run.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
from pypdf import PdfReader
from rich.console import Console

from hitlgov import formats as fmt
from hitlgov.metrics import fairness, inventory, oversight, roi
from hitlgov.metrics.source import Filter, Source
from hitlgov.reports import build_report, pseudonym
from hitlgov.reports.cli import run_report
from hitlgov.reports.evidence import ATTACHMENT, digest_of

pytestmark = pytest.mark.xdist_group("reports")

SYSTEM = "consumer-credit"
START, END = dt.date(2025, 11, 1), dt.date(2026, 10, 31)
CASES = 5_000
KEY = "a test key, not a secret"
COMPLIANCE_HEADINGS = ["Compliance report", "Contents", "1 Executive summary", "The findings that matter most",
                       "Key figures", "1.2 Policy checks", "2 Human oversight", "2.2 Trends", "2.3 Reviewers",
                       "2.4 Automation bias", "3 Reviewer agreement", "4 Fairness: model vs final decision",
                       "Did review reduce disparity?", "5 Drift", "6 Data quality", "6.1 Ingestion runs in scope",
                       "6.2 Quarantine", "6.3 Completeness of the audit fields", "6.4 Retention",
                       "7 Regulatory mapping", "Appendix A Methodology", "A.1 Metric definitions", "A.2 Tests",
                       "A.3 Thresholds of the policy in force", "Appendix B Evidence", "Input files", "Audit trail",
                       "Metric digest"]


# -- fixtures ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    """A 5,000-case demo deployment (the generator of ``make demo``) in a fresh store."""
    from hitlgov import demo as gen
    from hitlgov import store
    from hitlgov.ingest.pipeline import ingest_path
    from hitlgov.mapping import load_mapping

    folder = tmp_path_factory.mktemp("reports-demo")
    gen.generate(folder, cases=CASES, seed=0)
    db = folder / "store.duckdb"
    with store.connect(db) as con:
        ingest_path(con, folder / "decisions.csv", mapping=load_mapping(folder / "mapping.yaml"))
    return {"folder": folder, "db": db, "csv": folder / "decisions.csv"}


def _report(db: Path, out: Path, **kw):
    opts = dict(db=db, start=START, end=END, system=SYSTEM, kind="compliance", out_file=out)
    opts.update(kw)
    return build_report(**opts)


@pytest.fixture(scope="module")
def compliance(demo, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("reports-out") / "compliance.pdf"
    with duckdb.connect(str(demo["db"]), read_only=True) as con:
        head_before = con.execute("SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchall()[0][0]
    result = _report(demo["db"], out)
    return {"path": out, "result": result, "head_before": head_before, **_read(out)}


@pytest.fixture(scope="module")
def executive(demo, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("reports-out") / "executive.pdf"
    result = _report(demo["db"], out, kind="executive")
    return {"path": out, "result": result, **_read(out)}


@pytest.fixture(scope="module")
def expected(demo) -> dict:
    """The figures as the metric functions give them, formatted as the dashboard formats them."""
    flt = Filter(start=START, end=END, system=SYSTEM)
    with Source.open(demo["db"]) as src:
        o = oversight.oversight_summary(src, flt)
        c = inventory.counts(src, flt)
        r = roi.roi_summary(src, flt)
        f = fairness.fairness_by_attribute(src, flt, attributes="age_band")
        reviewers = [x["reviewer_id"] for x in o["by_reviewer"]]
    return {"override_rate": fmt.pct(o["override_rate"]), "automation_rate": fmt.pct(o["automation_rate"]),
            "escalation_rate": fmt.pct(o["escalation_rate"]), "cases": fmt.count(c["cases"]),
            "reviews": fmt.count(c["reviews"]), "reviewed_cases": fmt.count(c["reviewed_cases"]),
            "dpd_final": fmt.ratio(f["final_decision"]["demographic_parity_difference"]),
            "dpd_model": fmt.ratio(f["model_decision"]["demographic_parity_difference"]),
            "young_selection_final": fmt.pct(f["final_decision"]["by_group"]["18-24"]["selection_rate"]),
            "errors_caught": fmt.count(r["errors_caught"]), "cost": fmt.money(r["cost"]),
            "reviewer_hours": fmt.hours(r["reviewer_hours"]), "reviewers": reviewers}


def _read(path: Path) -> dict:
    reader = PdfReader(str(path))
    pages = [p.extract_text() or "" for p in reader.pages]
    return {"pages": len(pages), "text": "\n".join(pages), "page_texts": pages,
            "meta": {k: str(v) for k, v in (reader.metadata or {}).items()},
            "evidence": json.loads(reader.attachments[ATTACHMENT][0])}


def _flat(text: str) -> str:
    return " ".join(text.split())


def _nospace(text: str) -> str:
    return "".join(text.split())


def _cli(**kw) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_report(console=Console(file=out, width=300), err_console=Console(file=err, width=300), **kw)
    return code, out.getvalue(), err.getvalue()


def _ink_below_header(pdf: Path, tmp: Path, page: int = 1) -> float:
    """Share of non-white pixels of a page rendered by poppler at 50 dpi, *below the top fifth*
    (where a running header would be): a page whose body failed to render scores ~0."""
    prefix = tmp / f"page{page}"
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", str(page), "-l", str(page), str(pdf), str(prefix)],
                   check=True, capture_output=True, timeout=60)
    png = next(tmp.glob(f"page{page}*.png"))
    from PIL import Image

    img = Image.open(png).convert("L")
    body = img.crop((0, img.height // 5, img.width, img.height))
    hist = body.histogram()  # 256 grey levels
    return sum(hist[:245]) / sum(hist)


# -- the compliance report ------------------------------------------------------------------------------

def test_compliance_report_shows_the_metric_values(compliance, expected):
    text = _flat(compliance["text"])
    for key in ("override_rate", "automation_rate", "escalation_rate", "cases", "reviews", "reviewed_cases",
                "dpd_final", "dpd_model", "young_selection_final", "errors_caught"):
        assert expected[key] in text, (key, expected[key])
    assert f"Override rate {expected['override_rate']}" in text
    assert f"Automation rate {expected['automation_rate']}" in text
    assert f"Cases decided by the model {expected['cases']}" in text
    # every reviewer appears (per-reviewer table), un-pseudonymised
    assert all(r in text for r in expected["reviewers"])
    assert "rev-07" in text and "1 reviewer flagged: rev-07" in text  # the planted rubber-stamper


def test_compliance_report_has_every_section_and_sane_pages(compliance):
    text = _flat(compliance["text"])
    missing = [h for h in COMPLIANCE_HEADINGS if h not in text]
    assert not missing
    for obligation in ("Art. 9", "Art. 12", "Art. 14", "Art. 19", "Art. 26", "GOVERN", "MAP", "MEASURE", "MANAGE",
                       "ISO/IEC 42001"):
        assert obligation in text, obligation
    assert 8 <= compliance["pages"] <= 40
    assert compliance["result"].pages == compliance["pages"]
    # running header with system and period, footer "Page X of Y"
    n = compliance["pages"]
    assert f"Page 2 of {n}" in compliance["page_texts"][1] and f"Page {n} of {n}" in compliance["page_texts"][-1]
    assert f"{SYSTEM} · {START} to {END}" in compliance["page_texts"][2]


def test_compliance_report_page_one_carries_the_cover(compliance, tmp_path, expected):
    """Page 1 is the cover: its title, system, period, scope and sign-off block, drawn below the header."""
    cover = _flat(compliance["page_texts"][0])
    assert f"Human oversight of {SYSTEM}, {START} to {END}" in cover, cover[:400]
    for part in ("Compliance report", "Scope", "Generated at (UTC)", "Date and signature",
                 f"metric digest {compliance['result'].digest[:16]}"):
        assert part in cover, (part, cover[:600])
    assert _ink_below_header(compliance["path"], tmp_path) > 0.01


def test_the_ink_check_fails_on_a_page_with_only_a_header(tmp_path):
    """The check above can fail: a PDF whose one page carries only a running header scores ~0."""
    from weasyprint import HTML

    pdf = tmp_path / "header-only.pdf"
    HTML(string="<html><body><p style='margin:0;font-size:9pt'>consumer-credit · header</p></body></html>").write_pdf(pdf)
    assert _ink_below_header(pdf, tmp_path) < 0.001


def test_evidence_is_attached_and_in_the_metadata(compliance, demo):
    ev, meta = compliance["evidence"], compliance["meta"]
    digest = ev["digest"]["value"]
    assert digest == compliance["result"].digest == digest_of(ev["parameters"], ev["values"])
    assert f"hitlgov-digest:sha256:{digest}" in meta["/Keywords"]
    assert meta["/hitlgovdigest"] == f"sha256:{digest}"
    assert digest in _nospace(compliance["text"])
    runs = ev["values"]["inputs"]["ingestion_runs"]
    assert [r["sha256"] for r in runs] == [hashlib.sha256(demo["csv"].read_bytes()).hexdigest()]
    assert runs[0]["sha256"] in _nospace(compliance["text"])  # hashes may wrap
    assert ev["parameters"]["filter"] == {"from": str(START), "to": str(END), "system": SYSTEM,
                                          "model_version": None, "segment": None}
    assert ev["context"]["audit_chain"]["head"] == compliance["head_before"]
    assert compliance["head_before"] in _nospace(compliance["text"])
    assert ev["context"]["policy_text"] and ev["parameters"]["policy"]["sha256"]


def test_report_generated_is_an_audit_event(compliance, demo):
    with duckdb.connect(str(demo["db"]), read_only=True) as con:
        rows = con.execute("SELECT subject, CAST(detail AS VARCHAR) FROM audit_events WHERE kind = 'report_generated' "
                           "ORDER BY seq").fetchall()
    subjects = [s for s, _ in rows]
    assert "compliance.pdf" in subjects
    detail = json.loads(rows[subjects.index("compliance.pdf")][1])
    assert detail["kind"] == "compliance" and detail["digest"] == compliance["result"].digest
    assert detail["period"] == {"from": str(START), "to": str(END)} and detail["system"] == SYSTEM
    from hitlgov import audit

    with duckdb.connect(str(demo["db"]), read_only=True) as con:
        assert audit.verify_chain(con)["ok"]


# -- the executive report -----------------------------------------------------------------------------

def test_executive_report_is_two_pages_with_the_numbers(executive, expected):
    assert executive["pages"] == 2 == executive["result"].pages
    text = _flat(executive["text"])
    for key in ("automation_rate", "override_rate", "cases", "errors_caught", "cost", "reviewer_hours"):
        assert expected[key] in text, (key, expected[key])
    for heading in ("executive summary", "Return on review", "Top risks", "Cost per net error prevented", "Errors caught"):
        assert heading in text
    assert "FAIL" in text and "Page 2 of 2" in text


def test_executive_page_1_draws_the_net_benefit_trend(executive):
    """Issue 15: "the net benefit and its trend" on page 1. The chart (SVG, text kept as text) is on
    page 1 with its caption -- the Overview's words -- and, as the demo's outcomes are unknown from
    2026-09-01 (data/README.md), the legend entry for the months drawn apart as not yet known."""
    page1 = _flat(executive["page_texts"][0])
    assert _flat(roi.NET_BENEFIT_CAPTION) in page1
    assert "Net benefit of review per month" in page1 and "Outcomes not yet known" in page1
    assert "Automation, override and escalation rates per month" in page1  # the chart after it still fits page 1


def test_digest_is_stable_across_runs_and_kinds(compliance, executive, demo, tmp_path):
    # the same store, period and policy give the same digest: the kind and the time are not in it
    assert executive["result"].digest == compliance["result"].digest
    code, out, _ = _cli(db=demo["db"], start=START, end=END, system=SYSTEM, kind="executive",
                        out_file=tmp_path / "again.pdf")
    assert code == 0 and f"sha256:{compliance['result'].digest}" in out
    assert executive["evidence"]["context"]["generated_at"] != "" and "generated_at" not in json.dumps(
        executive["evidence"]["parameters"])


# -- verification ---------------------------------------------------------------------------------------

def test_verify_passes_on_the_untouched_store(compliance, demo):
    code, out, err = _cli(db=demo["db"], verify=compliance["path"])
    assert code == 0, out + err
    assert out.startswith("matches:")


def test_verify_fails_and_names_the_values_after_a_review_row_is_changed(compliance, demo, tmp_path):
    copy = tmp_path / "tampered.duckdb"
    shutil.copy(demo["db"], copy)
    with duckdb.connect(str(copy)) as con:
        # one single-review case: its reviewer's decision is flipped, so is the case's final decision
        case_id, reviewer = con.execute("""SELECT case_id, any_value(reviewer_id) FROM reviews GROUP BY case_id
                                           HAVING count(*) = 1 ORDER BY case_id LIMIT 1""").fetchall()[0]
        con.execute("""UPDATE reviews SET human_decision = CASE human_decision WHEN 'approve' THEN 'decline'
                       ELSE 'approve' END WHERE case_id = ? AND reviewer_id = ?""", [case_id, reviewer])
    code, out, err = _cli(db=copy, verify=compliance["path"])
    assert code == 1, out + err
    assert out.startswith("DOES NOT MATCH")
    assert "metrics.oversight.override_rate:" in out
    assert "in the report," in out and " now" in out
    assert f"reviews: row {SYSTEM}/{case_id}/{reviewer} of ingestion run 1 changed after it was stored" in out


def test_verify_detects_an_edited_attachment(compliance, demo, tmp_path):
    from weasyprint import Attachment, HTML

    ev = json.loads(json.dumps(compliance["evidence"]))
    ev["values"]["metrics"]["oversight"]["override_rate"] = 0.01  # a friendlier figure
    forged = tmp_path / "forged.pdf"
    HTML(string=f"<html><head><meta name=keywords content='hitlgov-digest:sha256:{ev['digest']['value']}'></head>"
                "<body>forged</body></html>").write_pdf(
        forged, attachments=[Attachment(string=json.dumps(ev), name=ATTACHMENT)])
    code, out, err = _cli(db=demo["db"], verify=forged)
    assert code == 1 and "the evidence attached to the PDF was altered" in out


def _as_made_by_an_older_version(ev: dict, out: Path, *, drop: str, change: float | None = None) -> Path:
    """The report as an older hitlgov would have written it: its generator named, one evidence key
    the newer code adds (``drop``) absent, digest and metadata consistent (as a real older report's)."""
    from weasyprint import Attachment, HTML

    ev = json.loads(json.dumps(ev))
    ev["parameters"]["generator"] = "hitlgov 0.1.0"
    del ev["values"]["metrics"]["oversight"][drop]
    if change is not None:
        ev["values"]["metrics"]["oversight"]["override_rate"] = change
    ev["digest"]["value"] = digest_of(ev["parameters"], ev["values"])
    HTML(string=f"<html><head><meta name=keywords content='hitlgov-digest:sha256:{ev['digest']['value']}'></head>"
                "<body>older</body></html>").write_pdf(out, attachments=[Attachment(string=json.dumps(ev), name=ATTACHMENT)])
    return out


def test_a_report_of_an_older_version_verifies_when_every_figure_it_states_is_reproduced(compliance, demo, tmp_path):
    old = _as_made_by_an_older_version(compliance["evidence"], tmp_path / "old.pdf", drop="cases_with_model_decision")
    code, out, err = _cli(db=demo["db"], verify=old)
    assert code == 0, out + err
    assert "made by hitlgov 0.1.0" in out
    assert "not in the report" in out and "cases_with_model_decision" in out
    # the same older report with one figure that the store does not reproduce still fails, naming it
    wrong = _as_made_by_an_older_version(compliance["evidence"], tmp_path / "wrong.pdf", drop="cases_with_model_decision",
                                         change=0.01)
    code, out, err = _cli(db=demo["db"], verify=wrong)
    assert code == 1, out + err
    assert "metrics.oversight.override_rate: 0.01 in the report" in out


def test_verify_of_a_file_that_is_not_a_report(demo, tmp_path):
    bogus = tmp_path / "bogus.pdf"
    bogus.write_text("not a pdf")
    code, out, err = _cli(db=demo["db"], verify=bogus)
    assert code == 2 and "not a readable PDF" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


# -- pseudonymisation -------------------------------------------------------------------------------------

def test_pseudonymise_hides_every_reviewer_id(demo, expected, compliance, tmp_path, monkeypatch):
    monkeypatch.delenv(pseudonym.ENV, raising=False)
    code, _, err = _cli(db=demo["db"], start=START, end=END, system=SYSTEM, out_file=tmp_path / "p.pdf",
                        pseudonymise=True)
    assert code == 1 and pseudonym.ENV in err and not (tmp_path / "p.pdf").exists()

    monkeypatch.setenv(pseudonym.ENV, KEY)
    out = tmp_path / "pseudo.pdf"
    result = _report(demo["db"], out, pseudonymise=True)
    got = _read(out)
    text, attached = _flat(got["text"]), json.dumps(got["evidence"])
    for reviewer in expected["reviewers"]:
        assert reviewer not in text and f'"{reviewer}"' not in attached, reviewer
    alias = pseudonym.pseudonym("rev-07", KEY.encode())
    assert alias in text and f"1 reviewer flagged: {alias}" in text
    pairs = got["evidence"]["values"]["metrics"]["agreement"]["cohen_kappa_pairs"]
    assert all(p["a"].startswith("R-") and p["b"].startswith("R-") for p in pairs)
    assert got["evidence"]["parameters"]["pseudonymised"] is True
    assert result.digest != compliance["result"].digest  # the digest covers what the report shows
    # with the key the values are recomputed; verification never *needs* it (issue 13): without it,
    # or with another key, the store and evidence are still checked and a note says what was skipped
    assert _cli(db=demo["db"], verify=out)[0] == 0
    monkeypatch.setenv(pseudonym.ENV, "another key")
    code, out_text, err = _cli(db=demo["db"], verify=out)
    assert code == 0 and "the values were not recomputed" in out_text, out_text + err


def test_pseudonymise_replaces_ids_in_pairs_and_lists():
    values = {"metrics": {"oversight": {"by_reviewer": [{"reviewer_id": "b", "reviews": 3},
                                                        {"reviewer_id": "a", "reviews": 3}]},
                          "automation_bias": {"reviewers": [{"reviewer_id": "a"}], "flagged": ["a"]},
                          "reviewer_accuracy": [{"reviewer_id": "b"}],
                          "agreement": {"consensus": [{"reviewer_id": "a"}],
                                        "cohen_kappa_pairs": [{"a": "a", "b": "b", "kappa": 0.5, "shared_cases": 20}]}}}
    out = pseudonym.pseudonymise(values, b"k")
    text = json.dumps(out)
    assert '"a"' not in text.replace('"a":', "") and '"b"' not in text.replace('"b":', "")
    pair = out["metrics"]["agreement"]["cohen_kappa_pairs"][0]
    assert {pair["a"], pair["b"]} == {pseudonym.pseudonym("a", b"k"), pseudonym.pseudonym("b", b"k")}
    assert pair["a"] < pair["b"]


# -- bad input ---------------------------------------------------------------------------------------------

def test_empty_period_gives_a_short_report(demo, tmp_path):
    out = tmp_path / "empty.pdf"
    code, stdout, err = _cli(db=demo["db"], start=dt.date(2020, 1, 1), end=dt.date(2020, 3, 31), system=SYSTEM,
                             out_file=out)
    assert code == 0, err
    got = _read(out)
    assert got["pages"] <= 2
    assert "No data for this period" in _flat(got["text"])
    assert got["evidence"]["values"]["metrics"]["counts"]["cases"] == 0
    code, stdout, err = _cli(db=demo["db"], verify=out)
    assert code == 0, stdout + err


def test_unwritable_output_path_is_one_line(demo, tmp_path):
    for target in (tmp_path / "no" / "such" / "dir" / "r.pdf", tmp_path):
        code, out, err = _cli(db=demo["db"], start=START, end=END, system=SYSTEM, out_file=target)
        assert code == 1
        assert err.startswith("error: cannot write the report to") and len(err.strip().splitlines()) == 1
        assert "Traceback" not in err
    if os.geteuid() != 0:  # root ignores permission bits
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        code, out, err = _cli(db=demo["db"], start=START, end=END, system=SYSTEM, out_file=locked / "r.pdf")
        assert code == 1 and "permission denied" in err


def test_unknown_kind_and_missing_out(demo, tmp_path):
    code, out, err = _cli(db=demo["db"], kind="weekly", out_file=tmp_path / "r.pdf")
    assert code == 2 and "--kind 'weekly'" in err and "compliance" in err
    code, out, err = _cli(db=demo["db"], kind="compliance", out_file=None)
    assert code == 2 and "--out" in err


def test_cli_command_end_to_end(demo, compliance, tmp_path):
    """``hitlgov report --verify`` through Typer, as a user runs it."""
    from typer.testing import CliRunner

    from hitlgov.cli import app

    res = CliRunner().invoke(app, ["report", "--verify", str(compliance["path"]), "--db", str(demo["db"])])
    assert res.exit_code == 0, res.output
    assert "matches" in res.output
    res = CliRunner().invoke(app, ["report", "--kind", "weekly", "--out", str(tmp_path / "x.pdf"),
                                   "--db", str(demo["db"])])
    assert res.exit_code == 2


# -- the dashboard's Reports page -------------------------------------------------------------------------

# -- issue 17: the reliance chapter --------------------------------------------------------------

def test_reliance_chapter_prints_the_evidence_values(compliance):
    text = _flat(compliance["text"])
    m = compliance["evidence"]["values"]["metrics"]
    assert "3A Reliance evidence" in text and "Bias audit (NYC Local Law 144)" in text
    sa, rel = m["selective_accuracy"], m["reliance"]
    assert sa["audit_sample"] and fmt.pct(sa["automated_error_rate"]["rate"]) in text
    assert fmt.pct(rel["over_reliance"]["rate"]) in text and fmt.pct(rel["canary_catch_rate"]["rate"]) in text
    # the finding says what it rests on: the demo has outcomes, first judgements and canaries
    assert "Planted wrong outputs (canaries)" in text and "First judgements recorded" in text
    assert m["agreement"]["gwet_ac1"] is not None and fmt.ratio(m["agreement"]["gwet_ac1"]) in text


def test_reliance_chapter_per_reviewer_table_prints_the_metrics_json_values(compliance, demo):
    """Each reviewer's over-reliance, under-reliance and canary catch rate, with interval and
    denominators, as ``metrics --json`` gives them for the same filter; the automation-bias
    finding names the evidence it rests on."""
    from typer.testing import CliRunner

    from hitlgov.cli import app

    run = CliRunner().invoke(app, ["metrics", "--json", "--no-drift", "--no-cache", "--db", str(demo["db"]),
                                   "--system", SYSTEM, "--from", START.isoformat(), "--to", END.isoformat()])
    assert run.exit_code == 0, run.output
    m = json.loads(run.stdout)
    text = _flat(compliance["text"])

    def cells(b):
        if b["rate"] is None:
            return f"n/a n/a {fmt.count(b['numerator'])} / {fmt.count(b['denominator'])}"
        return (f"{fmt.pct(b['rate'])} {fmt.pct(b['ci'][0])} – {fmt.pct(b['ci'][1])} "
                f"{fmt.count(b['numerator'])} / {fmt.count(b['denominator'])}")

    flagged = set(m["automation_bias"]["flagged_any"])
    assert flagged == {"rev-07"}  # the demo's one rubber-stamper, by every kind of evidence it has
    for r in m["reliance"]["by_reviewer"]:
        row = (f"{r['reviewer_id']}{' (flagged)' if r['reviewer_id'] in flagged else ''} "
               + " ".join(cells(r[k]) for k in ("over_reliance", "under_reliance", "canary_catch_rate")))
        assert row in text, row
    assert ("The finding rests on peer comparison of override rate and review time; outcome-based "
            "over-reliance; first-judgement switch rates; canaries (planted wrong outputs)") in text
    # the finding itself (policy checks table and summary) says by which evidence rev-07 is flagged
    assert "1 reviewer shows signs of automation bias (rev-07: far fewer overrides than peers" in text
    assert "The finding rests on peer comparison of override rate and review time, outcome-based" in text


def test_report_names_reviewers_flagged_by_other_evidence_than_peers(make_store, tmp_path):
    """The log of tests/metrics/test_reliance.py's hand-computed finding (conftest.AUTOMATION_BIAS_LOG): too few reviews for
    the peer comparison, r1 flagged by canaries and r2 by over-reliance. Section 2.4 must not say
    "No reviewer is flagged"; it names them, as 3A.1 and the finding do."""
    from conftest import AUTOMATION_BIAS_LOG

    db = make_store(AUTOMATION_BIAS_LOG)
    out = tmp_path / "small.pdf"
    build_report(db=db, start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 1), kind="compliance", out_file=out,
                 record=False)
    text = _flat(_read(out)["text"])
    assert "No reviewer is flagged" not in text
    assert "Also flagged by canaries or outcome-based over-reliance (section 3A.1): r1, r2" in text
    assert "No reviewer had enough reviews to be compared with peers" in text
    assert "2 reviewers show signs of automation bias (r1: caught 0 of 15 planted wrong outputs; r2: kept" in text


def test_drift_chapter_draws_each_tested_columns_distributions(compliance, demo):
    """Issue 15: the drift chapter shows reference vs current distributions, not only the table:
    one chart per tested column (not the derived 0/1 columns), from the same function and windows
    as the dashboard's Drift page."""
    from hitlgov.metrics import drift

    values = compliance["evidence"]["values"]
    result = values["metrics"]["drift"]
    dists = values["series"]["drift_distributions"]
    tested = [c["column"] for c in result["columns"] if c["column"] not in ("model_positive", "overridden")]
    assert [d["column"] for d in dists] == tested and "model_score" in tested
    w = result["windows"]
    window = {k: (dt.date.fromisoformat(w[k]["from"]), dt.date.fromisoformat(w[k]["to"])) for k in ("reference", "current")}
    with Source.open(demo["db"]) as src:
        direct = drift.distribution(src, Filter(start=START, end=END, system=SYSTEM), column="model_score",
                                    reference=window["reference"], current=window["current"])
    shown = next(d for d in dists if d["column"] == "model_score")
    assert [b["reference"] for b in shown["bins"]] == [b["reference"] for b in direct["bins"]]
    assert sum(b["reference"] for b in shown["bins"]) == w["reference"]["cases"]
    text = _flat(compliance["text"])
    assert "Distributions: reference vs current" in text
    assert text.count("reference (grey) and") >= len(tested)  # one captioned figure per column
