"""The dashboard refuses a store that does not hold what was ingested, as the CLI and the reports do.

A review row duplicated behind ingestion's back (a direct INSERT into the DuckDB file) breaks
the uniqueness every metric assumes. ``hitlgov metrics`` and ``hitlgov report`` refuse with one
line naming the table and key; every metric page of the dashboard must say the same line,
show no figure and no traceback. The Data page keeps its runs and uploads, with the warning.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

import dashboard_helpers as helpers
from hitlgov import store

pytestmark = pytest.mark.xdist_group("dashboard")
METRIC_PAGES = ["overview.py", "oversight.py", "reviewers.py", "reliance.py", "fairness.py", "drift.py",
                "monitoring.py", "audit_trail.py", "reports.py"]


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """A small demo store, and a copy of it with one review row inserted a second time."""
    from hitlgov import demo
    from hitlgov.ingest.pipeline import ingest_path
    from hitlgov.mapping import load_mapping

    folder = tmp_path_factory.mktemp("untrustworthy")
    demo.generate(folder, cases=1500, seed=3)
    good = folder / "good.duckdb"
    with store.connect(good) as con:
        ingest_path(con, folder / "decisions.csv", mapping=load_mapping(folder / "mapping.yaml"))
    bad = folder / "bad.duckdb"
    shutil.copy(good, bad)
    with duckdb.connect(str(bad)) as con:
        key = con.execute("SELECT system, case_id, reviewer_id FROM reviews ORDER BY case_id, reviewer_id LIMIT 1").fetchall()[0]
        con.execute("INSERT INTO reviews SELECT * FROM reviews WHERE system = ? AND case_id = ? AND reviewer_id = ?",
                    list(key))
    return {"good": good, "bad": bad, "key": "/".join(key)}


def run_page(db: Path, page: str, monkeypatch) -> AppTest:
    monkeypatch.setenv("HITLGOV_DB", str(db))
    at = AppTest.from_file(str(helpers.APP_FILE), default_timeout=90)
    at.run()
    at.switch_page(f"views/{page}").run()
    return at


@pytest.mark.parametrize("page", METRIC_PAGES)
def test_metric_page_refuses_a_store_with_a_duplicated_review(stores, page, monkeypatch):
    at = run_page(stores["bad"], page, monkeypatch)
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    want = f"duplicate row in reviews (2 copies): {stores['key']}"
    assert any(want in e.replace("\\", "") for e in errors), errors
    assert all("Traceback" not in e for e in errors)
    assert not at.metric, "a figure was shown from a store that fails the check"   # no KPI tile
    assert not at.get("plotly_chart")


@pytest.mark.parametrize("page", ["overview.py", "oversight.py"])
def test_the_same_pages_show_figures_on_the_intact_store(stores, page, monkeypatch):
    """The control: the refusal above is caused by the duplicate, not by the page or the store."""
    at = run_page(stores["good"], page, monkeypatch)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.metric or at.get("plotly_chart")


def test_data_page_warns_and_stays_usable(stores, monkeypatch):
    at = run_page(stores["bad"], "data_page.py", monkeypatch)
    assert not at.exception
    assert any("duplicate row in reviews" in e.value.replace("\\", "") for e in at.error)
    assert at.metric  # the store's counts and runs are still shown: that is where one investigates
