"""Re-ingesting a file adds nothing, to the quarantine either (issue 15: CLI 4 -> 8, upload 44 -> 84)."""
from __future__ import annotations

from hitlgov import store
from hitlgov.ingest.pipeline import ingest_path

LOG = """case_id,ts,model_decision,reviewer_id,human_decision
c1,2026-01-05T09:00:00,approve,,
c2,not a time,approve,,
c3,2026-01-06T09:00:00,,,
c4,2026-01-07T09:00:00,approve,,decline
c1,2026-01-05T09:00:00,decline,,
"""


def _quarantine(con) -> list[tuple]:
    return con.execute("SELECT row_number, field, reason FROM quarantine ORDER BY row_number, reason").fetchall()


def test_the_same_file_twice_keeps_one_copy_of_its_quarantined_rows(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text(LOG)
    with store.connect(tmp_path / "s.duckdb") as con:
        first = ingest_path(con, log)
        before = _quarantine(con)
        second = ingest_path(con, log)
        after = _quarantine(con)
        runs = con.execute("SELECT count(*) FROM ingestion_runs").fetchall()[0][0]
    assert first.quarantined == 4 and len(before) == 4  # time, missing decision, decision without reviewer, conflict
    assert (second.stored, second.duplicates, second.quarantined) == (0, 1, 4)  # counts still add up to rows read
    assert after == before and runs == 2


def test_a_different_file_with_the_same_bad_rows_is_quarantined(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(LOG)
    b.write_text(LOG + "c9,2026-01-09T09:00:00,approve,,\n")  # other bytes: its rows are its own evidence
    with store.connect(tmp_path / "s.duckdb") as con:
        ingest_path(con, a)
        ingest_path(con, b)
        rows = con.execute("SELECT count(*) FROM quarantine").fetchall()[0][0]
    assert rows == 8
