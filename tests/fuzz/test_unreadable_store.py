"""Every read path survives whatever a store already holds (issue 14: "one accepted date bricks
the store"). A store written before the plausible-range check may hold year 10000, BC dates,
0001-01-01 and review seconds of 1e308; they are inserted here directly, as such a store would
hold them (with the integer case keys migration 9 gives every stored row), and every read path
must still answer -- with the implausible rows left out."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

import dashboard_helpers as helpers
from hitlgov import store
from hitlgov.cli import app
from hitlgov.ingest.pipeline import ingest_path

LOG = ("case_id,ts,model_decision,model_score,reviewer_id,human_decision,review_seconds\n"
       "c1,2026-01-05T09:00:00,approve,0.9,r1,approve,30\n"
       "c2,2026-02-06T09:00:00,decline,0.2,r1,approve,40\n"
       "c3,2026-03-07T09:00:00,approve,0.7,,,\n")
BAD_TS = ["10000-01-01", "294246-12-31", "0044-03-15 (BC)", "0001-01-01", "2262-04-12"]


#: what the read window leaves out of bad_db (see the fixture)
HIDDEN = {"rows": 5, "cases": 5, "review_times": 1, "review_seconds": 1, "window": {"from": "1970-01-01", "until": "2262-01-01"}}

REVIEW_COLUMNS = ("system, case_id, reviewer_id, human_decision, review_started_at, review_completed_at, "
                  "review_seconds, escalated, rationale, run_id, source_row, case_key")


@pytest.fixture(scope="module")
def bad_db(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("unreadable")
    (folder / "log.csv").write_text(LOG)
    db = folder / "store.duckdb"
    with store.connect(db) as con:
        ingest_path(con, folder / "log.csv")
        for i, ts in enumerate(BAD_TS):
            con.execute("INSERT INTO cases (system, case_id, ts, model_version, model_decision, model_score, "
                        "final_decision, outcome, run_id, source_row, case_key) "
                        "VALUES ('default', ?, ?::TIMESTAMP, NULL, 'approve', 0.5, NULL, NULL, 1, ?, ?)",
                        [f"bad{i}", ts, 100 + i, 1000 + i])
            con.execute(f"INSERT INTO reviews ({REVIEW_COLUMNS}) VALUES ('default', ?, 'r2', 'decline', ?::TIMESTAMP, ?::TIMESTAMP, "
                        "1e308, false, NULL, 1, ?, ?)", [f"bad{i}", ts, ts, 100 + i, 1000 + i])
        # a plausible case whose review times are not
        con.execute(f"INSERT INTO reviews ({REVIEW_COLUMNS}) VALUES ('default', 'c3', 'r3', 'decline', TIMESTAMP '10000-01-01', "
                    "TIMESTAMP '10000-01-02', 1e308, false, NULL, 1, 3, "
                    "(SELECT case_key FROM cases WHERE case_id = 'c3'))")
    return db


def test_cli_read_paths_answer_and_leave_the_implausible_rows_out(bad_db):
    runner = CliRunner()
    status = runner.invoke(app, ["status", "--db", str(bad_db)])
    assert status.exit_code == 0 and "Traceback" not in status.output, status.output
    # what the window leaves out is counted, not silently omitted: the five cases with their five
    # reviews; on c3 (shown), r3's year-10000 times and its 1e308 seconds read as missing
    assert ("not shown: 5 stored rows (5 cases) have timestamps outside 1970-2262 and are not shown; 1 review "
            "time(s) outside 1970-2262 and 1 review duration(s) over one year are read as missing") in \
        " ".join(status.output.split()), status.output
    assert json.loads(runner.invoke(app, ["status", "--json", "--db", str(bad_db)]).output)["outside_read_window"] == \
        HIDDEN
    result = runner.invoke(app, ["metrics", "--json", "--db", str(bad_db)])
    assert result.exit_code == 0, result.output
    m = json.loads(result.output)
    assert m["counts"]["cases"] == 3 and m["counts"]["reviews"] == 3           # c1, c2 + r3 on c3
    assert m["data_quality"]["retention"]["covered_from"] == "2026-01-05"      # not 0001-01-01
    assert m["oversight"]["review_seconds_median"] == 35.0                      # 1e308 read as missing
    assert m["data_quality"]["outside_read_window"] == HIDDEN                   # the stable key


def test_rows_outside_the_window_are_counted_per_system_and_zero_on_a_clean_store(bad_db, make_store):
    from hitlgov.metrics import inventory
    from hitlgov.metrics.source import Source

    with Source.open(bad_db) as src:
        assert inventory.outside_read_window(src, system="default") == HIDDEN
        assert inventory.outside_read_window(src, system="other")["rows"] == 0
    clean = make_store(LOG)
    with Source.open(clean) as src:
        hidden = inventory.outside_read_window(src)
    assert hidden == {**HIDDEN, "rows": 0, "cases": 0, "review_times": 0, "review_seconds": 0}
    assert inventory.read_window_notice(hidden) is None
    one = {**hidden, "rows": 1, "cases": 1}
    assert inventory.read_window_notice(one).startswith("1 stored row (1 case) has timestamps outside 1970-2262 and is "
                                                        "not shown (written by an older version")


@pytest.mark.parametrize("view, url, title, has_chart", helpers.PAGES, ids=[p[2] for p in helpers.PAGES])
def test_every_dashboard_page_renders(bad_db, monkeypatch, view, url, title, has_chart):
    monkeypatch.setenv("HITLGOV_DB", str(bad_db))
    at = AppTest.from_file(str(helpers.APP_FILE), default_timeout=90)
    at.run()
    at.switch_page(f"views/{view}").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [e.value for e in at.error if "Unexpected error" in e.value]
    if view != "users.py":  # ui.page's notice, on every page that shows data
        notices = [w.value.replace("\\", "") for w in at.warning if "not shown" in w.value]
        assert len(notices) == 1 and notices[0].startswith(
            "5 stored rows (5 cases) have timestamps outside 1970-2262 and are not shown;"), [w.value for w in at.warning]
