"""While an ingestion runs, every page keeps working and says so, with the time of the data shown
(issue 14). A real ingestion is held in a subprocess in the middle of staging (and, for the last
test, inside its commit, when the store is write-locked)."""
from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

import dashboard_helpers as helpers
from hitlgov import store
from ingest_helpers import Held

LOG = ("case_id,ts,model_decision,model_score,reviewer_id,human_decision,review_seconds,gender\n"
       "c1,2026-01-05T09:00:00,approve,0.9,r1,approve,30,f\n"
       "c2,2026-02-06T09:00:00,decline,0.2,r1,approve,40,m\n"
       "c3,2026-03-07T09:00:00,approve,0.7,,,,f\n")
BANNER = re.compile(r"Ingestion in progress: more\.csv \(validating, started \d{4}-\d\d-\d\d \d\d:\d\d UTC\); "
                    r"showing data as of \d{4}-\d\d-\d\d \d\d:\d\d UTC \(run 1, the last committed ingestion\)\. "
                    r"The figures change when it is committed\.")


#: a metric page, a page that reads the audit trail, and the Data page (needs_data=False)
PAGES = ("overview.py", "fairness.py", "audit_trail.py", "data_page.py")


def shown(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def render(db, monkeypatch, view: str) -> AppTest:
    monkeypatch.setenv("HITLGOV_DB", str(db))
    at = AppTest.from_file(str(helpers.APP_FILE), default_timeout=60)
    at.run()  # the default page: the Overview
    if view != "overview.py":
        at.switch_page(f"views/{view}").run()
    assert not at.exception, (view, [e.value for e in at.exception])
    return at


@pytest.fixture
def held_store(make_store, tmp_path):
    db = make_store(LOG)
    log = tmp_path / "more.csv"
    log.write_text("case_id,ts,model_decision\nc9,2026-03-09T10:00:00,approve\n")
    return db, log


def test_every_page_says_an_ingestion_is_running_and_drops_it_afterwards(held_store, tmp_path, monkeypatch):
    db, log = held_store
    held = Held(db, log, tmp_path)
    try:
        # the banner is drawn by ui.page, which every page calls: one page per kind of page
        for view in PAGES:
            at = render(db, monkeypatch, view)
            banners = [shown(i.value) for i in at.info if "in progress" in i.value]
            assert len(banners) == 1 and BANNER.fullmatch(banners[0]), (view, banners)
            assert not [e.value for e in at.error], (view, [e.value for e in at.error])
    finally:
        held.release()
    for view in ("overview.py", "data_page.py"):
        at = render(db, monkeypatch, view)
        assert not [i.value for i in at.info if "in progress" in i.value], view


def test_while_the_run_commits_the_page_says_so_instead_of_an_error(held_store, tmp_path, monkeypatch):
    # inside commit() the store is write-locked: a reader waits (shortened here), then is told why
    monkeypatch.setitem(store.connect.__wrapped__.__kwdefaults__, "wait_seconds", 0.3)
    db, log = held_store
    held = Held(db, log, tmp_path, stage="classifying")
    try:
        at = render(db, monkeypatch, "overview.py")
        [banner] = [shown(i.value) for i in at.info if "in progress" in i.value]
        assert banner.startswith("Ingestion in progress: more.csv (classifying, started ")
        assert banner.endswith("the store is being committed to and is locked for a moment; reload this page in a "
                               "few seconds.")
        assert not [e.value for e in at.error if "Start the dashboard" in e.value or "Unexpected" in e.value]
        assert not [i.value for i in at.info if "Start the dashboard" in i.value]
    finally:
        held.release()
    at = render(db, monkeypatch, "overview.py")
    assert not [i.value for i in at.info if "in progress" in i.value] and not at.error
