"""Upload jobs (issue 14): a worker process per upload, its record on disk, one at a time."""
from __future__ import annotations

import fcntl
import json
import os
import time

import duckdb
import pytest

from hitlgov import store
from hitlgov.ingest import jobs


def wait_done(db, job_id, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = jobs.read(db, job_id)
        if record["state"] != "running":
            return record
        time.sleep(0.05)
    raise AssertionError(jobs.read(db, job_id))


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "store.duckdb"
    with store.connect(path):
        pass
    return path


def test_a_job_ingests_in_its_own_process_and_records_the_result(db, tmp_path):
    upload = tmp_path / "uploads" / "log.csv"
    upload.parent.mkdir()
    upload.write_text("case_id,ts,model_decision\nc1,2026-01-01,a\nc1,2026-01-01,a\nc2,bad,a\n")
    mapping = jobs.jobs_dir(db) / ".m.yaml"
    mapping.parent.mkdir(parents=True)
    mapping.write_text("system: from-mapping\n")
    job_id = jobs.start(db, upload, name="log.csv", mapping_file=mapping, actor="local:ann",
                        overrides={"positive_label": "a"})
    record = wait_done(db, job_id)
    assert record["state"] == "done" and record["stage"] == "done" and record["error"] is None
    assert {k: record["result"][k] for k in ("rows_read", "stored", "duplicates", "quarantined")} == \
        {"rows_read": 3, "stored": 1, "duplicates": 1, "quarantined": 1}
    assert not mapping.exists() and upload.exists()          # the mapping copy is gone, the evidence kept
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT system, positive_label FROM systems").fetchall() == [("from-mapping", "a")]
        assert con.execute("SELECT actor FROM audit_events WHERE kind = 'ingestion'").fetchall() == [("local:ann",)]
    assert jobs.latest(db)["id"] == job_id and jobs.running_job(db) is None


def test_a_failed_job_removes_its_upload_and_says_why_in_one_line(db, tmp_path):
    upload = tmp_path / "bad.csv"
    upload.write_bytes(b"\x00\x01\x02binary")
    record = wait_done(db, jobs.start(db, upload, name="bad.csv"))
    assert record["state"] == "failed" and "\n" not in record["error"] and "binary content" in record["error"]
    assert not upload.exists()


def test_one_upload_at_a_time_and_a_dead_worker_reads_as_failed(db, tmp_path):
    folder = jobs.jobs_dir(db)
    folder.mkdir(parents=True)
    upload = tmp_path / "big.csv"
    upload.write_text("case_id,ts,model_decision\n")
    (folder / "20260101T000000000000-abcd.json").write_text(json.dumps(
        {"id": "20260101T000000000000-abcd", "state": "running", "name": "big.csv", "path": str(upload),
         "started_at": "2026-01-01T00:00:00"}))
    fd = os.open(folder / "20260101T000000000000-abcd.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)                         # its worker, alive
    try:
        with pytest.raises(jobs.UploadBusy, match=r"^another upload \(big\.csv, started 2026-01-01 00:00 UTC\) is "
                                                  r"being ingested into this store; wait until it has finished"):
            jobs.start(db, tmp_path / "second.csv", name="second.csv")
        assert [p.name for p in folder.glob("*.json")] == ["20260101T000000000000-abcd.json"]
    finally:
        os.close(fd)                                       # the worker dies without recording an end
    record = jobs.latest(db)
    assert record["state"] == "failed" and "stopped unexpectedly" in record["error"]
    assert not upload.exists()                             # nothing was stored from it: its upload goes
    assert json.loads((folder / "20260101T000000000000-abcd.json").read_text())["state"] == "failed"


@pytest.mark.parametrize("job_id", ["../../etc/passwd", "", "a/b", "x.json"])
def test_job_ids_from_outside_cannot_name_other_files(db, job_id):
    assert jobs.read(db, job_id) is None


def test_a_worker_that_died_after_its_commit_reads_as_done_and_keeps_the_upload(db, tmp_path):
    upload = tmp_path / "log.csv"
    upload.write_text("case_id,ts,model_decision\nc1,2026-01-01,a\n")
    from hitlgov.ingest.pipeline import ingest_path

    with store.connect(db) as con:                      # what the worker committed before it was killed
        ingest_path(con, upload)
    folder = jobs.jobs_dir(db)
    folder.mkdir(parents=True)
    (folder / "20260101T000000000000-beef.json").write_text(json.dumps(
        {"id": "20260101T000000000000-beef", "state": "running", "name": "log.csv", "path": str(upload),
         "db": str(db), "started_at": "2026-01-01T00:00:00"}))
    record = jobs.latest(db)
    assert record["state"] == "done" and (record["result"]["rows_read"], record["result"]["stored"]) == (1, 1)
    assert upload.exists()
