"""Readers know when an ingestion is running (issue 14: "ingestion in progress, showing data as of ...").

A real ingestion runs in a subprocess and is held in the middle of staging (its progress callback
waits for a file the test creates), so the checks happen while it is really running -- not a
sleep that hopes to land inside it."""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hitlgov.cli import app
from hitlgov.ingest import running
from ingest_helpers import Held

@pytest.fixture
def store_and_log(make_store, tmp_path):
    db = make_store("case_id,ts,model_decision\nc1,2026-01-01T10:00:00,approve\n")
    log = tmp_path / "more.csv"
    log.write_text("case_id,ts,model_decision\nc2,2026-01-02T10:00:00,approve\nc3,2026-01-03,decline\n")
    return db, log


def test_status_says_an_ingestion_is_running_and_the_time_of_the_data(store_and_log, tmp_path):
    db, log = store_and_log
    runner = CliRunner()
    before = json.loads(runner.invoke(app, ["status", "--json", "--db", str(db)]).output)
    assert before["ingestion_in_progress"] == [] and before["data_as_of"] == before["ingestion_runs"][0]["finished_at"]
    held = Held(db, log, tmp_path)
    try:
        text = runner.invoke(app, ["status", "--db", str(db)])
        assert text.exit_code == 0, text.output
        assert (f"ingestion in progress: more.csv (validating, started " in text.output
                and f"showing data as of {before['data_as_of'][:16].replace('T', ' ')} UTC (the last committed run)"
                in text.output), text.output
        assert "1 cases" in text.output  # the data shown is the committed data
        busy = json.loads(runner.invoke(app, ["status", "--json", "--db", str(db)]).output)
        [record] = busy["ingestion_in_progress"]
        assert (record["file"], record["stage"], record["pid"]) == (str(log), "validating", held.proc.pid)
        assert busy["data_as_of"] == before["data_as_of"] and busy["counts"]["cases"] == 1
    finally:
        held.release()
    after = json.loads(runner.invoke(app, ["status", "--json", "--db", str(db)]).output)
    assert after["ingestion_in_progress"] == [] and after["counts"]["cases"] == 3
    assert after["data_as_of"] > before["data_as_of"]
    assert not running.marker_dir(db).exists()  # the marker folder is gone with the last marker


def test_a_killed_ingestion_does_not_stay_in_progress(store_and_log, tmp_path):
    db, log = store_and_log
    held = Held(db, log, tmp_path)
    assert [r["pid"] for r in running.in_progress(db)] == [held.proc.pid]
    held.proc.send_signal(signal.SIGKILL)
    held.proc.wait(30)
    assert running.in_progress(db) == []            # the kernel released its lock: stale, not running
    assert len(list(running.marker_dir(db).glob("*.json"))) == 1
    with running.running(db, file="next.csv") as marker:  # the next writer removes the stale marker
        marker.stage("reading")
        assert [(Path(r["file"]).name, r["stage"]) for r in running.in_progress(db)] == [("next.csv", "reading")]
        assert len(list(running.marker_dir(db).glob("*.json"))) == 1
    assert running.in_progress(db) == []


def test_stage_changes_are_seen_and_two_runs_are_listed(tmp_path):
    db = tmp_path / "store.duckdb"
    with running.running(db, file="a.csv") as a, running.running(db, file="b.csv", job="j1") as b:
        a.stage("hashing")
        b.stage("storing")
        got = {Path(r["file"]).name: (r["stage"], r["job"], r["pid"]) for r in running.in_progress(db)}
        assert got == {"a.csv": ("hashing", None, os.getpid()), "b.csv": ("storing", "j1", os.getpid())}
        assert running.describe(running.in_progress(db)).startswith("2 ingestions in progress: a.csv (hashing, started ")
    assert running.in_progress(db) == [] and not running.marker_dir(db).exists()


def test_unreadable_marker_folder_reports_nothing_and_never_raises(tmp_path):
    db = tmp_path / "store.duckdb"
    running.marker_dir(db).write_text("not a folder")      # careless: a file where the folder goes
    assert running.in_progress(db) == []
    with running.running(db, file="a.csv") as m:             # the ingestion itself is not stopped by it
        m.stage("reading")
