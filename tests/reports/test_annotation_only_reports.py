"""Cases without a model decision and the review stage in the PDF reports (issue 12).

Stores built from verbatim Label Studio exports (tests/adapters/fixtures/SOURCES.md), as the
dashboard's annotation-only test does, plus the hand-built mixed log of
tests/metrics/test_annotation_only.py. Every figure is read back from the PDF's text (pypdf) and
compared with ``hitlgov metrics --json`` for the same filter and with values worked out by hand:

* ``real_test_export_yolo_data.json``: 2 tasks, no predictions (annotation-only), 3 annotations
  by users 1 and 2 with lead times 1235.418, 85.444 and 5.652 s: median 85.444 s, 90th
  percentile 85.444 + 0.8 x (1235.418 - 85.444) = 1005.4232 s; the two annotators of task 1 agree.
* ``real_test_export_csv_csv_test.json``: 2 tasks with predictions, 2 annotations by
  hakan@heartex.com, each rejected by review@heartex.com: rejection rate 2 / 2.
* the mixed log: 4 cases, 2 without a model decision; over cases 1 and 2 the automation rate is
  1/2 and the override rate 1/1; fairness on ``g`` leaves the 2 undecided cases out.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from hitlgov import formats as fmt
from hitlgov import store
from hitlgov.cli import app
from hitlgov.ingest import service
from hitlgov.ingest.pipeline import ingest_path
from hitlgov.mapping import Mapping
from hitlgov.metrics.policy import load_policy
from hitlgov.metrics.source import Filter, Source
from hitlgov.reports import build_report, pseudonym
from hitlgov.reports.build import report_html
from hitlgov.reports.evidence import ATTACHMENT

pytestmark = pytest.mark.xdist_group("reports")

LS = Path(__file__).parent.parent / "adapters" / "fixtures" / "labelstudio"
NA = "not applicable: no model decisions"
KEY = "a test key, not a secret"
MIXED_LOG = """case_id,ts,model_decision,reviewer_id,human_decision,review_seconds,outcome,g
1,2024-01-01,approve,r1,deny,10,deny,a
2,2024-01-02,deny,,,,deny,a
3,2024-01-03,,r1,approve,20,approve,b
4,2024-01-04,,r2,deny,30,deny,b
"""


def _flat(text: str) -> str:
    return " ".join(text.split())


def _report(db: Path, out: Path, **kw) -> dict:
    build_report(db=db, out_file=out, record=False, cache=False, **kw)
    reader = PdfReader(str(out))
    pages = [_flat(p.extract_text() or "") for p in reader.pages]
    return {"text": " ".join(pages), "pages": pages, "evidence": json.loads(reader.attachments[ATTACHMENT][0])}


def _metrics_json(db: Path, period: dict) -> dict:
    """``hitlgov metrics --json`` for the report's filter (its resolved period)."""
    res = CliRunner().invoke(app, ["metrics", "--json", "--no-cache", "--no-drift", "--db", str(db),
                                   "--from", period["from"], "--to", period["to"]])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _section(text: str, start: str, end: str) -> str:
    """The text from heading ``start`` to heading ``end`` (the headings as the PDF prints them),
    after the cover (whose contents list the same headings)."""
    i = text.index(start, text.find("Date and signature") + 1)
    return text[i:text.index(end, i + len(start))]


def _no_none_or_nan(text: str) -> None:
    assert not re.findall(r"\bNone\b|\bnan\b|\bNaN\b", text), re.findall(r".{40}\b(?:None|nan|NaN)\b.{40}", text)


@pytest.fixture(scope="module")
def annotation_only(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("ao-report")
    db = folder / "s.duckdb"
    service.ingest_files(db, [LS / "real_test_export_yolo_data.json"])
    out = {kind: _report(db, folder / f"{kind}.pdf", kind=kind) for kind in ("compliance", "executive")}
    out["metrics"] = _metrics_json(db, out["compliance"]["evidence"]["parameters"]["filter"])
    return out


@pytest.fixture(scope="module")
def review_stage_store(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("rs-report") / "s.duckdb"
    service.ingest_files(db, [LS / "real_test_export_csv_csv_test.json"])
    return db


@pytest.fixture(scope="module")
def review_stage(review_stage_store, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("rs-out")
    out = {kind: _report(review_stage_store, folder / f"{kind}.pdf", kind=kind) for kind in ("compliance", "executive")}
    out["metrics"] = _metrics_json(review_stage_store, out["compliance"]["evidence"]["parameters"]["filter"])
    return out


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("mixed-report")
    (folder / "log.csv").write_text(MIXED_LOG)
    db = folder / "s.duckdb"
    with store.connect(db) as con:
        ingest_path(con, folder / "log.csv",
                    mapping=Mapping(annotation_only=True, sensitive=["g"], positive_label="approve"))
    out = {"compliance": _report(db, folder / "compliance.pdf", kind="compliance")}
    out["metrics"] = _metrics_json(db, out["compliance"]["evidence"]["parameters"]["filter"])
    return out


# -- an annotation-only system --------------------------------------------------------------------

def test_annotation_only_compliance_report_says_not_applicable_in_every_model_section(annotation_only):
    text = annotation_only["compliance"]["text"]
    _no_none_or_nan(text)
    summary = _section(text, "1 Executive summary", "1.2 Policy checks")
    assert "none has a model decision" in summary and NA in summary
    for tile in ("Automation rate", "Override rate", "Escalation rate", "High-risk review coverage",
                 "Reviewers flagged for automation bias", "Errors caught by review"):
        assert f"{tile} {NA}" in summary, tile  # the tile's value, not n/a or 0%
    assert re.search(r"Cases without a model decision 2 ?left out of the figures about the model's decision", summary)
    oversight = _section(text, "2.1 How often people look", "2.2 Trends")
    for row in ("Automation rate (no human review)", "Override rate (final decision differs from the model's)",
                "Escalation rate (of reviewed cases)"):
        assert f"{row} {NA}" in oversight, row
    assert f"Cases decided by the model none ({NA})" in oversight
    assert NA in _section(text, "2.2 Trends", "2.3 Reviewers")
    assert f"Automation bias: {NA}" in _section(text, "2.4 Automation bias", "2.5 Review stage")
    assert NA in _section(text, "3A Reliance evidence", "3A.3")
    assert NA in _section(text, "5 Drift", "6 Data quality")
    # the policy checks about the model's decision say why they were not evaluated
    assert f"oversight.override_rate: {NA}" in _section(text, "1.2 Policy checks", "2 Human oversight")
    assert "0.0%" not in oversight  # no rate about the model's decision printed as zero


def test_annotation_only_report_shows_workload_latency_and_agreement(annotation_only):
    text, m = annotation_only["compliance"]["text"], annotation_only["metrics"]
    oversight = _section(text, "2.1 How often people look", "2.2 Trends")
    # hand values: 3 reviews; median 85.444 s, p90 1005.4232 s (linear interpolation)
    assert m["counts"]["reviews"] == 3 and "Reviews (a case may have several) 3" in oversight
    assert (m["oversight"]["review_seconds_median"], m["oversight"]["review_seconds_p90"]) == (85.444, 1005.4232)
    assert f"Review time: median / 90th percentile {fmt.seconds(85.444)} / {fmt.seconds(1005.4232)}" in oversight
    # the two annotators of task 1 agree: percent agreement 1/1
    assert m["agreement"]["percent_agreement"] == 1.0
    assert f"Percent agreement {fmt.pct(1.0)}" in _section(text, "3 Reviewer agreement", "3.2 Pairwise")
    reviewers = _section(text, "2.3 Reviewers", "2.4 Automation bias")
    assert "Override rate" not in reviewers.split("Accuracy:")[0]  # the model columns are left out, and said so
    assert f"Override rate, value added and the automation-bias flag: {NA}" in reviewers


def test_annotation_only_executive_summary_says_not_applicable(annotation_only):
    pages = annotation_only["executive"]["pages"]
    assert len(pages) == 2
    _no_none_or_nan(" ".join(pages))
    for tile in ("Automation rate", "Override rate", "Net benefit of review", "Net errors prevented"):
        assert f"{tile} {NA}" in pages[0], tile
    assert f"Return on review: {NA}." in pages[0]
    assert "People made 3 reviews of 2 cases" in pages[0]
    assert f"Automation, override, errors caught and the model's error rate: {NA}." in pages[1]
    assert "No case of the 2 in the period has a model decision (annotation-only); the reviewer hours count all 3 reviews" \
        in pages[1]


# -- numbers in the PDF = metrics --json ---------------------------------------------------------

def test_mixed_store_report_counts_the_cases_each_metric_left_out(mixed):
    text, m = mixed["compliance"]["text"], mixed["metrics"]
    _no_none_or_nan(text)
    o, f = m["oversight"], m["fairness"]["g"]
    # hand values: 2 of 4 cases undecided; over the 2 decided, automation 1/2, override 1/1
    assert (o["cases_with_model_decision"], o["cases_without_model_decision"]) == (2, 2)
    assert (o["automation_rate"], o["override_rate"], f["cases_without_model_decision"]) == (0.5, 1.0, 2)
    summary = _section(text, "1 Executive summary", "1.2 Policy checks")
    assert (f"the model decided {o['cases_with_model_decision']} of the {m['counts']['cases']} cases; "
            f"{o['cases_without_model_decision']} have no model decision") in summary
    assert f"automation rate {fmt.pct(0.5)}" in summary and f"changed the outcome of {fmt.pct(1.0)}" in summary
    oversight = _section(text, "2.1 How often people look", "2.2 Trends")
    assert "Cases decided by the model 2 " in oversight
    assert "Cases without a model decision (annotation-only) 2: left out of the automation, review, override" in oversight
    assert f"Automation rate (no human review) {fmt.pct(o['automation_rate'])}" in oversight
    assert f"Override rate (final decision differs from the model's) {fmt.pct(o['override_rate'])}" in oversight
    assert "2 cases without a model decision are left out of the test" in _section(text, "2.4 Automation bias",
                                                                                 "2.5 Review stage")
    assert "2 cases without a model decision are left out of 3A.1 and 3A.2" in _section(text, "3A Reliance", "3A.3")
    fairness = _section(text, "4 Fairness", "5 Drift")
    assert (f"{f['cases_without_model_decision']} cases without a model decision are left out of both the model's "
            "and the final decision's figures") in fairness
    # reviewer accuracy exists for annotation-only reviews: r1 2/2 and r2 1/1 against the outcome
    assert {r["reviewer_id"]: r["reviewer_accuracy"] for r in m["reviewer_accuracy"]} == {"r1": 1.0, "r2": 1.0}
    assert "Cases without a model decision 2" in _section(text, "Appendix B Evidence", "Audit trail")


def test_review_stage_rejection_rate_in_both_reports_equals_metrics_json(review_stage):
    stage = review_stage["metrics"]["oversight"]["review_stage"]
    # hand values: both annotations of hakan@heartex.com rejected by review@heartex.com
    assert (stage["verdicts"], stage["rejected"], stage["rejection_rate"]) == (2, 2, 1.0)
    rate = fmt.pct(stage["rejection_rate"])
    text = review_stage["compliance"]["text"]
    _no_none_or_nan(text)
    assert re.search(rf"Review-stage rejection rate {re.escape(rate)} ?2 of 2 annotations rejected", _section(
        text, "Key figures", "1.2 Policy checks"))
    assert (f"Review-stage rejection rate (a second reviewer's verdicts) {rate} (2 of 2 annotations rejected by a "
            "second reviewer)") in _section(text, "2.1 How often people look", "2.2 Trends")
    part = _section(text, "2.5 Review stage", "3 Reviewer agreement")
    assert f"2 of 2 verdicts rejected the annotation, a rejection rate of {rate}" in part
    assert f"hakan@heartex.com 2 2 {rate}" in part
    assert "Cases without a model decision (annotation-only) 0 (every case has a model decision)" in text
    assert len(review_stage["executive"]["pages"]) == 2
    page2 = review_stage["executive"]["pages"][1]
    assert f"Review-stage rejection rate: {rate} (2 of 2 annotations rejected by a second reviewer)" in page2
    assert "Every case has a model decision" in page2


def test_a_pseudonymised_report_hides_the_review_stage_annotators(review_stage_store):
    """The review stage names the annotator whose work was judged: a reviewer id like any other.
    (Laid out as HTML: pseudonymisation happens before layout, WeasyPrint only paints it.)"""
    with Source.open(review_stage_store) as src:
        doc, _, html = report_html(src, Filter(), kind="compliance", policy=load_policy(), key=KEY.encode())
    by = doc["values"]["metrics"]["oversight"]["review_stage"]["by_annotator"]
    assert len(by) == 1 and by[0]["reviewer_id"] == pseudonym.pseudonym("hakan@heartex.com", KEY.encode())
    assert "hakan@heartex.com" not in html and by[0]["reviewer_id"] in html
