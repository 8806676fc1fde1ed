"""Annotation-only systems and the review stage on the dashboard, on stores built from verbatim
exports (tests/adapters/fixtures/SOURCES.md).

A labelling tool's export without predictions stores cases without a model decision: every page
must render without an exception and without a "None" anywhere (a tile, a text, a table column of
empty cells), and the Oversight page must say how many cases have no model decision and what the
review stage rejected.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import dashboard_helpers as helpers
from hitlgov import formats as fmt
from hitlgov.dashboard.literal import md
from hitlgov.ingest import service

pytestmark = pytest.mark.xdist_group("dashboard")

LS = Path(__file__).parent.parent / "adapters" / "fixtures" / "labelstudio"


def store(tmp_path_factory, name: str) -> Path:
    db = tmp_path_factory.mktemp(name.split(".")[0]) / "s.duckdb"
    service.ingest_files(db, [LS / name])
    return db


@pytest.fixture(scope="module")
def annotation_only_db(tmp_path_factory) -> Path:
    # label-studio-converter tests/data/test_export_yolo/data.json: 2 tasks, no predictions,
    # 3 annotations by users 1 and 2 (lead times 1235.418, 85.444, 5.652 s)
    return store(tmp_path_factory, "real_test_export_yolo_data.json")


@pytest.fixture(scope="module")
def review_stage_db(tmp_path_factory) -> Path:
    # tests/data/test_export_csv/csv_test.json: 2 annotations, each rejected by review@heartex.com
    return store(tmp_path_factory, "real_test_export_csv_csv_test.json")


def open_app(db: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("HITLGOV_DB", str(db))
    at = AppTest.from_file(str(helpers.APP_FILE), default_timeout=90)
    at.run()
    return at


def shown_text(at: AppTest) -> list[str]:
    out = [m.value for m in at.metric] + [m.label for m in at.metric]
    for kind in ("markdown", "caption", "info", "warning", "error", "success"):
        out += [e.value for e in getattr(at, kind)]
    return out


def test_every_page_renders_an_annotation_only_system_without_none(annotation_only_db, monkeypatch):
    at = open_app(annotation_only_db, monkeypatch)
    for view, _, title, _ in helpers.PAGES:
        at.switch_page(f"views/{view}").run()
        assert not at.exception, (title, [e.value for e in at.exception])
        assert not [e.value for e in at.error], title
        nones = [t for t in shown_text(at) if "None" in t.replace("Nonetheless", "")]
        assert not nones, (title, nones)
        for table in at.dataframe:
            frame = table.value
            empty = [c for c in frame.columns if len(frame) and frame[c].isna().all()]
            assert not empty, (title, empty)  # a column of empty cells is left out, and named


def test_oversight_page_counts_cases_without_a_model_decision(annotation_only_db, monkeypatch):
    at = open_app(annotation_only_db, monkeypatch)
    at.switch_page("views/oversight.py").run()
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["No model decision"] == "2" and tiles["Rejection rate"] == "n/a"
    assert tiles["Override rate"] == "n/a"
    captions = "\n".join(c.value for c in at.caption)
    assert "2 of 2 cases have no model output" in captions and "no review stage" in captions
    assert "No case in this selection has a model decision (3 reviews in all)" in captions
    # the three reviews are not called "no human review": the page says why nothing is overridden
    info = "\n".join(i.value for i in at.info)
    assert "3 reviews in this selection are of cases without a model decision" in info
    assert "No human reviewed any case" not in info
    # the review-time section is still there (median of 1235.418, 85.444, 5.652 = 85.444 s)
    assert tiles["Median review"] == fmt.seconds(85.444)
    at.switch_page("views/overview.py").run()
    assert "2 of 2 cases have no model decision" in "\n".join(c.value for c in at.caption)


def test_oversight_page_shows_the_review_stage_rejection_rate(review_stage_db, monkeypatch):
    at = open_app(review_stage_db, monkeypatch)
    at.switch_page("views/oversight.py").run()
    assert not at.exception
    tiles = {m.label: m.value for m in at.metric}
    # 2 verdicts, both "accepted": false -> 2/2
    assert tiles["Rejection rate"] == fmt.pct(1.0) and tiles["No model decision"] == "0"
    assert "a second reviewer rejected 2 of 2 annotations" in "\n".join(c.value for c in at.caption)


def test_audit_trail_names_a_missing_model_decision(annotation_only_db, monkeypatch):
    at = open_app(annotation_only_db, monkeypatch)
    at.switch_page("views/audit_trail.py").run()
    facts = "\n".join(m.value for m in at.markdown)
    assert "**" + md("none (annotation-only)") + "**" in facts, facts
    assert "**None**" not in facts
