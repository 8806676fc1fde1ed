"""The upload on the Data page under hostile and careless input (issues 11 and 14): one-line
errors shown as text, the store unchanged, nothing left behind in ``uploads/``."""
from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb
import pandas as pd
from streamlit.testing.v1 import AppTest

import dashboard_helpers as helpers
from hitlgov import store
from hitlgov.ingest import jobs
from hitlgov.ingest.service import register_in_place


def open_data_page(db: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("HITLGOV_DB", str(db))
    at = AppTest.from_file(str(helpers.APP_FILE), default_timeout=90)
    at.run()
    at.switch_page("views/data_page.py").run()
    return at


def upload(at: AppTest, name: str, content: bytes) -> AppTest:
    at.file_uploader(key="up_log").set_value((name, content, "text/csv"))
    next(b for b in at.form_submit_button if b.label == "Ingest").click()
    at.run()
    db = Path(os.environ["HITLGOV_DB"])
    if jobs.latest(db) is not None:  # started: ingested in a worker process; its result shows on the next run
        helpers.finished_upload(db)
        at.run()
    return at


def files(folder: Path) -> list[Path]:
    """The kept uploads (the job records live in uploads/jobs/)."""
    return [p for p in folder.glob("*") if p.is_file()]


def shown(markdown: str) -> str:
    """The text a reader sees: Markdown escapes removed."""
    return re.sub(r"\\(.)", r"\1", markdown)


def tables(db: Path) -> dict:
    """Every stored table's rows -- but the result cache, which holds derived figures only (the
    pages the test opens may cache what they computed; dropping it loses nothing)."""
    with duckdb.connect(str(db), read_only=True) as con:
        names = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE table_name <> 'result_cache' "
                                           "ORDER BY 1").fetchall()]
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in names}


def test_upload_into_an_in_place_store_shows_the_one_line_refusal(tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    lake.mkdir()
    pd.DataFrame({"case_id": ["c1"], "ts": [pd.Timestamp("2026-01-01")], "model_decision": ["approve"]}).to_parquet(
        lake / "part.parquet")
    db = tmp_path / "served.duckdb"
    register_in_place(db, [str(lake / "*.parquet")])
    before = tables(db)
    at = upload(open_data_page(db, monkeypatch), "more.csv", b"case_id,ts,model_decision\nc2,2026-01-02,approve\n")
    assert not at.exception, [e.value for e in at.exception]
    [error] = [shown(e.value) for e in at.error]
    assert "serves in-place Parquet; copied and in-place data cannot be mixed" in error and "\n" not in error
    assert tables(db) == before
    assert not files(db.parent / "uploads")


def test_failed_upload_leaves_nothing_and_markup_stays_text(tmp_path, monkeypatch):
    db = tmp_path / "store.duckdb"
    with store.connect(db):
        pass
    before = tables(db)
    at = upload(open_data_page(db, monkeypatch), "log.csv", b"case_id,ts,model_decision,_row\nc1,2026-01-01,approve,7\n")
    assert not at.exception, [e.value for e in at.exception]
    [error] = [e.value for e in at.error]
    assert "uses a name reserved" in shown(error) and shown(error).startswith("Nothing was ingested from log.csv")
    assert tables(db) == before
    assert not files(db.parent / "uploads")
    # a file name carrying Markdown is shown as text in the success message
    at = upload(at, "[click](http://evil)*x*.csv", b"case_id,ts,model_decision\nc1,2026-01-01,approve\n")
    [ok] = [e.value for e in at.success if "Ingested" in e.value]
    assert "\\[click\\]\\(http" in ok and "[click](http" not in ok
    assert shown(ok).startswith("Ingested **[click](http://evil)*x*.csv** (upload of ") and "): 1 rows read" in ok
    assert len(files(db.parent / "uploads")) == 1
