"""``hitlgov report`` without ``--from/--to`` covers the last full quarter and says so (issue 15);
page 1 of the executive report shows the Overview's deltas against the previous quarter.

The store is the hand-counted log of ``tests/metrics/test_default_period.py`` (2025-11-15 ..
2026-05-10): default 2026 Q1, compared with 2025 Q4 -- cases 5 vs 4 (+1), automation 60% vs 50%
(+10.0 pp), review cost 40 vs 20 (+€20), net benefit 1,960 vs 280 (+€1,680).
"""
from __future__ import annotations

import datetime as dt
import json
import re
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from hitlgov.cli import app
from hitlgov.mapping import Mapping
from hitlgov.metrics.policy import load_policy
from hitlgov.metrics.source import Filter, Source
from hitlgov.reports import build
from hitlgov.reports.evidence import ATTACHMENT

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))
from test_default_period import LOG  # noqa: E402 - the same hand-counted log

pytestmark = pytest.mark.xdist_group("reports")


def _pdf(path: Path) -> tuple[str, dict]:
    reader = PdfReader(str(path))
    text = " ".join(re.sub(r"\s+", " ", p.extract_text() or "") for p in reader.pages)
    return text, json.loads(reader.attachments[ATTACHMENT][0])


@pytest.fixture
def db(make_store):
    return make_store(LOG, mapping=Mapping(positive_label="approve"))


def test_report_without_a_period_covers_the_last_full_quarter(db, tmp_path):
    out = tmp_path / "exec.pdf"
    run = CliRunner().invoke(app, ["report", "--db", str(db), "--kind", "executive", "--out", str(out)])
    assert run.exit_code == 0, run.output
    assert "2026-01-01 to 2026-03-31" in run.output  # the CLI's own line names the period too
    text, doc = _pdf(out)
    assert doc["parameters"]["filter"]["from"] == "2026-01-01" and doc["parameters"]["filter"]["to"] == "2026-03-31"
    assert doc["context"]["period_choice"]["how"] == "last_full_quarter"
    assert "2026 Q1, 2026-01-01 to 2026-03-31" in text
    assert "Period: 2026 Q1, the last full calendar quarter of the log" in text
    # the Overview's deltas, hand-counted, against the previous calendar quarter (92 days, not 90)
    for delta in ("+1 vs 2025 Q4", "+10.0 pp vs 2025 Q4", "+0.0 pp vs 2025 Q4", "+€20 vs 2025 Q4",
                  "+€1,680 vs 2025 Q4"):
        assert delta in text, delta
    assert "Deltas compare with the period just before: 2025 Q4 (2025-10-01 to 2025-12-31), which the log covers " \
           "only from 2025-11-15" in text
    assert PdfReader(str(out)).get_num_pages() == 2  # the deltas fit: still exactly two pages
    # the recorded period re-verifies (the deltas are in the digested values)
    check = CliRunner().invoke(app, ["report", "--verify", str(out), "--db", str(db)])
    assert check.exit_code == 0, check.output
    assert doc["values"]["comparison"]["delta"]["cases"] == 1


def _html(db: Path, flt: Filter, kind: str = "compliance") -> tuple[str, dict]:
    """The report laid out as HTML (everything but WeasyPrint's painting), as text and evidence."""
    with Source.open(db) as src:
        doc, _layout, html = build.report_html(src, flt, kind=kind, policy=load_policy())
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)), doc


def test_a_log_without_a_whole_quarter_reports_the_whole_log_and_says_so(make_store):
    db = make_store("case_id,ts,model_decision\nc1,2026-01-10T09:00:00,approve\nc2,2026-02-20T09:00:00,decline\n")
    for kind in ("compliance", "executive"):
        text, doc = _html(db, Filter(), kind)
        assert doc["context"]["period_choice"]["how"] == "whole_log"
        assert doc["parameters"]["filter"]["from"] == "2026-01-10" and doc["parameters"]["filter"]["to"] == "2026-02-20"
        assert "does not cover a whole calendar quarter, so the period is the whole log" in text, kind


def test_a_given_period_is_reported_as_given(db):
    text, doc = _html(db, Filter(dt.date(2026, 2, 1), dt.date(2026, 3, 31)), "executive")
    assert doc["context"]["period_choice"]["how"] == "given"
    assert "last full calendar quarter" not in text
    # two whole months -> the two months before (Dec-Jan): 2025-12-01 .. 2026-01-31
    assert "Deltas compare with the period just before: 2025-12-01 to 2026-01-31." in text


def test_the_default_quarter_given_explicitly_is_described_as_the_default(db):
    """The dashboard passes its default quarter as dates: the PDF says the same as the CLI's."""
    text, doc = _html(db, Filter(dt.date(2026, 1, 1), dt.date(2026, 3, 31)))
    assert doc["context"]["period_choice"]["how"] == "last_full_quarter"
    assert "Period: 2026 Q1, the last full calendar quarter of the log" in text
