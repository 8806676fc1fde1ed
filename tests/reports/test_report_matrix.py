"""Every report kind over a matrix of periods and filters (issue 15): no cell may raise.

The compliance report crashed on a one-day period (the template sorted reviewers by an
overrides/expected ratio that is None for a reviewer whose peers never override). The matrix
lays out both kinds as HTML -- everything but WeasyPrint, which only paints the HTML -- for:
one day, one week, a period with no reviews, one with no known outcomes, one reviewer, one
group, a model version, a segment, the whole log; and renders one real PDF of the hardest cell.

Adding a case is one line in ``TINY`` or ``DEMO``; the annotation-only system (issue 12: cases
without a model decision, two annotators) is one of them.
"""
from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from hitlgov import store
from hitlgov.ingest.pipeline import ingest_path
from hitlgov.mapping import Mapping
from hitlgov.metrics.policy import load_policy
from hitlgov.metrics.source import Filter, Source
from hitlgov.reports import build
from hitlgov.reports.build import KINDS

pytestmark = pytest.mark.xdist_group("reports")

D = dt.date


def _tiny_log() -> str:
    """120 cases of system ``tiny`` in Jan-Mar 2026, each month missing something:

    * January: three reviewers (r1 overrides, r2 and r3 never do -- so r2's and r3's expected
      overrides from their peers are > 0 but r1's peers expect none: a None ratio beside numbers),
      known outcomes, two gender groups, two model versions;
    * February: no review at all;
    * March: one reviewer, no known outcome, one gender group.
    """
    rng = random.Random(7)
    rows = ["case_id,ts,system,model_version,model_decision,model_score,reviewer_id,human_decision,"
            "review_seconds,rationale,outcome,gender"]
    for i in range(120):
        month = 1 + i // 40
        day = 1 + (i % 40) % 28
        ts = f"2026-{month:02d}-{day:02d}T10:{i % 60:02d}:00"
        model = "approve" if rng.random() < 0.6 else "deny"
        score = f"{rng.uniform(0.05, 0.95):.3f}"
        version = "v1" if i % 2 else "v2"
        gender = ("f" if i % 3 else "m") if month != 3 else "f"
        outcome = ("approve" if rng.random() < 0.55 else "deny") if month == 1 else ""
        base = f"c{i},{ts},tiny,{version},{model},{score}"
        if month == 1:
            for rid in ("r1", "r2", "r3")[: 1 + i % 3]:
                human = ("deny" if model == "approve" else "approve") if rid == "r1" and i % 4 == 0 else model
                rows.append(f"{base},{rid},{human},{30 + i},checked,{outcome},{gender}")
        elif month == 2:
            rows.append(f"{base},,,,,{outcome},{gender}")
        else:
            rows.append(f"{base},r1,{model},{40 + i},,{outcome},{gender}")
    return "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("matrix-tiny")
    log = folder / "tiny.csv"
    log.write_text(_tiny_log())
    db = folder / "store.duckdb"
    with store.connect(db) as con:
        ingest_path(con, log, mapping=Mapping(sensitive=["gender"], positive_label="approve"))
        labels = folder / "labels.csv"  # two annotators label 30 tasks no model decided
        labels.write_text("case_id,ts,reviewer_id,human_decision,review_seconds,gender\n" + "".join(
            f"t{i},2026-01-{1 + i % 28:02d}T09:00:00,{rid},{'approve' if (i + (rid == 'a2')) % 3 else 'deny'},20,"
            f"{'f' if i % 2 else 'm'}\n" for i in range(30) for rid in ("a1", "a2")))
        ingest_path(con, labels, mapping=Mapping(system="labels", sensitive=["gender"], positive_label="approve",
                                                 annotation_only=True))
    return db


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    from hitlgov import demo as gen
    from hitlgov.mapping import load_mapping

    folder = tmp_path_factory.mktemp("matrix-demo")
    gen.generate(folder, cases=3_000, seed=0)
    db = folder / "store.duckdb"
    with store.connect(db) as con:
        ingest_path(con, folder / "decisions.csv", mapping=load_mapping(folder / "mapping.yaml"))
    return db


TINY = {  # name: filter on the hand-built store
    "whole log": Filter(system="tiny"),
    "january (mixed None and numeric bias ratios)": Filter(D(2026, 1, 1), D(2026, 1, 31), system="tiny"),
    "no reviews": Filter(D(2026, 2, 1), D(2026, 2, 28), system="tiny"),
    "no outcomes, one reviewer, one group": Filter(D(2026, 3, 1), D(2026, 3, 31), system="tiny"),
    "one day": Filter(D(2026, 1, 5), D(2026, 1, 5), system="tiny"),
    "model version": Filter(D(2026, 1, 1), D(2026, 3, 31), system="tiny", model_version="v1"),
    "segment": Filter(D(2026, 1, 1), D(2026, 3, 31), system="tiny", segment=("gender", "m")),
    "empty period": Filter(D(2025, 1, 1), D(2025, 1, 31), system="tiny"),
    "annotation-only system": Filter(system="labels"),  # issue 12: cases without a model decision
}
DEMO = {  # name: filter on a 3,000-case demo deployment (the generator of `make demo`)
    "one day": Filter(D(2026, 3, 2), D(2026, 3, 2), system="consumer-credit"),
    "one week": Filter(D(2026, 3, 2), D(2026, 3, 8), system="consumer-credit"),
    "model version": Filter(D(2025, 11, 1), D(2026, 10, 31), system="consumer-credit", model_version="v2.0"),
    "segment": Filter(D(2025, 11, 1), D(2026, 10, 31), system="consumer-credit", segment=("age_band", "18-24")),
}


def _lay_out(db: Path, flt: Filter, kind: str) -> tuple[dict, str]:
    with Source.open(db) as src:
        doc, layout, html = build.report_html(src, flt, kind=kind, policy=load_policy())
    return layout, html


def test_the_tiny_store_exercises_a_none_ratio_beside_numbers(tiny):
    """The precondition of the crash: in January one reviewer's ratio is None, others are numbers."""
    from hitlgov.metrics import oversight

    with Source.open(tiny) as src:
        rows = oversight.automation_bias(src, TINY["january (mixed None and numeric bias ratios)"],
                                         min_reviews=1)["reviewers"]
    ratios = {r["reviewer_id"]: r["override_ratio"] for r in rows}
    assert ratios["r1"] is None and ratios["r2"] is not None and ratios["r3"] is not None


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", list(TINY))
def test_every_kind_lays_out_on_the_tiny_store(tiny, case, kind):
    layout, html = _lay_out(tiny, TINY[case], kind)
    if TINY[case].system == "labels":  # the annotation-only system was stored, not quarantined
        assert layout["m"]["counts"]["cases"] == 30 and layout["m"]["counts"]["reviews"] == 60
    assert "Traceback" not in html and "None" not in _cells(html)
    flt = TINY[case]
    if flt.model_version:  # the scope is named where a reader looks: title and running header
        assert f"model version {flt.model_version}" in layout["scope_label"]
        assert f"<title>hitlgov {layout['kind_title']}: tiny (model version {flt.model_version})" in html
    if flt.segment:
        assert f"{flt.segment[0]} = {flt.segment[1]}" in layout["scope_label"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", list(DEMO))
def test_every_kind_lays_out_on_the_demo(demo, case, kind):
    layout, html = _lay_out(demo, DEMO[case], kind)
    assert not layout["empty"]
    assert "None" not in _cells(html)


def _cells(html: str) -> str:
    """The text of the table cells (where a None would be a formatting bug)."""
    import re

    return " ".join(re.findall(r"<td[^>]*>([^<]*)</td>", html))


def test_the_one_day_report_that_crashed_renders_a_pdf(tiny, tmp_path):
    """The same path the CLI takes (build_report), on the January store cell with the None ratio."""
    flt = TINY["january (mixed None and numeric bias ratios)"]
    out = tmp_path / "jan.pdf"
    result = build.build_report(db=tiny, start=flt.start, end=flt.end, system="tiny", out_file=out, record=False)
    assert out.stat().st_size > 10_000 and result.pages >= 5


@pytest.mark.parametrize("case, scope", [("model version", "model version v2.0"),
                                         ("segment", "age_band = 18-24")])
def test_the_running_header_names_the_scope(demo, case, scope):
    """Page 2's running header (print.css @top-left, from the strings set on page 1) names the
    model version or segment, not only the system: it read "consumer-credit · 2026-... to ..."
    because the imported macro could not see the template's ``scope_extra``."""
    import io

    from pypdf import PdfReader

    flt = DEMO[case]
    with Source.open(demo) as src:
        result = build.render_report(src, flt, kind="executive", policy=load_policy())
    page2 = " ".join((PdfReader(io.BytesIO(result.pdf)).pages[1].extract_text() or "").split())
    assert f"consumer-credit ({scope}) · 2025-11-01 to 2026-10-31" in page2, page2[:300]
