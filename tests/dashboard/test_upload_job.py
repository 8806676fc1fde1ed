"""Uploads are ingested outside the request (issue 14): the Data page keeps the file, starts a
worker process with a job record, shows its progress and its result on a later run -- also in a
new session (a reloaded page) -- refuses a second upload while one runs, and cleans up on failure."""
from __future__ import annotations

import fcntl
import json
import os
import re
from pathlib import Path

import duckdb
from streamlit.testing.v1 import AppTest

import dashboard_helpers as helpers
from hitlgov import store
from hitlgov.ingest import jobs

GOOD = b"case_id,ts,model_decision\nc1,2026-01-01,approve\nc2,2026-01-02,decline\nc2,2026-01-02,approve\n"


def shown(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def open_data_page(db: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("HITLGOV_DB", str(db))
    at = AppTest.from_file(str(helpers.APP_FILE), default_timeout=90)
    at.run()
    at.switch_page("views/data_page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def submit(at: AppTest, name: str, content: bytes) -> AppTest:
    at.file_uploader(key="up_log").set_value((name, content, "text/csv"))
    next(b for b in at.form_submit_button if b.label == "Ingest").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def uploaded_files(db: Path) -> list[str]:
    folder = db.parent / "uploads"
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def empty_store(tmp_path: Path) -> Path:
    db = tmp_path / "store.duckdb"
    with store.connect(db):
        pass
    return db


def test_upload_runs_in_the_background_and_its_result_survives_a_reload(tmp_path, monkeypatch):
    db = empty_store(tmp_path)
    at = submit(open_data_page(db, monkeypatch), "log.csv", GOOD)
    job = helpers.finished_upload(db)
    assert job["state"] == "done" and job["result"]["rows_read"] == 3, job
    assert (job["result"]["stored"], job["result"]["quarantined"]) == (2, 1)  # c2 disagrees with itself
    assert job["actor"].startswith("single-user:")  # the signed-in actor, not the worker's OS user
    at.run()
    [ok] = [shown(s.value) for s in at.success if "Ingested" in s.value]
    assert re.fullmatch(r"Ingested \*\*log\.csv\*\* \(upload of \d{4}-\d\d-\d\d \d\d:\d\d UTC\): 3 rows read in "
                        r"\d+\.\d s\.", ok), ok
    tiles = {m.label: m.value for m in at.metric}
    assert (tiles["Stored"], tiles["Duplicates"], tiles["Quarantined"]) == ("2", "0", "1")
    # a reloaded page (a new session) finds the same result on disk
    again = open_data_page(db, monkeypatch)
    assert [s.value for s in again.success if "Ingested" in s.value] == [at.success[0].value]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT case_id FROM cases ORDER BY 1").fetchall() == [("c1",), ("c2",)]
        assert con.execute("SELECT actor FROM audit_events WHERE kind = 'ingestion'").fetchall() == [(job["actor"],)]
    [kept] = uploaded_files(db)
    assert kept.endswith("-log.csv") and (db.parent / "uploads" / kept).read_bytes() == GOOD


def test_a_second_upload_is_refused_while_one_runs(tmp_path, monkeypatch):
    db = empty_store(tmp_path)
    folder = jobs.jobs_dir(db)
    folder.mkdir(parents=True)
    # a running job: its record, and its worker's lock (held here)
    (folder / "20261202T000000000000-aaaa.json").write_text(json.dumps(
        {"id": "20261202T000000000000-aaaa", "state": "running", "stage": "reading", "name": "big.csv",
         "started_at": "2026-12-02T00:00:00", "path": str(tmp_path / "uploads" / "big.csv")}))
    fd = os.open(folder / "20261202T000000000000-aaaa.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        at = submit(open_data_page(db, monkeypatch), "second.csv", GOOD)
        [progress] = at.get("progress")
        assert "Ingesting big.csv in the background: reading" in shown(progress.proto.text)
        [warning] = [shown(w.value) for w in at.warning]
        assert warning == ("Not started: another upload (big.csv, started 2026-12-02 00:00 UTC) is being ingested "
                           "into this store; wait until it has finished, then upload again.")
        assert uploaded_files(db) == []                       # the refused upload is not kept
        assert jobs.latest(db)["name"] == "big.csv"
    finally:
        os.close(fd)
    # its worker is gone (lock released): the job reads as failed, not running forever
    at.run()
    [error] = [shown(e.value) for e in at.error]
    assert error.startswith("Nothing was ingested from big.csv") and "stopped unexpectedly" in error


def test_a_failed_upload_is_shown_and_leaves_nothing_behind(tmp_path, monkeypatch):
    db = empty_store(tmp_path)
    with duckdb.connect(str(db), read_only=True) as con:
        before = con.execute("SELECT count(*) FROM ingestion_runs").fetchall()
    at = submit(open_data_page(db, monkeypatch), "[x](http://e).csv", b"case_id,ts,model_decision,_row\nc1,2026-01-01,a,7\n")
    job = helpers.finished_upload(db)
    assert job["state"] == "failed" and "uses a name reserved" in job["error"] and "\n" not in job["error"]
    at.run()
    [error] = [e.value for e in at.error]
    assert "\\[x\\]\\(http" in error and "uses a name reserved" in shown(error)
    assert uploaded_files(db) == []
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ingestion_runs").fetchall() == before


def test_a_broken_mapping_is_refused_at_once(tmp_path, monkeypatch):
    db = empty_store(tmp_path)
    at = open_data_page(db, monkeypatch)
    at.file_uploader(key="up_mapping").set_value(("m.yaml", b"columns: [unclosed\n", "application/yaml"))
    at = submit(at, "log.csv", GOOD)
    [error] = [shown(e.value) for e in at.error]
    assert error.startswith("Nothing was ingested: ") and "\n" not in error
    assert jobs.latest(db) is None and uploaded_files(db) == []
    assert [p.name for p in jobs.jobs_dir(db).iterdir()] == []  # the mapping copy is gone too
